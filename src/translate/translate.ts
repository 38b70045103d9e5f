/**
 * model + one proxy -> the Envoy resources it should hold. Pure: no I/O, no
 * clock, no randomness; input is never mutated.
 *
 * Builders are memoized on their inputs (see memo.ts) so that unchanged
 * pieces come back as the *same objects*: the cache then finds their encoded
 * bytes by identity, and a change costs work for what it touched only.
 */
import type { AccessRule, MeshGateway, MeshModel, MeshService, RateLimitService, RequestAuthn, ServedPort, Workload } from '../model/types.ts';
import type { Cluster, ClusterLoadAssignment, FilterChain, Listener, RouteConfiguration, Secret } from '../xds/envoy-types.ts';
import { gatewayListener } from './gateway/listeners.ts';
import { gatewayRouteConfiguration } from './gateway/routes.ts';
import { gatewayCertificateSecret } from './gateway/secrets.ts';
import { gatewayStreamChains, gatewayStreamListener } from './gateway/streams.ts';
import { clusterLoadAssignment } from './endpoints.ts';
import { claimRbacFilter } from './claim-rbac.ts';
import { blackholeCluster, catchAllVirtualHost, egressDefaultChain, egressHttpAccessLog, egressListenerFilters, externalChains, externalClusters, externalVirtualHosts, mayReach } from './egress.ts';
import { inboundCluster, outboundCluster, passthroughCluster } from './cluster.ts';
import type { HttpFiltersByRole, LimitFeatures } from './http-filters.ts';
import { jwksClusters, jwtAuthnFilter } from './jwt-authn.ts';
import { outboundFeatures, rateLimitCluster } from './limits.ts';
import { apiListener, inboundListener, outboundHcm, outboundListener, transparentInboundListener, type InboundChain } from './listeners.ts';
import { Memo, sweepContentKeys } from './memo.ts';
import { proxylessServerListener, proxylessUpstreamTls, serverAddresses } from './proxyless-security.ts';
import {
  directClusterName,
  EGRESS_BLOCKED,
  INBOUND_LISTENER,
  inboundClusterName,
  inboundFilterChainName,
  inboundListenerName,
  OUTBOUND_LISTENER,
  OUTBOUND_ROUTE,
  outboundClusterName,
  outboundClusterStatName,
  PASSTHROUGH_CLUSTER,
  proxylessListenerName,
  RATELIMIT_CLUSTER,
  TCP_ROUTE_REFUSED,
  TRACING_CLUSTER,
  zonalEndpointsName,
  gatewayRouteConfigName,
  serviceFqdn,
  upstreamSni,
} from './names.ts';
import type { ProxyContext } from './proxy.ts';
import type { TcpDestination } from './tcp-listeners.ts';
import { rbacFilter } from './rbac.ts';
import { httpPorts, outboundRouteConfiguration } from './routes.ts';
import { inboundRules } from './scope.ts';
import { INBOUND_PORT } from './sidecar.ts';
import { hcmTelemetry, tracingCluster, type HcmTelemetry } from './telemetry.ts';
import { gatewayScopeOf, portDigest, scopeOf } from './signature.ts';
import { explicitExternalListeners } from './egress-explicit.ts';
import { directCluster, inboundTcpChains, inboundTcpFilters, inboundTcpListener, outboundTcpChains, outboundTcpListener } from './tcp-listeners.ts';
import { explicitTcpListeners, heldPorts, refusesSome, tcpPorts, transparentTcpDestinations, type TcpPort } from './tcp-outbound.ts';

export interface ProxyResources {
  clusters: Cluster[];
  /**
   * The first clusters of `clusters`, shared with every proxy of the same
   * scope, mTLS and zone: the same array object, so a consumer may encode and
   * index it once (runtime/proxy-resources.ts).
   */
  sharedClusters: readonly Cluster[];
  endpoints: ClusterLoadAssignment[];
  listeners: Listener[];
  routes: RouteConfiguration[];
  /** SPIFFE IDs whose certificate this proxy needs (its own), for the CA/SDS side. */
  identities: string[];
  /** A gateway's own secrets (its HTTPS listeners' certificates), owned by its identity (`identities[0]`). */
  secrets: Secret[];
}

