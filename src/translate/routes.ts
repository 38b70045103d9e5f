/**
 * The outbound RouteConfiguration: one virtual host per service port a proxy
 * may call, reached by every name Kubernetes DNS gives the service, with the
 * TrafficSplits, route policies, retries and timeouts of that port. Pure.
 *
 * Route order inside a virtual host (first match wins):
 *   1. TrafficSplits with matches (header or path canaries), in the model's order;
 *   2. TrafficPolicy route sections (per-route timeouts/retries), default split;
 *   3. everything else: the split without matches, or the service itself.
 * Each of these is doubled when retries are limited to some methods: the
 * retrying route matches only those methods, its twin takes the rest.
 */
import type { EffectivePolicy, HttpMatch, MeshModel, MeshService, RetryPolicy, ServicePort, Split, Timeouts } from '../model/types.ts';
import type { HashPolicy, RetryPolicy as EnvoyRetryPolicy, Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { durationOf } from './cluster.ts';
import { clientSide, globalRateLimits, perFilterConfig } from './limits.ts';
import { routeMatch } from './match.ts';
import { applicableRoutes, meshRoutes } from './mesh-routes.ts';
import { DEFAULT_ROUTE, routeStatPrefix, outboundClusterName, policyRouteName, retryRouteName, serviceFqdn, splitRouteName, virtualHostName } from './names.ts';
import type { ProxyKind } from './proxy.ts';

/** Retry-on names gRPC clients understand (gRFC A44); others are Envoy-only. */
const GRPC_RETRY_ON = new Set(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);

export function domainsFor(service: MeshService, port: number, callerNamespace: string | undefined, isDefaultPort: boolean): string[] {
  const { name, namespace } = service;
  const hosts = [serviceFqdn(namespace, name), `${name}.${namespace}.svc`, `${name}.${namespace}`];
  if (callerNamespace === namespace) hosts.push(name);
  const out: string[] = [];
  for (const h of hosts) {
    out.push(`${h}:${port}`);
    if (isDefaultPort) out.push(h);
  }
  if (service.clusterIP && service.clusterIP !== 'None') out.push(`${service.clusterIP}:${port}`);
  return out;
}

function weightedAction(model: MeshModel, split: Split, port: number): RouteAction {
  const clusters = split.backends
    .filter((b) => b.weight > 0 && b.ports.includes(port))
    .map((b) => {
      const s = model.services.get(b.service)!;
      return { name: outboundClusterName(s.namespace, s.name, port), weight: b.weight };
    });
  if (clusters.length === 1) return { cluster: clusters[0]!.name };
  return { weighted_clusters: { clusters } };
}

function retryPolicy(r: RetryPolicy, timeouts: Timeouts | undefined, kind: ProxyKind): EnvoyRetryPolicy {
  const retryOn = kind === 'proxyless' ? r.retryOn.filter((x) => GRPC_RETRY_ON.has(x)) : r.retryOn;
  const p: EnvoyRetryPolicy = {
    retry_on: (retryOn.length > 0 ? retryOn : kind === 'proxyless' ? ['unavailable'] : ['5xx']).join(','),
    num_retries: r.attempts,
  };
  if (kind === 'envoy') {
    // A retry goes to another host when one exists, so a failing instance is masked.
    p.retry_host_predicate = [extension('PreviousHosts', {})];
    p.host_selection_retry_max_attempts = 5;
  }
  if (r.retriableStatusCodes.length > 0 && kind === 'envoy') p.retriable_status_codes = [...r.retriableStatusCodes];
  if (r.retryAfter && kind === 'envoy') {
    // Wait as long as the upstream asks (429 Too Many Requests, 503) rather than the usual back-off.
    // Envoy reads Retry-After in seconds only (not as an HTTP date) and X-RateLimit-Reset as a Unix time.
    p.rate_limited_retry_back_off = {
      reset_headers: [{ name: 'retry-after', format: 'SECONDS' }, { name: 'x-ratelimit-reset', format: 'UNIX_TIMESTAMP' }],
      max_interval: durationOf(r.retryAfter.maxIntervalMs),
    };
  }
  if (timeouts?.perTryMs) p.per_try_timeout = durationOf(timeouts.perTryMs);
  return p;
}

export interface RouteSpec {
  name: string;
  /** The route's match, optionally limited to some methods (the retrying twin). */
  matchFor: (onlyMethods?: readonly string[]) => RouteMatch;
  action: RouteAction;
  timeouts?: Timeouts;
  retries?: RetryPolicy;
  /** A route section's fault and Client-side limits (limits.ts): they replace the virtual host's. */
  limits?: ReturnType<typeof clientSide>;
}

function hashPolicy(policy: EffectivePolicy | undefined): HashPolicy[] | undefined {
  const h = policy?.loadBalancer?.policy === 'RingHash' ? policy.loadBalancer.hashOn : undefined;
  if (!h) return undefined;
  if ('header' in h) return [{ header: { header_name: h.header } }];
  return [{ cookie: { name: h.cookie.name, ...(h.cookie.ttlMs !== undefined ? { ttl: durationOf(h.cookie.ttlMs) } : {}), ...(h.cookie.path ? { path: h.cookie.path } : {}) } }];
}

export function envoyRoutes(spec: RouteSpec, policy: EffectivePolicy | undefined, kind: ProxyKind): Route[] {
  const action: RouteAction = { ...spec.action };
  const hp = hashPolicy(policy);
  if (hp) action.hash_policy = hp;
  if (spec.timeouts?.requestMs !== undefined) {
    action.timeout = durationOf(spec.timeouts.requestMs);
    // gRPC clients read the deadline from max_stream_duration (gRFC A31).
    if (kind === 'proxyless') action.max_stream_duration = { max_stream_duration: durationOf(spec.timeouts.requestMs) };
  }
  if (spec.timeouts?.idleMs !== undefined && kind === 'envoy') action.idle_timeout = durationOf(spec.timeouts.idleMs);
  const limits = kind === 'envoy' ? spec.limits : undefined;
  if (limits?.global) action.rate_limits = globalRateLimits(limits.global);
  const perFilter = limits && perFilterConfig({ ...limits, direction: 'outbound' });
  const extra = perFilter ? { typed_per_filter_config: perFilter } : {};
  const r = spec.retries;
  if (!r || r.attempts <= 0) return [{ name: spec.name, match: spec.matchFor(), route: action, ...extra }];
  const withRetry: RouteAction = { ...action, retry_policy: retryPolicy(r, spec.timeouts, kind) };
  // Hedging (Envoy only; gRPC clients have no xDS hedging): on the retrying route, which
  // matches only the retried methods — validation made sure they are idempotent.
  if (r.hedgeOnPerTryTimeout && kind === 'envoy' && spec.timeouts?.perTryMs !== undefined) withRetry.hedge_policy = { hedge_on_per_try_timeout: true };
  if (kind === 'proxyless') {
    // Every gRPC call is a POST, and gRPC clients cannot match on methods:
    // retry only if the policy retries POSTs, as an Envoy would.
    const retriesPost = r.methods.length === 0 || r.methods.includes('POST') || r.methods.includes('*');
    return [{ name: spec.name, match: spec.matchFor(), route: retriesPost ? withRetry : action }];
  }
  if (r.methods.length === 0) return [{ name: spec.name, match: spec.matchFor(), route: withRetry, ...extra }];
  return [
    { name: retryRouteName(spec.name), match: spec.matchFor(r.methods), route: withRetry, ...extra },
    { name: spec.name, match: spec.matchFor(), route: action, ...extra },
  ];
}

function smiMatch(m: HttpMatch | undefined): RouteSpec['matchFor'] {
  return (only) => routeMatch(m, only);
}

export function virtualHost(
  model: MeshModel,
  service: MeshService,
  port: ServicePort,
  options: { callerNamespace?: string; isDefaultPort: boolean; kind: ProxyKind },
): VirtualHost {
  const policy = port.policy;
  const vhost = { name: virtualHostName(service.namespace, service.name, port.port), domains: domainsFor(service, port.port, options.callerNamespace, options.isDefaultPort) };
  // Gateway API routes attached to this port replace its TrafficSplits (mesh-routes.ts), not its
  // TrafficPolicy's per-route stats, fault and Client-side limits (portLimits).
  const gatewayRoutes = applicableRoutes(service, port.port, options.callerNamespace);
  if (gatewayRoutes.length > 0) {
    // A mesh route's name ends in its match index (names.ts meshRouteName), so `/retry` at its end is always the retry twin.
    const routes = meshRoutes(gatewayRoutes, port.policy, options.kind).map((r) => withStats(r, r.name!.replace(/\/retry$/, ''), options.kind));
    return portLimits({ ...vhost, routes }, policy, options.kind);
  }
  // A split takes this port only if a backend with weight > 0 has it: one whose only
  // backends here weigh 0 would be weighted_clusters with no clusters, which Envoy and
  // gRPC reject (NACKing the whole RouteConfiguration); the root service keeps the port.
  const splits = service.splits.map((k) => model.splits.get(k)!).filter((s) => s.backends.some((b) => b.weight > 0 && b.ports.includes(port.port)));
  const matchedSplits = splits.filter((s) => s.matches.length > 0);
  const defaultSplit = splits.find((s) => s.matches.length === 0);
  const defaultAction = defaultSplit ? weightedAction(model, defaultSplit, port.port) : { cluster: outboundClusterName(service.namespace, service.name, port.port) };
  const specs: RouteSpec[] = [];
  for (const split of matchedSplits) {
    split.matches.forEach((m, i) =>
      specs.push({ name: splitRouteName(split.name, m.name || i), matchFor: smiMatch(m), action: weightedAction(model, split, port.port), timeouts: policy?.timeouts, retries: policy?.retries }),
    );
  }
  for (const rp of policy?.routes ?? []) {
    const limits = clientSide(rp);
    rp.matches.forEach((m, i) =>
      specs.push({
        name: policyRouteName(rp.from.split('/')[1]!, m.name || i),
        matchFor: smiMatch(m),
        action: defaultAction,
        timeouts: rp.timeouts ?? policy?.timeouts,
        retries: rp.retries ?? policy?.retries,
        ...(limits ? { limits } : {}),
      }),
    );
  }
  specs.push({ name: DEFAULT_ROUTE, matchFor: smiMatch(undefined), action: defaultAction, timeouts: policy?.timeouts, retries: policy?.retries });
  const routes = specs.flatMap((s) => envoyRoutes(s, policy, options.kind).map((r) => withStats(r, s.name, options.kind)));
  return portLimits({ ...vhost, routes }, policy, options.kind);
}

/**
 * Sidecars keep per-route stats under the route's name (translate/stats.ts,
 * `trellis top`), a retry twin (`<name>/retry`) under its route's; gRPC
 * clients keep none.
 */
function withStats(r: Route, statName: string, kind: ProxyKind): Route {
  return kind === 'envoy' ? { ...r, stat_prefix: routeStatPrefix(statName) } : r;
}

/** The port's own fault and Client-side limits; gRPC clients run neither filter. */
function portLimits(vh: VirtualHost, policy: EffectivePolicy | undefined, kind: ProxyKind): VirtualHost {
  const limits = kind === 'envoy' && policy ? clientSide(policy) : undefined;
  if (limits?.global) vh.rate_limits = globalRateLimits(limits.global);
  const perFilter = limits && perFilterConfig({ ...limits, direction: 'outbound' });
  if (perFilter) vh.typed_per_filter_config = perFilter;
  return vh;
}

/** Ports that carry HTTP (and so get a virtual host); TCP ports are out of scope for routing. */
export function httpPorts(service: MeshService): ServicePort[] {
  return service.ports.filter((p) => p.protocol !== 'tcp');
}

/** Builds one virtual host; the translator's passes its memo (translate.ts). */
export type VirtualHostBuilder = (service: MeshService, port: ServicePort, isDefaultPort: boolean) => VirtualHost;

export function outboundRouteConfiguration(
  model: MeshModel,
  name: string,
  services: readonly MeshService[],
  options: { callerNamespace?: string; kind: ProxyKind },
  build: VirtualHostBuilder = (s, p, isDefaultPort) => virtualHost(model, s, p, { ...options, isDefaultPort }),
): RouteConfiguration {
  const vhosts: VirtualHost[] = [];
  for (const s of services) {
    const ports = httpPorts(s);
    ports.forEach((p, i) => vhosts.push(build(s, p, i === 0)));
  }
  return { name, virtual_hosts: vhosts, validate_clusters: false };
}

/**
 * What a caller's namespace changes in a service's virtual hosts: the short
 * name among its domains (domainsFor) and consumer routes (applicableRoutes).
 * For every other namespace the host is the same, so a memo keyed by this
 * builds it once for all of them.
 */
export function callerNamespaceKey(service: MeshService, callerNamespace: string | undefined): string {
  if (callerNamespace === undefined) return '-';
  return callerNamespace === service.namespace || service.routes.some((r) => r.consumer && r.namespace === callerNamespace) ? `ns:${callerNamespace}` : '-';
}
