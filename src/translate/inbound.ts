/**
 * A sidecar's inbound side: what its workload serves, as listeners and
 * clusters to the application, with TrafficTarget RBAC (strict mode), the
 * port's RequestAuthentication and its server-side limits. Explicit mode has
 * a listener per service port; transparent mode one listener where iptables
 * sends every inbound connection.
 */
import type { AccessRule, MeshModel, RequestAuthn, ServedPort, Workload } from '../model/types.ts';
import { claimRbacFilter } from './claim-rbac.ts';
import { inboundCluster, passthroughCluster } from './cluster.ts';
import type { HttpFiltersByRole } from './http-filters.ts';
import { jwksClusters, jwtAuthnFilter } from './jwt-authn.ts';
import { inboundListener, transparentInboundListener, type InboundChain } from './listeners.ts';
import type { MemoTables } from './memo.ts';
import { INBOUND_LISTENER, inboundClusterName, inboundFilterChainName, inboundListenerName, INBOUND_PASSTHROUGH_CLUSTER } from './names.ts';
import type { ProxyContext } from './proxy.ts';
import { rbacFilter } from './rbac.ts';
import type { ProxyResources } from './resources.ts';
import { inboundRules } from './scope.ts';
import { INBOUND_PASSTHROUGH_SOURCE, INBOUND_PORT } from './sidecar.ts';
import { inboundTcpChains, inboundTcpFilters, inboundTcpListener } from './tcp-listeners.ts';
import type { HcmTelemetry } from './telemetry.ts';

/** The inbound listeners and clusters of a sidecar's workload, into `out`. */
export function inboundResources(memo: MemoTables, model: MeshModel, proxy: ProxyContext, out: ProxyResources, telemetry: HcmTelemetry): void {
  const w = proxy.workload;
  if (!w) return;
  const rules = inboundRules(model, w);
  const served = w.servedPorts;
  if (proxy.mode === 'transparent') return transparentInbound(memo, { model, proxy, w, served, rules, out, telemetry });
  const seen = new Set<number>();
  for (const p of served) {
    if (seen.has(p.port)) continue;
    seen.add(p.port);
    const appPort = proxy.appPorts.get(p.port) ?? p.targetPort;
    const cluster = inboundClusterName(p.port);
    out.clusters.push(
      memo.clusters.get([cluster, proxy.appAddress, appPort, p.protocol], () =>
        inboundCluster({ name: cluster, address: proxy.appAddress, port: appPort, http2: p.protocol === 'grpc' || p.protocol === 'http2' }),
      ),
    );
    const name = inboundListenerName(p.port);
    const ports = [p.port, p.targetPort];
    if (p.protocol === 'tcp') {
      out.listeners.push(
        memo.listeners.get([name, 'tcp', proxy.inboundAddress, cluster, rules, ports, w.mtls], () =>
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
      memo.listeners.get([name, proxy.inboundAddress, cluster, rules, ports, p.authentication, limits, rls, detect, telemetry, w.mtls], () =>
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
  inboundJwksClusters(memo, served.map((p) => p.authentication), out);
}

interface TransparentInput {
  model: MeshModel;
  proxy: ProxyContext;
  w: Workload;
  served: readonly ServedPort[];
  rules: readonly AccessRule[] | undefined;
  out: ProxyResources;
  telemetry: HcmTelemetry;
}

/**
 * Transparent: one listener, `inbound` on 15006, where iptables sends every
 * inbound connection; one filter chain and cluster per port the application
 * listens on (the targetPort: what callers' endpoints name, so the
 * connection's original destination), forwarding to 127.0.0.1:targetPort.
 * The application keeps its ports: a Service's port may equal its targetPort.
 */
function transparentInbound(memo: MemoTables, { model, proxy, w, served, rules, out, telemetry }: TransparentInput): void {
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
      memo.clusters.get([cluster, proxy.appAddress, target, protocol], () =>
        inboundCluster({ name: cluster, address: proxy.appAddress, port: target, http2: protocol === 'grpc' || protocol === 'http2' }),
      ),
    );
    chains.push({
      name: inboundFilterChainName(target), port: target, cluster, protocol, ports: [...new Set([...servicePorts, target])].sort((a, b) => a - b),
      ...(authentication ? { authentication } : {}),
      ...(limits ? { limits } : {}),
    });
  }
  inboundJwksClusters(memo, chains.map((c) => c.authentication), out);
  out.clusters.push(memo.clusters.get([INBOUND_PASSTHROUGH_CLUSTER], () => passthroughCluster(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_SOURCE)));
  const rls = chains.some((c) => c.limits) ? model.mesh.rateLimitService : undefined;
  out.listeners.push(
    // `chains` carries each chain's RBAC ports: two workloads with one identity may serve one port under different service ports.
    memo.listeners.get([INBOUND_LISTENER, proxy.inboundAddress, chains, rules, rls, telemetry, w.mtls], () =>
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
        passthroughCluster: INBOUND_PASSTHROUGH_CLUSTER,
        rateLimitService: rls,
        telemetry,
      }),
    ),
  );
}

/** The clusters the inbound side's JWKS URLs are fetched through, each once. */
function inboundJwksClusters(memo: MemoTables, authns: ReadonlyArray<RequestAuthn | undefined>, out: ProxyResources): void {
  const seen = new Set<string>();
  for (const a of authns) {
    for (const c of a ? jwksClusters(a) : []) {
      if (seen.has(c.name!)) continue;
      seen.add(c.name!);
      out.clusters.push(memo.clusters.get([c.name], () => c));
    }
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
