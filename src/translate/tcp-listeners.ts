/**
 * TCP services (appProtocol tcp and the other opaque declarations,
 * model/kinds/service.ts APP_PROTOCOLS): plain byte streams, proxied by
 * tcp_proxy, carried between sidecars over the same mTLS as HTTP, and
 * authorized in strict mode by the network RBAC filter (SPIFFE principal of
 * the verified client certificate, TCPRoute ports). Pure builders.
 *
 * How a client's connection finds its service (docs/interception.md):
 *   explicit: one listener per TCP service port on the outbound address,
 *     at the service's port (`outbound-tcp:svc.ns:port`);
 *   transparent: filter chains of the `outbound` listener that match the
 *     original destination: the ClusterIP and port (to the service's
 *     cluster, load balanced) and the endpoints' addresses and port (to
 *     that pod, through the service's ORIGINAL_DST `/direct` cluster).
 */
import type { AccessRule, ServicePort, TcpMatch } from '../model/types.ts';
import type { Cluster, Filter, FilterChain, Listener, RbacPolicy } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { durationOf } from './cluster.ts';
import { DETECTED_HTTP, DETECTION_TIMEOUT, httpInspector } from './detect.ts';
import { socketAddress } from './fragments.ts';
import { inboundStatPrefix, plaintextChainName, rbacPolicyName, tcpStatPrefix } from './names.ts';
import { permissiveChains, tlsInspector } from './permissive.ts';
import { downstreamTls, upstreamTls } from './tls.ts';

/** Where a tcp_proxy sends a connection: one cluster, or (a TCPRoute's backends) one of several by weight. */
export type TcpTarget = string | readonly { name: string; weight: number }[];

/** `idleMs`: TrafficPolicy timeouts.idle; without it Envoy's default (1 hour) holds. */
export function tcpProxy(statPrefix: string, target: TcpTarget, idleMs?: number): Filter {
  const to = typeof target === 'string' ? { cluster: target } : { weighted_clusters: { clusters: target.map((c) => ({ name: c.name, weight: c.weight })) } };
  return extension('TcpProxy', { stat_prefix: statPrefix, ...to, ...(idleMs !== undefined ? { idle_timeout: durationOf(idleMs) } : {}) });
}

/**
 * Explicit mode: the application dials `address:port` (the outbound address,
 * the service's port) for this one service port. An undeclared port
 * (`http`: the outbound HTTP connection manager) detects HTTP first (detect.ts).
 */
export function outboundTcpListener(o: { name: string; address: string; port: number; cluster: TcpTarget; idleMs?: number; http?: Filter }): Listener {
  const tcp = tcpProxy(tcpStatPrefix(o.name), o.cluster, o.idleMs);
  const listener: Listener = { name: o.name, address: socketAddress(o.address, o.port), traffic_direction: 'OUTBOUND', filter_chains: [{ filters: [tcp] }] };
  if (!o.http) return listener;
  return {
    ...listener,
    listener_filters: [httpInspector([o.port])],
    listener_filters_timeout: DETECTION_TIMEOUT,
    continue_on_listener_filters_timeout: true,
    filter_chains: [
      { name: 'http', filter_chain_match: { application_protocols: DETECTED_HTTP }, filters: [o.http] },
      { name: 'tcp', filters: [tcp] },
    ],
  };
}

/** Transparent mode: one destination (addresses and port) of a TCP service, for the `outbound` listener. */
export interface TcpDestination {
  /** Chain name (names.ts outboundTcpChainName). */
  name: string;
  addresses: readonly string[];
  port: number;
  cluster: TcpTarget;
  idleMs?: number;
  /** Undeclared: HTTP is detected first (detect.ts) and taken by the outbound HTTP chain. */
  detect?: boolean;
}

function prefixRange(address: string): { address_prefix: string; prefix_len: number } {
  return { address_prefix: address, prefix_len: address.includes(':') ? 128 : 32 };
}

/** A destination's chain; an undeclared one's is doubled: `name/http` for what http_inspector saw as HTTP (`http`, the outbound HTTP connection manager), then `name`. */
export function outboundTcpChains(d: TcpDestination, http: Filter): FilterChain[] {
  const match = { destination_port: d.port, prefix_ranges: d.addresses.map(prefixRange) };
  const tcp: FilterChain = { name: d.name, filter_chain_match: match, filters: [tcpProxy(tcpStatPrefix(d.name), d.cluster, d.idleMs)] };
  if (!d.detect) return [tcp];
  return [{ name: `${d.name}/http`, filter_chain_match: { ...match, application_protocols: DETECTED_HTTP }, filters: [http] }, tcp];
}