type Scope = ReturnType<typeof scopeOf>;

interface ScopeFacts {
  features: LimitFeatures;
  tcpPorts: TcpPort[];
  transparent?: ReturnType<typeof transparentTcpDestinations>;
}

interface OutboundBlock {
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
}

export class Translator {
  /** Memo tables survive across model versions; entries unused in a generation are dropped. */
  private readonly clusters = new Memo<Cluster>();
  private readonly endpoints = new Memo<ClusterLoadAssignment>();
  private readonly routes = new Memo<RouteConfiguration>();
  private readonly listeners = new Memo<Listener>();
  /** Per scope: what every proxy of it reads from all its services, computed once (issue 14). */
  private facts = new WeakMap<Scope, ScopeFacts>();
  /** Per scope (one object per model version and scope key: signature.ts), its outbound blocks. */
  private blocks = new WeakMap<Scope, Map<string, OutboundBlock>>();
  private readonly externalClusters = new Memo<Cluster[]>();
  private readonly secrets = new Memo<Secret>();

  /** Call after translating every proxy for a model version: forget what nobody used. */
  sweep(): void {
    this.clusters.sweep();
    this.endpoints.sweep();
    this.routes.sweep();
    this.listeners.sweep();
    this.externalClusters.sweep();
    this.secrets.sweep();
    sweepContentKeys();
  }

