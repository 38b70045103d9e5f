/**
 * Where a proxy's TCP clients reach the TCP service ports it may call: the
 * addresses and ports its outbound side must recognise, with each claimed
 * once. Pure; translate.ts turns them into listeners, chains and clusters.
 *
 * A destination is claimed by the first service port that names it, in
 * service key order: the model already refuses two services on one
 * ClusterIP and port (model/resolve/address-claims.ts); a pod behind two
 * TCP services on one targetPort (both select it) is reached, when dialled
 * directly, through the first. Envoy refuses a listener with two filter
 * chains of one match, so a second claim is left out, never emitted.
 */
import type { MeshService, ServicePort, TcpRouteBackend } from '../model/types.ts';
import { directClusterName, outboundClusterName, outboundTcpChainName, outboundTcpListenerName, TCP_ROUTE_REFUSED } from './names.ts';
import type { ProxyContext } from './proxy.ts';
import type { TcpDestination, TcpTarget } from './tcp-listeners.ts';

export interface TcpPort {
  service: MeshService;
  port: ServicePort;
}

/** The ports of these services that may carry TCP (declared `tcp`, or undeclared: detect.ts), in service then port order. */
export function tcpPorts(services: readonly MeshService[]): TcpPort[] {
  return services.flatMap((service) => service.ports.filter((p) => p.protocol === 'tcp' || p.protocol === 'auto').map((port) => ({ service, port })));
}

/**
 * Where a connection to this service port goes: the port's own cluster, or,
 * with a TCPRoute on the port, its backends' clusters by weight; the share
 * of backends that do not exist goes to `TCP_ROUTE_REFUSED` (no endpoints:
 * the connection is closed), as the spec's 500 for HTTP.
 */
export function tcpTarget(s: MeshService, p: ServicePort): TcpTarget {
  return p.tcpRoute ? backendsTarget(p.tcpRoute.backends) : outboundClusterName(s.namespace, s.name, p.port);
}

/** A TCPRoute's or TLSRoute's backends as a tcp_proxy target (mesh or gateway): each backend's own cluster, by weight. */
export function backendsTarget(backends: readonly TcpRouteBackend[]): TcpTarget {
  const found = backends.filter((b) => b.found).map((b) => ({ name: outboundClusterName(b.namespace, b.name, b.port), weight: b.weight }));
  const missing = backends.reduce((n, b) => n + (b.found ? 0 : b.weight), 0);
  const target = missing > 0 ? [...found, { name: TCP_ROUTE_REFUSED, weight: missing }] : found;
  if (target.length === 0) return TCP_ROUTE_REFUSED;
  return target.length === 1 ? target[0]!.name : target;
}

/** Whether a listener or chain sends some connections to `TCP_ROUTE_REFUSED` (the proxy then needs that cluster). */
export function refusesSome(target: TcpTarget): boolean {
  return typeof target === 'string' ? target === TCP_ROUTE_REFUSED : target.some((c) => c.name === TCP_ROUTE_REFUSED);
}

export interface ExplicitTcpListener {
  name: string;
  port: number;
  cluster: TcpTarget;
  idleMs?: number;
  /** Undeclared port: HTTP detected first. */
  detect: boolean;
}

/**
 * Explicit mode: the port numbers a local listener on the outbound address
 * cannot have: the outbound listener's, and, on the same address, the
 * workload's own inbound listeners and its application's ports
 * (trellis.app_ports) — Envoy could not bind them.
 */
export function heldPorts(proxy: ProxyContext): Set<number> {
  const taken = new Set<number>([proxy.outbound.port]);
  if (proxy.inboundAddress === proxy.outbound.address) for (const p of proxy.workload?.servedPorts ?? []) taken.add(p.port);
  if (proxy.appAddress === proxy.outbound.address) for (const p of proxy.appPorts.values()) taken.add(p);
  return taken;
}

/**
 * Explicit mode: a listener on the outbound address at each TCP service
 * port. A port number already taken (by an earlier service, the outbound
 * listener, or, on the same address, one of the workload's own inbound
 * listeners or its application's ports) gets none: that service is
 * reachable in transparent mode only.
 */
export function explicitTcpListeners(ports: readonly TcpPort[], proxy: ProxyContext): ExplicitTcpListener[] {
  const taken = heldPorts(proxy);
  const out: ExplicitTcpListener[] = [];
  for (const { service: s, port: p } of ports) {
    if (taken.has(p.port)) continue;
    taken.add(p.port);
    const idleMs = p.policy?.timeouts?.idleMs;
    out.push({ name: outboundTcpListenerName(s.namespace, s.name, p.port), port: p.port, cluster: tcpTarget(s, p), ...(idleMs !== undefined ? { idleMs } : {}), detect: p.protocol === 'auto' });
  }
  return out;
}

/**
 * Transparent mode: the original destinations of each TCP service port —
 * its ClusterIP and port (to the load-balanced cluster, or the port's
 * TCPRoute: `tcpTarget`) and its endpoints' addresses and ports (to the pod
 * dialled, `directCluster`: a client that names one pod means that pod, as
 * HTTP routes do not apply to a pod's own address either). `direct` lists
 * the ports whose direct cluster a chain names.
 */
export function transparentTcpDestinations(ports: readonly TcpPort[]): { chains: TcpDestination[]; direct: TcpPort[] } {
  const claimed = new Set<string>();
  const claim = (address: string, port: number) => {
    const k = `${address} ${port}`;
    if (claimed.has(k)) return false;
    claimed.add(k);
    return true;
  };
  const chains: TcpDestination[] = [];
  const direct: TcpPort[] = [];
  for (const tp of ports) {
    const { service: s, port: p } = tp;
    const idle = { ...(p.policy?.timeouts?.idleMs !== undefined ? { idleMs: p.policy.timeouts.idleMs } : {}), ...(p.protocol === 'auto' ? { detect: true } : {}) };
    if (s.clusterIP && s.clusterIP !== 'None' && claim(s.clusterIP, p.port)) {
      chains.push({ name: outboundTcpChainName(s.namespace, s.name, p.port), addresses: [s.clusterIP], port: p.port, cluster: tcpTarget(s, p), ...idle });
    }
    const byPort = new Map<number, string[]>();
    for (const ep of p.endpoints) {
      if (!claim(ep.address, ep.port)) continue;
      const list = byPort.get(ep.port);
      if (list) list.push(ep.address);
      else byPort.set(ep.port, [ep.address]);
    }
    for (const [epPort, addresses] of [...byPort].sort((a, b) => a[0] - b[0])) {
      chains.push({ name: outboundTcpChainName(s.namespace, s.name, p.port, epPort), addresses, port: epPort, cluster: directClusterName(s.namespace, s.name, p.port), ...idle });
    }
    if (byPort.size > 0) direct.push(tp);
  }
  return { chains, direct };
}