/**
 * Transparent mode, a client dialling one pod of the service: that pod
 * (ORIGINAL_DST), over mTLS to the service's identities. The port's
 * connect timeout and circuit breakers hold; load balancing does not apply.
 */
export function directCluster(o: { name: string; port: ServicePort; tls: { peerIdentities: readonly string[]; sni: string } }): Cluster {
  const cb = o.port.clusterPolicy?.circuitBreaker;
  const cluster: Cluster = {
    name: o.name,
    type: 'ORIGINAL_DST',
    lb_policy: 'CLUSTER_PROVIDED',
    connect_timeout: durationOf(o.port.clusterPolicy?.timeouts?.connectMs ?? 1000),
    transport_socket: upstreamTls(o.tls),
  };
  if (cb?.maxConnections !== undefined) cluster.circuit_breakers = { thresholds: [{ priority: 'DEFAULT', max_connections: cb.maxConnections }] };
  return cluster;
}

/** Whether a TCPRoute allows connections to a chain that serves these ports (service ports and targetPort). */
function allows(m: TcpMatch, ports: readonly number[]): boolean {
  return m.ports.length === 0 || m.ports.some((p) => ports.includes(p));
}

/**
 * The network RBAC policies of one TCP port: a TrafficTarget allows its
 * sources when it has no rules, or when one of its TCPRoutes covers the
 * port; HTTPRouteGroup rules never open a TCP port (fail closed).
 */
export function tcpRbacPolicies(rules: readonly AccessRule[], ports: readonly number[]): Record<string, RbacPolicy> {
  const policies: Record<string, RbacPolicy> = {};
  for (const rule of rules) {
    if (rule.destination.port !== undefined && !ports.includes(rule.destination.port)) continue;
    if (rule.tcpRoutes !== undefined && !rule.tcpRoutes.some((m) => allows(m, ports))) continue;
    policies[rbacPolicyName(rule.namespace, rule.name)] = {
      permissions: [{ any: true }],
      principals: rule.sources.map((s) => ({ authenticated: { principal_name: { exact: s.spiffeId } } })),
    };
  }
  return policies;
}

/** ALLOW with the port's policies: a connection no policy allows is closed before a byte reaches the application. */
export function networkRbac(statPrefix: string, rules: readonly AccessRule[], ports: readonly number[]): Filter {
  return extension('NetworkRbac', { stat_prefix: statPrefix, rules: { action: 'ALLOW', policies: tcpRbacPolicies(rules, ports) } });
}

/**
 * Inbound TCP: mTLS terminated (a mesh client certificate required), then in
 * strict mode network RBAC (`rules`; undefined in permissive mode), then the
 * bytes to the application. `name` is the listener's or filter chain's.
 */
export function inboundTcpFilters(o: { name: string; cluster: string; rules?: readonly AccessRule[]; ports: readonly number[] }): Filter[] {
  const prefix = inboundStatPrefix(o.name);
  return [...(o.rules ? [networkRbac(prefix, o.rules, o.ports)] : []), tcpProxy(prefix, o.cluster)];
}

/**
 * The inbound chains of one TCP port: mTLS, and for a Permissive workload
 * (`acceptPlaintext`) its plaintext twin `<name>/plaintext` (permissive.ts)
 * with the same filters: a plaintext connection has no certificate, so in
 * strict mode the network RBAC, whose principals are verified SPIFFE IDs,
 * refuses it; in permissive mode it reaches the application.
 */
export function inboundTcpChains(o: { name: string; cluster: string; rules?: readonly AccessRule[]; ports: readonly number[]; acceptPlaintext?: boolean; match?: FilterChain['filter_chain_match']; named?: boolean }): FilterChain[] {
  const tls: FilterChain = {
    ...(o.named ? { name: o.name } : {}),
    ...(o.match ? { filter_chain_match: o.match } : {}),
    transport_socket: downstreamTls(),
    filters: inboundTcpFilters(o),
  };
  // An unnamed chain's twin stays unnamed (an explicit listener's): their stat prefixes tell them apart.
  return o.acceptPlaintext ? permissiveChains(tls, inboundTcpFilters({ ...o, name: plaintextChainName(o.name) })) : [tls];
}

/** Explicit mode: the inbound listener of one TCP service port (tls_inspector first when it also takes plaintext). */
export function inboundTcpListener(o: { name: string; address: string; port: number; cluster: string; rules?: readonly AccessRule[]; ports: readonly number[]; acceptPlaintext?: boolean }): Listener {
  return {
    name: o.name,
    address: socketAddress(o.address, o.port),
    traffic_direction: 'INBOUND',
    ...(o.acceptPlaintext ? { listener_filters: [tlsInspector()] } : {}),
    filter_chains: inboundTcpChains(o),
  };
}
