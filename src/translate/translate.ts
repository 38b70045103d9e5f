/**
 * model + one proxy -> the Envoy resources it should hold. Pure: no I/O, no
 * clock, no randomness; input is never mutated.
 *
 * Builders are memoized on their inputs (see memo.ts) so that unchanged
 * pieces come back as the *same objects*: the cache then finds their encoded
 * bytes by identity, and a change costs work for what it touched only.
 */
import type { AccessRule, MeshModel, MeshService, ServicePort, Workload } from '../model/types.ts';
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from '../xds/envoy-types.ts';
import { clusterLoadAssignment } from './endpoints.ts';
import { inboundCluster, outboundCluster, passthroughCluster } from './cluster.ts';
import { apiListener, inboundListener, outboundListener, transparentInboundListener, type InboundChain } from './listeners.ts';
import { Memo } from './memo.ts';
import {
  INBOUND_LISTENER,
  inboundClusterName,
  inboundFilterChainName,
  inboundListenerName,
  OUTBOUND_LISTENER,
  OUTBOUND_ROUTE,
  outboundClusterName,
  PASSTHROUGH_CLUSTER,
  proxylessListenerName,
  zonalEndpointsName,
  serviceFqdn,
  upstreamSni,
} from './names.ts';
import type { ProxyContext } from './proxy.ts';
import { rbacFilter } from './rbac.ts';
import { httpPorts, outboundRouteConfiguration } from './routes.ts';
import { INBOUND_PORT } from './sidecar.ts';
import { scopeOf } from './signature.ts';

export interface ProxyResources {
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
  listeners: Listener[];
  routes: RouteConfiguration[];
  /** SPIFFE IDs whose certificate this proxy needs (its own), for the CA/SDS side. */
  identities: string[];
}

export class Translator {
  /** Memo tables survive across model versions; entries unused in a generation are dropped. */
  private readonly clusters = new Memo<Cluster>();
  private readonly endpoints = new Memo<ClusterLoadAssignment>();
  private readonly routes = new Memo<RouteConfiguration>();
  private readonly listeners = new Memo<Listener>();

  /** Call after translating every proxy for a model version: forget what nobody used. */
  sweep(): void {
    this.clusters.sweep();
    this.endpoints.sweep();
    this.routes.sweep();
    this.listeners.sweep();
  }

  translate(model: MeshModel, proxy: ProxyContext): ProxyResources {
    const scope = scopeOf(model, proxy);
    const services = scope.services;
    const envoy = proxy.kind === 'envoy';
    const own = envoy ? proxy.workload?.identity : undefined;
    const out: ProxyResources = { clusters: [], endpoints: [], listeners: [], routes: [], identities: own ? [own] : [] };

    for (const s of services) {
      for (const p of httpPorts(s)) {
        const name = outboundClusterName(s.namespace, s.name, p.port);
        // Sidecars with an identity speak mTLS upstream; the same cluster object serves every such caller.
        const tls = own ? { peerIdentities: s.identities, sni: upstreamSni(s.namespace, s.name) } : undefined;
        const policy = clusterPolicy(model, s, p);
        const edsName = policy?.locality?.mode === 'PreferSameZone' && proxy.zone ? zonalEndpointsName(name, proxy.zone) : undefined;
        out.clusters.push(this.clusters.get([name, p.protocol, policy, tls, edsName], () => outboundCluster({ name, port: p, policy, tls, edsName })));
        // The endpoint set the cluster names (the publisher shares a mesh-wide one; this is the same content).
        const eds = edsName ?? name;
        out.endpoints.push(this.endpoints.get([eds, p.endpoints], () => clusterLoadAssignment(eds, p.endpoints, edsName ? proxy.zone : undefined)));
      }
    }

    const callerNamespace = proxy.workload?.namespace;
    out.routes.push(
      this.routes.get([OUTBOUND_ROUTE, proxy.kind, callerNamespace, scope.digest], () =>
        outboundRouteConfiguration(model, OUTBOUND_ROUTE, services, { callerNamespace, kind: proxy.kind }),
      ),
    );

    if (envoy) {
      out.listeners.push(
        this.listeners.get([OUTBOUND_LISTENER, proxy.outbound, proxy.mode], () =>
          outboundListener({ name: OUTBOUND_LISTENER, address: proxy.outbound.address, port: proxy.outbound.port, transparent: proxy.mode === 'transparent' }),
        ),
      );
      this.inbound(model, proxy, out);
    } else {
      for (const s of services) {
        for (const p of httpPorts(s)) {
          for (const host of proxylessHosts(s, callerNamespace)) {
            const name = proxylessListenerName(host, p.port);
            out.listeners.push(this.listeners.get([name], () => apiListener(name)));
          }
        }
      }
    }
    // A proxyless client that may call nothing has no listener naming the route configuration.
    if (!out.listeners.some((l) => 'api_listener' in l || l.name === OUTBOUND_LISTENER)) out.routes = [];
    return out;
  }

