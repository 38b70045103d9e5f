/**
 * model + one proxy -> the Envoy resources it should hold. Pure: no I/O, no
 * clock, no randomness; input is never mutated.
 *
 * Builders are memoized on their inputs (see memo.ts) so that unchanged
 * pieces come back as the *same objects*: the cache then finds their encoded
 * bytes by identity, and a change costs work for what it touched only.
 *
 * This file assembles a sidecar's or gRPC client's outbound side; the parts
 * live beside it: what a scope shares (scope-shared.ts), the inbound side
 * (inbound.ts), a gRPC client's listeners (proxyless-listeners.ts) and a
 * gateway Envoy's resources (gateway/proxy.ts).
 */
import type { MeshModel, RateLimitService } from '../model/types.ts';
import { blackholeCluster, catchAllVirtualHost, egressDefaultChain, egressHttpAccessLog, egressListenerFilters, externalChains, externalClusters, externalVirtualHosts, mayReach } from './egress.ts';
import { explicitExternalListeners } from './egress-explicit.ts';
import { passthroughCluster } from './cluster.ts';
import { gatewayResources } from './gateway/proxy.ts';
import type { LimitFeatures } from './http-filters.ts';
import { destinationRouteConfiguration, httpDestinationChains, transparentHttpDestinations, type HttpDestinations } from './http-destinations.ts';
import { inboundResources } from './inbound.ts';
import { rateLimitCluster } from './limits.ts';
import { outboundHcm, outboundListener } from './listeners.ts';
import { MemoTables } from './memo.ts';
import { directClusterName, EGRESS_BLOCKED, OUTBOUND_LISTENER, OUTBOUND_ROUTE, PASSTHROUGH_CLUSTER, RATELIMIT_CLUSTER, TCP_ROUTE_REFUSED, TRACING_CLUSTER, upstreamSni } from './names.ts';
import type { ProxyContext } from './proxy.ts';
import { proxylessListeners } from './proxyless-listeners.ts';
import { emptyResources, type ProxyResources } from './resources.ts';
import { callerNamespaceKey, outboundRouteConfiguration, virtualHost } from './routes.ts';
import { ScopeShared, type Scope } from './scope-shared.ts';
import { portDigest, scopeOf, serviceDigest } from './signature.ts';
import { directCluster, outboundTcpChains, outboundTcpListener, type TcpDestination } from './tcp-listeners.ts';
import { explicitTcpListeners, heldPorts, refusesSome, transparentTcpDestinations, type TcpPort } from './tcp-outbound.ts';
import { hcmTelemetry, tracingCluster, type HcmTelemetry } from './telemetry.ts';

export type { ProxyResources } from './resources.ts';

export class Translator {
  /** Memo tables survive across model versions; entries unused in a generation are dropped. */
  private readonly memo = new MemoTables();
  private readonly shared = new ScopeShared(this.memo);

  /** Call after translating every proxy for a model version: forget what nobody used. */
  sweep(): void {
    this.memo.sweep();
  }

