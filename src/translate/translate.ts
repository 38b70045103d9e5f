/**
 * model + one proxy -> the Envoy resources it should hold. Pure: no I/O, no
 * clock, no randomness; input is never mutated.
 *
 * Builders are memoized on their inputs (see memo.ts) so that unchanged
 * pieces come back as the *same objects*: the cache then finds their encoded
 * bytes by identity, and a change costs work for what it touched only.
 */
import type { AccessRule, MeshModel, MeshService, ServedPort, Workload } from '../model/types.ts';
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from '../xds/envoy-types.ts';
import { clusterLoadAssignment } from './endpoints.ts';
import { blackholeCluster, catchAllVirtualHost, egressDefaultChain, egressHttpAccessLog, egressListenerFilters, externalChains, externalClusters, externalVirtualHosts, mayReach } from './egress.ts';
import { inboundCluster, outboundCluster, passthroughCluster } from './cluster.ts';
import { apiListener, inboundListener, outboundListener, transparentInboundListener, type InboundChain } from './listeners.ts';
import { Memo, sweepContentKeys } from './memo.ts';
import { proxylessServerListener, proxylessUpstreamTls, serverAddresses } from './proxyless-security.ts';
import {
  EGRESS_BLOCKED,
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
import { inboundRules } from './scope.ts';
import { INBOUND_PORT } from './sidecar.ts';
import { portDigest, scopeOf } from './signature.ts';

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
  private readonly externalClusters = new Memo<Cluster[]>();

  /** Call after translating every proxy for a model version: forget what nobody used. */
  sweep(): void {
    this.clusters.sweep();
    this.endpoints.sweep();
    this.routes.sweep();
    this.listeners.sweep();
    this.externalClusters.sweep();
    sweepContentKeys();
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
        const policy = p.clusterPolicy;
        const edsName = policy?.locality?.mode === 'PreferSameZone' && proxy.zone ? zonalEndpointsName(name, proxy.zone) : undefined;
        // The whole port is in the key (its endpoints excepted: clusters find them by EDS).
        const a29 = proxy.certificateProvider;
        out.clusters.push(
          this.clusters.get([name, portDigest(p), tls, edsName, a29, a29 ? s.identities : undefined], () => {
            const c = outboundCluster({ name, port: p, policy, tls, edsName, ...(p.plaintext ? { plaintext: p.plaintext } : {}) });
            // gRFC A29: a proxyless client's mTLS names its certificate provider instance (not for endpoints without a sidecar).
            return a29 && p.plaintext !== 'all' ? { ...c, transport_socket: proxylessUpstreamTls(a29, s.identities) } : c;
          }),
        );
        // The endpoint set the cluster names (the publisher shares a mesh-wide one; this is the same content).
        const eds = edsName ?? name;
        out.endpoints.push(this.endpoints.get([eds, p.endpoints], () => clusterLoadAssignment(eds, p.endpoints, edsName ? proxy.zone : undefined)));
      }
    }

    const callerNamespace = proxy.workload?.namespace;
    const transparent = envoy && proxy.mode === 'transparent';
    // What egress adds (egress.ts) depends on these; the caller's identity only when some ExternalService exists.
    const egressKey = envoy ? [proxy.mode, model.mesh.egress, model.mesh.authorization, [...model.externalServices.values()], model.externalServices.size > 0 ? own : undefined] : undefined;
    out.routes.push(
      this.routes.get([OUTBOUND_ROUTE, proxy.kind, callerNamespace, scope.digest, egressKey], () => {
        const rc = outboundRouteConfiguration(model, OUTBOUND_ROUTE, services, { callerNamespace, kind: proxy.kind });
        if (!envoy) return rc;
        return { ...rc, virtual_hosts: [...(rc.virtual_hosts ?? []), ...externalVirtualHosts(model, own), ...(transparent ? [catchAllVirtualHost(model.mesh.egress)] : [])] };
      }),
    );

    if (envoy) {
      for (const es of model.externalServices.values()) {
        if (mayReach(model, es, own)) out.clusters.push(...this.externalClusters.get([es], () => externalClusters(es)));
      }
      if (transparent) {
        out.clusters.push(this.clusters.get([PASSTHROUGH_CLUSTER], () => passthroughCluster(PASSTHROUGH_CLUSTER)));
        out.clusters.push(this.clusters.get([EGRESS_BLOCKED], () => blackholeCluster()));
      }
      out.listeners.push(
        this.listeners.get([OUTBOUND_LISTENER, proxy.outbound, egressKey], () =>
          outboundListener({
            name: OUTBOUND_LISTENER,
            address: proxy.outbound.address,
            port: proxy.outbound.port,
            transparent,
            ...(transparent
              ? { egress: { chains: externalChains(model, own), defaultChain: egressDefaultChain(model.mesh.egress), listenerFilters: egressListenerFilters(), accessLog: egressHttpAccessLog() } }
              : {}),
          }),
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
      this.proxylessServer(model, proxy, out);
    }
    // A proxyless client that may call nothing has no listener naming the route configuration.
    if (!out.listeners.some((l) => 'api_listener' in l || l.name === OUTBOUND_LISTENER)) out.routes = [];
    return out;
  }

  /** gRFC A36/A29/A41: the listeners an xDS-enabled gRPC server of this workload asks for, with mTLS and RBAC. */
  private proxylessServer(model: MeshModel, proxy: ProxyContext, out: ProxyResources): void {
    const w = proxy.workload;
    const provider = proxy.certificateProvider;
    if (!w || !provider) return;
    const rules = inboundRules(model, w);
    const seen = new Set<number>();
    for (const p of w.servedPorts) {
      if (p.protocol !== 'grpc' || seen.has(p.targetPort)) continue;
      seen.add(p.targetPort);
      const ports = [...new Set(w.servedPorts.filter((q) => q.targetPort === p.targetPort).map((q) => q.port).concat(p.targetPort))];
      for (const address of serverAddresses(w.ip)) {
        out.listeners.push(
          this.listeners.get(['proxyless-server', address, p.targetPort, provider, rules, ports], () =>
            proxylessServerListener({ address, port: p.targetPort, provider, ...(rules ? { rbac: rbacFilter(rules, ports) } : {}) }),
          ),
        );
      }
    }
  }

  /** Explicit: one inbound listener and cluster per service port the workload serves. */
  private inbound(model: MeshModel, proxy: ProxyContext, out: ProxyResources): void {
    const w = proxy.workload;
    if (!w) return;
    const rules = inboundRules(model, w);
    // As for routes (routes.ts httpPorts): plain TCP ports get no HTTP listener.
    const served = w.servedPorts.filter((p) => p.protocol !== 'tcp');
    if (proxy.mode === 'transparent') return this.transparentInbound(proxy, w, served, rules, out);
    const seen = new Set<number>();
    for (const p of served) {
      if (seen.has(p.port)) continue;
      seen.add(p.port);
      const appPort = proxy.appPorts.get(p.port) ?? p.targetPort;
      const cluster = inboundClusterName(p.port);
      out.clusters.push(
        this.clusters.get([cluster, proxy.appAddress, appPort, p.protocol], () =>
          inboundCluster({ name: cluster, address: proxy.appAddress, port: appPort, http2: p.protocol === 'grpc' || p.protocol === 'http2' }),
        ),
      );
      const name = inboundListenerName(p.port);
      const ports = [p.port, p.targetPort];
      out.listeners.push(
        // `ports` is a key part: the RBAC filter depends on it, and two workloads with one
        // identity may serve the same port with different targetPorts.
        this.listeners.get([name, proxy.inboundAddress, cluster, rules, ports, w.mtls], () =>
          inboundListener({ name, address: proxy.inboundAddress, port: p.port, cluster, rbac: rules ? rbacFilter(rules, ports) : undefined, acceptPlaintext: w.mtls === 'permissive' }),
        ),
      );
    }
  }

  /**
   * Transparent: one listener, `inbound` on 15006, where iptables sends every
   * inbound connection; one filter chain and cluster per port the application
   * listens on (the targetPort: what callers' endpoints name, so the
   * connection's original destination), forwarding to 127.0.0.1:targetPort.
   * The application keeps its ports: a Service's port may equal its targetPort.
   */
  private transparentInbound(proxy: ProxyContext, w: Workload, served: readonly ServedPort[], rules: readonly AccessRule[] | undefined, out: ProxyResources): void {
    // targetPort → the service ports that name it (RBAC: a TrafficTarget may give either) and its protocol (the first's).
    const byTarget = new Map<number, { servicePorts: number[]; protocol: ServedPort['protocol'] }>();
    for (const p of served) {
      // The listener's own port cannot be a workload port too (Envoy holds it).
      if (p.targetPort === INBOUND_PORT) continue;
      const seen = byTarget.get(p.targetPort);
      if (!seen) byTarget.set(p.targetPort, { servicePorts: [p.port], protocol: p.protocol });
      else if (!seen.servicePorts.includes(p.port)) seen.servicePorts.push(p.port);
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
    out.listeners.push(
      // `chains` carries each chain's RBAC ports: two workloads with one identity may serve one port under different service ports.
      this.listeners.get([INBOUND_LISTENER, proxy.inboundAddress, chains, rules, w.mtls], () =>
        transparentInboundListener({
          name: INBOUND_LISTENER,
          address: proxy.inboundAddress,
          port: INBOUND_PORT,
          chains: chains.map(({ ports, ...c }) => ({ ...c, rbac: rules ? rbacFilter(rules, ports) : undefined, acceptPlaintext: w.mtls === 'permissive' })),
          passthroughCluster: PASSTHROUGH_CLUSTER,
        }),
      ),
    );
  }
}

/** Host forms a gRPC client may put in `xds:///host:port`. */
function proxylessHosts(s: MeshService, callerNamespace: string | undefined): string[] {
  const hosts = [serviceFqdn(s.namespace, s.name), `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`];
  if (callerNamespace === s.namespace) hosts.push(s.name);
  return hosts;
}