  /** Explicit: one inbound listener and cluster per service port the workload serves. */
  private inbound(model: MeshModel, proxy: ProxyContext, out: ProxyResources): void {
    const w = proxy.workload;
    if (!w) return;
    const rules = model.mesh.authorization === 'strict' ? (model.accessByDestination.get(w.identity) ?? []) : undefined;
    if (proxy.mode === 'transparent') return this.transparentInbound(model, proxy, w, rules, out);
    const seen = new Set<number>();
    for (const key of w.services) {
      const s = model.services.get(key);
      if (!s) continue;
      for (const p of httpPorts(s)) {
        if (seen.has(p.port)) continue;
        seen.add(p.port);
        const appPort = proxy.appPorts.get(p.port) ?? targetPortNumber(p, w);
        const cluster = inboundClusterName(p.port);
        out.clusters.push(
          this.clusters.get([cluster, proxy.appAddress, appPort, p.protocol], () =>
            inboundCluster({ name: cluster, address: proxy.appAddress, port: appPort, http2: p.protocol === 'grpc' || p.protocol === 'http2' }),
          ),
        );
        const name = inboundListenerName(p.port);
        const ports = [p.port, targetPortNumber(p, w)];
        out.listeners.push(
          // `ports` is a key part: the RBAC filter depends on it, and two workloads with one
          // identity may serve the same port with different targetPorts.
          this.listeners.get([name, proxy.inboundAddress, cluster, rules, ports], () =>
            inboundListener({ name, address: proxy.inboundAddress, port: p.port, cluster, rbac: rules ? rbacFilter(rules, ports) : undefined }),
          ),
        );
      }
    }
  }

  /**
   * Transparent: one listener, `inbound` on 15006, where iptables sends every
   * inbound connection; one filter chain and cluster per port the application
   * listens on (the targetPort: what callers' endpoints name, so the
   * connection's original destination), forwarding to 127.0.0.1:targetPort.
   * The application keeps its ports: a Service's port may equal its targetPort.
   */
  private transparentInbound(model: MeshModel, proxy: ProxyContext, w: Workload, rules: readonly AccessRule[] | undefined, out: ProxyResources): void {
    // targetPort → the service ports that name it (RBAC: a TrafficTarget may give either) and its protocol (the first's).
    const byTarget = new Map<number, { servicePorts: number[]; protocol: ServicePort['protocol'] }>();
    for (const key of w.services) {
      const s = model.services.get(key);
      if (!s) continue;
      for (const p of httpPorts(s)) {
        const target = targetPortNumber(p, w);
        // The listener's own port cannot be a workload port too (Envoy holds it).
        if (target === INBOUND_PORT) continue;
        const seen = byTarget.get(target);
        if (!seen) byTarget.set(target, { servicePorts: [p.port], protocol: p.protocol });
        else if (!seen.servicePorts.includes(p.port)) seen.servicePorts.push(p.port);
      }
    }
    const chains: Array<Omit<InboundChain, 'rbac'> & { ports: number[] }> = [];
    for (const [target, { servicePorts, protocol }] of [...byTarget].sort((a, b) => a[0] - b[0])) {
      const cluster = inboundClusterName(target);
      out.clusters.push(
        this.clusters.get([cluster, proxy.appAddress, target, protocol], () =>
          inboundCluster({ name: cluster, address: proxy.appAddress, port: target, http2: protocol === 'grpc' || protocol === 'http2' }),
        ),
      );
      chains.push({ name: inboundFilterChainName(target), port: target, cluster, ports: [...new Set([...servicePorts, target])].sort((a, b) => a - b) });
    }
    out.clusters.push(this.clusters.get([PASSTHROUGH_CLUSTER], () => passthroughCluster(PASSTHROUGH_CLUSTER)));
    out.listeners.push(
      // `chains` carries each chain's RBAC ports: two workloads with one identity may serve one port under different service ports.
      this.listeners.get([INBOUND_LISTENER, proxy.inboundAddress, chains, rules], () =>
        transparentInboundListener({
          name: INBOUND_LISTENER,
          address: proxy.inboundAddress,
          port: INBOUND_PORT,
          chains: chains.map(({ ports, ...c }) => ({ ...c, rbac: rules ? rbacFilter(rules, ports) : undefined })),
          passthroughCluster: PASSTHROUGH_CLUSTER,
        }),
      ),
    );
  }
}

/**
 * The policy for a service port's cluster: its own, else that of a
 * TrafficSplit root it is a backend of. Traffic sent to `recommendation`
 * reaches the clusters of its backends, so circuit breakers, outlier
 * detection and load balancing written for `recommendation` must hold there
 * (first root in key order if a backend serves several).
 */
export function clusterPolicy(model: MeshModel, s: MeshService, p: ServicePort): ServicePort['policy'] {
  return p.policy ?? inheritedPolicies(model).get(`${s.key}:${p.port}`);
}

const inheritedMemo = new WeakMap<MeshModel, Map<string, NonNullable<ServicePort['policy']>>>();

/** Per model, once: backend service port → the policy of the first split root (in key order) that has one. */
function inheritedPolicies(model: MeshModel): Map<string, NonNullable<ServicePort['policy']>> {
  let m = inheritedMemo.get(model);
  if (m) return m;
  m = new Map();
  for (const split of model.splits.values()) {
    const root = model.services.get(split.service);
    for (const b of split.backends) {
      for (const port of b.ports) {
        const policy = root?.ports.find((x) => x.port === port)?.policy;
        const key = `${b.service}:${port}`;
        if (policy && !m.has(key)) m.set(key, policy);
      }
    }
  }
  inheritedMemo.set(model, m);
  return m;
}

/** The port the application listens on: a named targetPort is the workload's container port of that name. */
function targetPortNumber(p: ServicePort, w: Workload): number {
  if (typeof p.targetPort === 'number') return p.targetPort;
  return w.ports.find((c) => c.name === p.targetPort && c.protocol === 'TCP')?.containerPort ?? p.port;
}

/** Host forms a gRPC client may put in `xds:///host:port`. */
function proxylessHosts(s: MeshService, callerNamespace: string | undefined): string[] {
  const hosts = [serviceFqdn(s.namespace, s.name), `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`];
  if (callerNamespace === s.namespace) hosts.push(s.name);
  return hosts;
}