  translate(model: MeshModel, proxy: ProxyContext): ProxyResources {
    if (proxy.gatewayKey !== undefined) return gatewayResources(this.memo, this.shared, model, proxy, proxy.gateway);
    const scope = scopeOf(model, proxy);
    const services = scope.services;
    const envoy = proxy.kind === 'envoy';
    const own = envoy ? proxy.workload?.identity : undefined;
    const out = emptyResources(own ? [own] : []);

    // The outbound clusters and endpoints depend on the scope, whether the caller speaks mTLS, its
    // zone, whether it is a sidecar (gRPC clients speak HTTP/2 only: a TCP port is the sidecars'
    // alone) and a proxyless caller's certificate provider, never on the proxy itself: built once
    // per model version and shared (issue 14).
    const block = this.shared.outboundBlock(scope, { mtls: own !== undefined, zone: proxy.zone, sidecar: envoy, a29: proxy.certificateProvider });
    out.sharedClusters = block.clusters;
    out.clusters.push(...block.clusters);
    out.endpoints.push(...block.endpoints);

    const callerNamespace = proxy.workload?.namespace;
    const transparent = envoy && proxy.mode === 'transparent';
    // What egress adds (egress.ts) depends on these; the caller's identity only when some ExternalService exists.
    const egressKey = envoy ? [proxy.mode, model.mesh.egress, model.mesh.authorization, [...model.externalServices.values()], model.externalServices.size > 0 ? own : undefined] : undefined;
    out.routes.push(
      this.memo.routes.get([OUTBOUND_ROUTE, proxy.kind, callerNamespace, scope.digest, egressKey], () => {
        // A virtual host reads its service (with its splits, routes and policies: serviceDigest), the
        // port, the caller's kind and, only sometimes, the caller's namespace (callerNamespaceKey).
        const options = { callerNamespace, kind: proxy.kind };
        const rc = outboundRouteConfiguration(model, OUTBOUND_ROUTE, services, options, (s, p, isDefaultPort) =>
          this.memo.virtualHosts.get([proxy.kind, serviceDigest(model, s), p.port, isDefaultPort, callerNamespaceKey(s, callerNamespace)], () =>
            virtualHost(model, s, p, { ...options, isDefaultPort }),
          ),
        );
        if (!envoy) return rc;
        return { ...rc, virtual_hosts: [...(rc.virtual_hosts ?? []), ...externalVirtualHosts(model, own), ...(transparent ? [catchAllVirtualHost(model.mesh.egress)] : [])] };
      }),
    );

    if (envoy) {
      const rls = model.mesh.rateLimitService;
      // Faults and limits its callees' policies ask of this caller (the scope's digest covers them).
      const features = this.shared.scopeFacts(scope, rls).features;
      // Access logs and tracing (MeshConfig); they name the workload, so they are in the listeners' keys.
      const telemetry = hcmTelemetry(model.mesh, proxy.workload);
      const tracing = model.mesh.tracing;
      if (tracing) out.clusters.push(this.memo.clusters.get([TRACING_CLUSTER, tracing.collector], () => tracingCluster(tracing)));
      const tcpChains = this.tcpOutbound(proxy, scope, rls, own, features, telemetry.outbound, out);
      const httpDestinations = transparent ? this.httpOutbound(model, scope, rls, own, tcpChains, callerNamespace, out) : undefined;
      for (const es of model.externalServices.values()) {
        if (mayReach(model, es, own)) out.clusters.push(...this.memo.externalClusters.get([es], () => externalClusters(es)));
      }
      if (transparent) {
        out.clusters.push(this.memo.clusters.get([PASSTHROUGH_CLUSTER], () => passthroughCluster(PASSTHROUGH_CLUSTER)));
        out.clusters.push(this.memo.clusters.get([EGRESS_BLOCKED], () => blackholeCluster()));
      } else if (model.externalServices.size > 0) {
        this.explicitEgress(model, proxy, scope, rls, own, out);
      }
      out.listeners.push(
        this.memo.listeners.get([OUTBOUND_LISTENER, proxy.outbound, egressKey, features, tcpChains, httpDestinations, telemetry.outbound], () =>
          outboundListener({
            name: OUTBOUND_LISTENER,
            address: proxy.outbound.address,
            port: proxy.outbound.port,
            transparent,
            features,
            telemetry: telemetry.outbound,
            tcpChains: [
              ...tcpChains.flatMap((d) => outboundTcpChains(d, outboundHcm(features, telemetry.outbound))),
              ...(httpDestinations ? httpDestinationChains(httpDestinations, (route) => outboundHcm(features, telemetry.outbound, route)) : []),
            ],
            detectPorts: tcpChains.filter((d) => d.detect).map((d) => d.port),
            ...(transparent
              ? { egress: { chains: externalChains(model, own), defaultChain: egressDefaultChain(model.mesh.egress), listenerFilters: egressListenerFilters(), accessLog: egressHttpAccessLog() } }
              : {}),
          }),
        ),
      );
      inboundResources(this.memo, model, proxy, out, telemetry.inbound);
      // Every sidecar may ask the rate limit service once the mesh has one: the cluster is cheap, and
      // a policy that starts using it then changes no cluster, only routes and listeners.
      if (rls) out.clusters.push(this.memo.clusters.get([RATELIMIT_CLUSTER, rls], () => rateLimitCluster(rls)));
    } else {
      proxylessListeners(this.memo, model, proxy, services, out);
    }
    // A proxyless client that may call nothing has no listener naming the route configuration.
    if (!out.listeners.some((l) => 'api_listener' in l || l.name === OUTBOUND_LISTENER)) out.routes = [];
    return out;
  }

