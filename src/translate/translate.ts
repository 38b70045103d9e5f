/**
 * model + one proxy -> the Envoy resources it should hold. Pure: no I/O, no
 * clock, no randomness; input is never mutated.
 *
 * Builders are memoized on their inputs (see memo.ts) so that unchanged
 * pieces come back as the *same objects*: the cache then finds their encoded
 * bytes by identity, and a change costs work for what it touched only.
 */
import type { MeshModel, MeshService, ServicePort, Workload } from '../model/types.ts';
import { clusterLoadAssignment } from './endpoints.ts';
import { inboundCluster, outboundCluster } from './cluster.ts';
import { apiListener, inboundListener, outboundListener } from './listeners.ts';
import { Memo } from './memo.ts';
import {
  inboundClusterName,
  inboundListenerName,
  OUTBOUND_LISTENER,
  OUTBOUND_ROUTE,
  outboundClusterName,
  proxylessListenerName,
  serviceFqdn,
} from './names.ts';
import type { ProxyContext } from './proxy.ts';
import { rbacFilter } from './rbac.ts';
import { httpPorts, outboundRouteConfiguration } from './routes.ts';
import { scopeOf } from './signature.ts';

export interface ProxyResources {
  clusters: Record<string, unknown>[];
  endpoints: Record<string, unknown>[];
  listeners: Record<string, unknown>[];
  routes: Record<string, unknown>[];
  /** SPIFFE IDs whose certificate this proxy needs (its own), for the CA/SDS side. */
  identities: string[];
}

export class Translator {
  /** Memo tables survive across model versions; entries unused in a generation are dropped. */
  private readonly clusters = new Memo<Record<string, unknown>>();
  private readonly endpoints = new Memo<Record<string, unknown>>();
  private readonly routes = new Memo<Record<string, unknown>>();
  private readonly listeners = new Memo<Record<string, unknown>>();

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
        const tls = own ? { peerIdentities: s.identities, sni: serviceFqdn(s.namespace, s.name) } : undefined;
        const policy = clusterPolicy(model, s, p);
        out.clusters.push(this.clusters.get([name, p.protocol, policy, tls], () => outboundCluster({ name, port: p, policy, tls })));
        out.endpoints.push(this.endpoints.get([name, p.endpoints], () => clusterLoadAssignment(name, p.endpoints)));
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

  /** One inbound listener and cluster per service port the workload serves. */
  private inbound(model: MeshModel, proxy: ProxyContext, out: ProxyResources): void {
    const w = proxy.workload;
    if (!w) return;
    const rules = model.mesh.authorization === 'strict' ? (model.accessByDestination.get(w.identity) ?? []) : undefined;
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
          // identity (transparent: one address) may serve the same port with different targetPorts.
          this.listeners.get([name, proxy.inboundAddress, cluster, rules, ports], () =>
            inboundListener({ name, address: proxy.inboundAddress, port: p.port, cluster, rbac: rules ? rbacFilter(rules, ports) : undefined }),
          ),
        );
      }
    }
  }
}

/**
 * The policy for a service port's cluster: its own, else that of a
 * TrafficSplit root it is a backend of. Traffic sent to `recommendation`
 * reaches the clusters of its backends, so circuit breakers, outlier
 * detection and load balancing written for `recommendation` must hold there
 * (first root in key order if a backend serves several).
 */
function clusterPolicy(model: MeshModel, s: MeshService, p: ServicePort): ServicePort['policy'] {
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