  translate(model: MeshModel, proxy: ProxyContext): ProxyResources {
    if (proxy.gatewayKey !== undefined) return this.gateway(model, proxy, proxy.gateway);
    const scope = scopeOf(model, proxy);
    const services = scope.services;
    const envoy = proxy.kind === 'envoy';
    const own = envoy ? proxy.workload?.identity : undefined;
    const out: ProxyResources = { clusters: [], sharedClusters: [], endpoints: [], listeners: [], routes: [], identities: own ? [own] : [], secrets: [] };

    // The outbound clusters and endpoints depend on the scope, whether the caller speaks mTLS, its
    // zone, whether it is a sidecar (gRPC clients speak HTTP/2 only: a TCP port is the sidecars'
    // alone) and a proxyless caller's certificate provider, never on the proxy itself: built once
    // per model version and shared (issue 14).
    const shared = this.outboundBlock(scope, { mtls: own !== undefined, zone: proxy.zone, sidecar: envoy, a29: proxy.certificateProvider });
    out.sharedClusters = shared.clusters;
    out.clusters.push(...shared.clusters);
    out.endpoints.push(...shared.endpoints);

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
      const rls = model.mesh.rateLimitService;
      // Faults and limits its callees' policies ask of this caller (the scope's digest covers them).
      const features = this.scopeFacts(scope, rls).features;
      // Access logs and tracing (MeshConfig); they name the workload, so they are in the listeners' keys.
      const telemetry = hcmTelemetry(model.mesh, proxy.workload);
      const tracing = model.mesh.tracing;
      if (tracing) out.clusters.push(this.clusters.get([TRACING_CLUSTER, tracing.collector], () => tracingCluster(tracing)));
      const tcpChains = this.tcpOutbound(proxy, scope, rls, own, features, telemetry.outbound, out);
      for (const es of model.externalServices.values()) {
        if (mayReach(model, es, own)) out.clusters.push(...this.externalClusters.get([es], () => externalClusters(es)));
      }
      if (transparent) {
        out.clusters.push(this.clusters.get([PASSTHROUGH_CLUSTER], () => passthroughCluster(PASSTHROUGH_CLUSTER)));
        out.clusters.push(this.clusters.get([EGRESS_BLOCKED], () => blackholeCluster()));
      } else if (model.externalServices.size > 0) {
        this.explicitEgress(model, proxy, scope, rls, own, out);
      }
      out.listeners.push(
        this.listeners.get([OUTBOUND_LISTENER, proxy.outbound, egressKey, features, tcpChains, telemetry.outbound], () =>
          outboundListener({
            name: OUTBOUND_LISTENER,
            address: proxy.outbound.address,
            port: proxy.outbound.port,
            transparent,
            features,
            telemetry: telemetry.outbound,
            tcpChains: tcpChains.flatMap((d) => outboundTcpChains(d, outboundHcm(features, telemetry.outbound))),
            detectPorts: tcpChains.filter((d) => d.detect).map((d) => d.port),
            ...(transparent
              ? { egress: { chains: externalChains(model, own), defaultChain: egressDefaultChain(model.mesh.egress), listenerFilters: egressListenerFilters(), accessLog: egressHttpAccessLog() } }
              : {}),
          }),
        ),
      );
      this.inbound(model, proxy, out, telemetry.inbound);
      // Every sidecar may ask the rate limit service once the mesh has one: the cluster is cheap, and
      // a policy that starts using it then changes no cluster, only routes and listeners.
      if (rls) out.clusters.push(this.clusters.get([RATELIMIT_CLUSTER, rls], () => rateLimitCluster(rls)));
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

  /**
   * A gateway Envoy (translate/gateway/): a listener per port of its
   * Gateway, route configurations, its certificates, and clusters to the
   * services its routes call, over mTLS as the gateway's identity: the same
   * outbound block a sidecar of that scope would get, shared with any proxy
   * that has the same scope. Nothing while the Gateway is not programmed.
   */
  private gateway(model: MeshModel, proxy: ProxyContext, g: MeshGateway | undefined): ProxyResources {
    if (!g) return { clusters: [], sharedClusters: [], endpoints: [], listeners: [], routes: [], identities: [], secrets: [] };
    const shared = this.outboundBlock(gatewayScopeOf(model, g), { mtls: true, zone: proxy.zone, sidecar: true, a29: undefined });
    const out: ProxyResources = { clusters: [...shared.clusters], sharedClusters: shared.clusters, endpoints: [...shared.endpoints], listeners: [], routes: [], identities: [g.identity], secrets: [] };
    const address = proxy.gatewayAddress;
    const seen = new Set<string>();
    for (const p of g.ports) {
      if (p.protocol === 'TLS' || p.protocol === 'TCP') {
        // TLS passthrough and TCP (gateway/streams.ts): no route configuration, no certificate.
        out.listeners.push(this.listeners.get(['gateway-stream', address, p], () => gatewayStreamListener(p, address)));
        if (gatewayStreamChains(p).some((c) => refusesSome(c.target)) && !out.clusters.some((c) => c.name === TCP_ROUTE_REFUSED)) {
          out.clusters.push(this.clusters.get([TCP_ROUTE_REFUSED], () => blackholeCluster(TCP_ROUTE_REFUSED)));
        }
        continue;
      }
      const shape = p.listeners.map((l) => [l.name, l.hostname, l.certificates.map((c) => c.secret)]);
      out.listeners.push(this.listeners.get(['gateway', address, p.port, p.protocol, shape, g.authentication], () => gatewayListener(p, address, g.authentication)));
      const configs = p.protocol === 'HTTP' ? [{ name: gatewayRouteConfigName(p.port), listeners: p.listeners }] : p.listeners.map((l) => ({ name: gatewayRouteConfigName(p.port, l.name), listeners: [l] }));
      for (const c of configs) {
        out.routes.push(this.routes.get(['gateway', c.name, c.listeners.map((l) => [l.name, l.hostname, l.routes])], () => gatewayRouteConfiguration(c.name, c.listeners)));
      }
      for (const c of p.listeners.flatMap((l) => l.certificates)) {
        if (seen.has(c.secret)) continue;
        seen.add(c.secret);
        out.secrets.push(this.secrets.get([c.secret, c.certificateChainPem, c.privateKeyPem], () => gatewayCertificateSecret(c)));
      }
    }
    // The clusters its JWKS URLs are fetched through.
    if (g.authentication) for (const c of jwksClusters(g.authentication)) out.clusters.push(this.clusters.get([c.name], () => c));
    return out;
  }

  /**
   * One scope's outbound clusters and endpoint sets, for callers with (`mtls`)
   * or without an identity, in one zone, sidecars (every port) or gRPC clients
   * (HTTP ports; with their certificate provider, gRFC A29): the same arrays
   * for every proxy that shares them, so the runtime encodes and indexes them once (issue 14: a
   * policy edit in a 1,000-proxy permissive mesh built 1.2 M memo keys).
   */
  private outboundBlock(scope: Scope, v: { mtls: boolean; zone: string | undefined; sidecar: boolean; a29: string | undefined }): OutboundBlock {
    const { mtls, zone, sidecar, a29 } = v;
    let byVariant = this.blocks.get(scope);
    if (!byVariant) this.blocks.set(scope, (byVariant = new Map()));
    const variant = JSON.stringify([mtls, zone ?? '', sidecar, a29 ?? '']);
    let block = byVariant.get(variant);
    if (block) return block;
    block = { clusters: [], endpoints: [] };
    for (const s of scope.services) {
      for (const p of sidecar ? s.ports : httpPorts(s)) {
        const name = outboundClusterName(s.namespace, s.name, p.port);
        // Sidecars with an identity speak mTLS upstream; the same cluster object serves every such caller.
        const tls = mtls ? { peerIdentities: s.identities, sni: upstreamSni(s.namespace, s.name) } : undefined;
        const policy = p.clusterPolicy;
        const edsName = policy?.locality?.mode === 'PreferSameZone' && zone ? zonalEndpointsName(name, zone) : undefined;
        // The whole port is in the key (its endpoints excepted: clusters find them by EDS).
        // Sidecars' stats name the destination (translate/stats.ts); gRPC clients keep none.
        const statName = sidecar ? outboundClusterStatName(s.namespace, s.name, p.port, s.identities) : undefined;
        block.clusters.push(
          this.clusters.get([name, portDigest(p), tls, edsName, statName, a29, a29 ? s.identities : undefined], () => {
            const c = outboundCluster({ name, port: p, policy, tls, edsName, statName, ...(p.plaintext ? { plaintext: p.plaintext } : {}) });
            // gRFC A29: a proxyless client's mTLS names its certificate provider instance (not for endpoints without a sidecar).
            return a29 && p.plaintext !== 'all' ? { ...c, transport_socket: proxylessUpstreamTls(a29, s.identities) } : c;
          }),
        );
        // The endpoint set the cluster names (the publisher shares a mesh-wide one; this is the same content).
        const eds = edsName ?? name;
        block.endpoints.push(this.endpoints.get([eds, p.endpoints], () => clusterLoadAssignment(eds, p.endpoints, edsName ? zone : undefined)));
      }
    }
    byVariant.set(variant, block);
    return block;
  }

  /**
   * TCP services the proxy may call (tcp-outbound.ts): explicit mode's
   * listeners go straight into `out`; transparent mode's destinations are
   * returned, for the `outbound` listener's filter chains.
   */
  private tcpOutbound(proxy: ProxyContext, scope: Scope, rls: RateLimitService | undefined, own: string | undefined, features: LimitFeatures, telemetry: HcmTelemetry, out: ProxyResources): TcpDestination[] {
    const facts = this.scopeFacts(scope, rls);
    const ports = facts.tcpPorts;
    const refused = () => out.clusters.push(this.clusters.get([TCP_ROUTE_REFUSED], () => blackholeCluster(TCP_ROUTE_REFUSED)));
    if (proxy.mode === 'explicit') {
      const listeners = explicitTcpListeners(ports, proxy);
      if (listeners.some((l) => refusesSome(l.cluster))) refused();
      for (const l of listeners) {
        out.listeners.push(
          this.listeners.get([l.name, proxy.outbound.address, l.port, l.cluster, l.idleMs, l.detect, l.detect ? features : undefined, l.detect ? telemetry : undefined], () =>
            outboundTcpListener({ ...l, address: proxy.outbound.address, ...(l.detect ? { http: outboundHcm(features, telemetry) } : {}) }),
          ),
        );
      }
      return [];
    }
    const { chains, direct } = (facts.transparent ??= transparentTcpDestinations(ports));
    if (chains.some((c) => refusesSome(c.cluster))) refused();
    for (const { service: s, port: p } of direct) {
      const name = directClusterName(s.namespace, s.name, p.port);
      const tls = { peerIdentities: own ? s.identities : [], sni: upstreamSni(s.namespace, s.name) };
      out.clusters.push(this.clusters.get([name, portDigest(p), tls], () => directCluster({ name, port: p, tls })));
    }
    return chains;
  }

  /**
   * Explicit mode: the ExternalServices' TLS and TCP ports as local
   * listeners (egress-explicit.ts), on the port numbers the TCP services'
   * listeners left free; the refusing cluster when a chain refuses this caller.
   */
  private explicitEgress(model: MeshModel, proxy: ProxyContext, scope: Scope, rls: RateLimitService | undefined, own: string | undefined, out: ProxyResources): void {
    const held = heldPorts(proxy);
    for (const l of explicitTcpListeners(this.scopeFacts(scope, rls).tcpPorts, proxy)) held.add(l.port);
    const { listeners, refuses } = explicitExternalListeners(model, own, { address: proxy.outbound.address, held });
    // Keyed by content: a hit hands back the listener built before, which the cache does not encode again.
    for (const l of listeners) out.listeners.push(this.listeners.get([l.name, l], () => l));
    if (refuses) out.clusters.push(this.clusters.get([EGRESS_BLOCKED], () => blackholeCluster()));
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

  /**
   * The faults and limits a scope's services ask of their callers, and its TCP
   * ports (and their transparent-mode destinations): a walk of every service
   * of the scope, once per scope instead of once per proxy (issue 14: 1,000
   * proxies × 1,000 services were a third of a policy edit's CPU).
   */
  private scopeFacts(scope: Scope, rls: RateLimitService | undefined): ScopeFacts {
    let f = this.facts.get(scope);
    if (!f) this.facts.set(scope, (f = { features: outboundFeatures(scope.services, rls), tcpPorts: tcpPorts(scope.services) }));
    return f;
  }

  /** Explicit: one inbound listener and cluster per service port the workload serves. */
  private inbound(model: MeshModel, proxy: ProxyContext, out: ProxyResources, telemetry: HcmTelemetry): void {
    const w = proxy.workload;
    if (!w) return;
    const rules = inboundRules(model, w);
    const served = w.servedPorts;
    if (proxy.mode === 'transparent') return this.transparentInbound(model, proxy, w, served, rules, out, telemetry);
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
      if (p.protocol === 'tcp') {
        out.listeners.push(
          this.listeners.get([name, 'tcp', proxy.inboundAddress, cluster, rules, ports, w.mtls], () =>
            inboundTcpListener({ name, address: proxy.inboundAddress, port: p.port, cluster, ...(rules ? { rules } : {}), ports, acceptPlaintext: w.mtls === 'permissive' }),
          ),
        );
        continue;
      }
      const detect = p.protocol === 'auto';
      // Two services on one port: the first by name counts its limits here (docs/intents.md).
      const limits = p.limits;
      const rls = limits ? model.mesh.rateLimitService : undefined;
      out.listeners.push(
        // `ports` is a key part: the RBAC filter depends on it, and two workloads with one
        // identity may serve the same port with different targetPorts.
        this.listeners.get([name, proxy.inboundAddress, cluster, rules, ports, p.authentication, limits, rls, detect, telemetry, w.mtls], () =>
          inboundListener({
            name,
            address: proxy.inboundAddress,
            port: p.port,
            cluster,
            filters: inboundFilters(rules, ports, p.authentication),
            limits,
            rateLimitService: rls,
            telemetry,
            acceptPlaintext: w.mtls === 'permissive',
            ...(detect ? { tcpFilters: inboundTcpFilters({ name, cluster, ...(rules ? { rules } : {}), ports }) } : {}),
          }),
        ),
      );
    }
    this.jwksClusters(served.map((p) => p.authentication), out);
  }

  /** The clusters the inbound side's JWKS URLs are fetched through, each once. */
  private jwksClusters(authns: ReadonlyArray<RequestAuthn | undefined>, out: ProxyResources): void {
    const seen = new Set<string>();
    for (const a of authns) {
      for (const c of a ? jwksClusters(a) : []) {
        if (seen.has(c.name!)) continue;
        seen.add(c.name!);
        out.clusters.push(this.clusters.get([c.name], () => c));
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
  private transparentInbound(model: MeshModel, proxy: ProxyContext, w: Workload, served: readonly ServedPort[], rules: readonly AccessRule[] | undefined, out: ProxyResources, telemetry: HcmTelemetry): void {
    // targetPort → the service ports that name it (RBAC: a TrafficTarget may give either), its protocol
    // (the first's), its RequestAuthentication (the first port's that has one: one chain checks tokens one way)
    // and its server-side limits (the first's).
    const byTarget = new Map<number, { servicePorts: number[]; protocol: ServedPort['protocol']; authentication?: RequestAuthn; limits?: ServedPort['limits'] }>();
    for (const p of served) {
      // The listener's own port cannot be a workload port too (Envoy holds it).
      if (p.targetPort === INBOUND_PORT) continue;
      const seen = byTarget.get(p.targetPort);
      if (!seen) {
        byTarget.set(p.targetPort, { servicePorts: [p.port], protocol: p.protocol, ...(p.authentication ? { authentication: p.authentication } : {}), ...(p.limits ? { limits: p.limits } : {}) });
      } else {
        if (!seen.servicePorts.includes(p.port)) seen.servicePorts.push(p.port);
        seen.authentication ??= p.authentication;
      }
    }
    const chains: Array<Omit<InboundChain, 'filters'> & { ports: number[]; protocol: ServedPort['protocol']; authentication?: RequestAuthn }> = [];
    for (const [target, { servicePorts, protocol, authentication, limits }] of [...byTarget].sort((a, b) => a[0] - b[0])) {
      const cluster = inboundClusterName(target);
      out.clusters.push(
        this.clusters.get([cluster, proxy.appAddress, target, protocol], () =>
          inboundCluster({ name: cluster, address: proxy.appAddress, port: target, http2: protocol === 'grpc' || protocol === 'http2' }),
        ),
      );
      chains.push({
        name: inboundFilterChainName(target), port: target, cluster, protocol, ports: [...new Set([...servicePorts, target])].sort((a, b) => a - b),
        ...(authentication ? { authentication } : {}),
        ...(limits ? { limits } : {}),
      });
    }
    this.jwksClusters(chains.map((c) => c.authentication), out);
    const rls = chains.some((c) => c.limits) ? model.mesh.rateLimitService : undefined;
    out.listeners.push(
      // `chains` carries each chain's RBAC ports: two workloads with one identity may serve one port under different service ports.
      this.listeners.get([INBOUND_LISTENER, proxy.inboundAddress, chains, rules, rls, telemetry, w.mtls], () =>
        transparentInboundListener({
          name: INBOUND_LISTENER,
          address: proxy.inboundAddress,
          port: INBOUND_PORT,
          chains: chains.map(({ ports, protocol, authentication, ...c }) => {
            const tcp = () => inboundTcpFilters({ ...c, ...(rules ? { rules } : {}), ports });
            const filters = inboundFilters(rules, ports, authentication);
            if (protocol === 'tcp') {
              return { ...c, filters, acceptPlaintext: w.mtls === 'permissive', networkChains: inboundTcpChains({ ...c, ...(rules ? { rules } : {}), ports, match: { destination_port: c.port }, named: true, acceptPlaintext: w.mtls === 'permissive' }) };
            }
            return { ...c, filters, acceptPlaintext: w.mtls === 'permissive', ...(protocol === 'auto' ? { tcpFilters: tcp() } : {}) };
          }),
          passthroughCluster: PASSTHROUGH_CLUSTER,
          rateLimitService: rls,
          telemetry,
        }),
      ),
    );
  }
}

/** One inbound connection manager's filters: TrafficTarget RBAC (strict mode) and its port's RequestAuthentication. */
function inboundFilters(rules: readonly AccessRule[] | undefined, ports: readonly number[], authn: RequestAuthn | undefined): HttpFiltersByRole {
  return {
    ...(rules ? { rbac: rbacFilter(rules, ports) } : {}),
    ...(authn ? { jwt_authn: jwtAuthnFilter(authn) } : {}),
    ...(authn?.rules ? { claim_rbac: claimRbacFilter(authn) } : {}),
  };
}

/** Host forms a gRPC client may put in `xds:///host:port`. */
function proxylessHosts(s: MeshService, callerNamespace: string | undefined): string[] {
  const hosts = [serviceFqdn(s.namespace, s.name), `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`];
  if (callerNamespace === s.namespace) hosts.push(s.name);
  return hosts;
}