  /**
   * TCP services the proxy may call (tcp-outbound.ts): explicit mode's
   * listeners go straight into `out`; transparent mode's destinations are
   * returned, for the `outbound` listener's filter chains.
   */
  private tcpOutbound(proxy: ProxyContext, scope: Scope, rls: RateLimitService | undefined, own: string | undefined, features: LimitFeatures, telemetry: HcmTelemetry, out: ProxyResources): TcpDestination[] {
    const facts = this.shared.scopeFacts(scope, rls);
    const ports = facts.tcpPorts;
    const refused = () => out.clusters.push(this.memo.clusters.get([TCP_ROUTE_REFUSED], () => blackholeCluster(TCP_ROUTE_REFUSED)));
    if (proxy.mode === 'explicit') {
      const listeners = explicitTcpListeners(ports, proxy);
      if (listeners.some((l) => refusesSome(l.cluster))) refused();
      for (const l of listeners) {
        out.listeners.push(
          this.memo.listeners.get([l.name, proxy.outbound.address, l.port, l.cluster, l.idleMs, l.detect, l.detect ? features : undefined, l.detect ? telemetry : undefined], () =>
            outboundTcpListener({ ...l, address: proxy.outbound.address, ...(l.detect ? { http: outboundHcm(features, telemetry) } : {}) }),
          ),
        );
      }
      return [];
    }
    const { chains, direct } = (facts.transparent ??= transparentTcpDestinations(ports));
    if (chains.some((c) => refusesSome(c.cluster))) refused();
    this.directClusters(direct, own, out);
    return chains;
  }

  /**
   * Transparent mode: HTTP service ports by the address dialled
   * (http-destinations.ts): a route configuration per ClusterIP and port,
   * and the `/direct` clusters the pods' own addresses go to.
   */
  private httpOutbound(model: MeshModel, scope: Scope, rls: RateLimitService | undefined, own: string | undefined, tcp: TcpDestination[], callerNamespace: string | undefined, out: ProxyResources): HttpDestinations {
    const facts = this.shared.scopeFacts(scope, rls);
    const d = (facts.transparentHttp ??= transparentHttpDestinations(scope.services, tcp));
    for (const f of d.frontends) {
      out.routes.push(this.memo.routes.get([f.route, callerNamespace, scope.digest], () => destinationRouteConfiguration(model, f.route, f.service, f.port, callerNamespace)));
    }
    this.directClusters(d.direct, own, out);
    return d;
  }

  /** Transparent mode: the `/direct` clusters (a pod dialled by its own address) of these ports, with their service's mTLS. */
  private directClusters(ports: readonly TcpPort[], own: string | undefined, out: ProxyResources): void {
    for (const { service: s, port: p } of ports) {
      const name = directClusterName(s.namespace, s.name, p.port);
      const tls = { peerIdentities: own ? s.identities : [], sni: upstreamSni(s.namespace, s.name) };
      out.clusters.push(this.memo.clusters.get([name, portDigest(p), tls], () => directCluster({ name, port: p, tls })));
    }
  }

  /**
   * Explicit mode: the ExternalServices' TLS and TCP ports as local
   * listeners (egress-explicit.ts), on the port numbers the TCP services'
   * listeners left free; the refusing cluster when a chain refuses this caller.
   */
  private explicitEgress(model: MeshModel, proxy: ProxyContext, scope: Scope, rls: RateLimitService | undefined, own: string | undefined, out: ProxyResources): void {
    const held = heldPorts(proxy);
    for (const l of explicitTcpListeners(this.shared.scopeFacts(scope, rls).tcpPorts, proxy)) held.add(l.port);
    const { listeners, refuses } = explicitExternalListeners(model, own, { address: proxy.outbound.address, held });
    // Keyed by content: a hit hands back the listener built before, which the cache does not encode again.
    for (const l of listeners) out.listeners.push(this.memo.listeners.get([l.name, l], () => l));
    if (refuses) out.clusters.push(this.memo.clusters.get([EGRESS_BLOCKED], () => blackholeCluster()));
  }
}
