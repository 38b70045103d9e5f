/**
 * Gateway API mesh routes (HTTPRoute, GRPCRoute attached to a Service) as
 * the routes of that service port's virtual host. Pure.
 *
 * Which routes: a caller in a namespace with consumer routes for the service
 * gets those; every other caller the producer routes (GEP-1294). Where either
 * applies, it replaces the service's TrafficSplits on that port (the rule for
 * a service both APIs address: docs/gateway-api.md); the port's
 * TrafficPolicy still gives timeouts and retries a rule does not set.
 *
 * Order: every (route, rule, match) sorted by the spec's precedence
 * (gateway-match.ts), ties by route age, rule and match order. A request
 * that matches no rule gets Envoy's 404, as the spec says.
 */
import type { EffectivePolicy, HeaderModifier, MeshRoute, MeshRouteRule, MeshService, RouteFilter, GatewayMatch } from '../model/types.ts';
import type { Route, RouteAction } from '../xds/envoy-types.ts';
import { durationOf } from './cluster.ts';
import { comparePrecedence, gatewayRouteMatch, prefixOf, quoteRe2 } from './gateway-match.ts';
import { meshRouteName, missingBackendsRouteName, outboundClusterName } from './names.ts';
import type { ProxyKind } from './proxy.ts';
import { envoyRoutes } from './routes.ts';

/** The mesh routes a caller in `callerNamespace` meets on one port of `service`; empty: none (SMI routing applies). */
export function applicableRoutes(service: MeshService, port: number, callerNamespace: string | undefined): MeshRoute[] {
  const on = (r: MeshRoute) => r.ports.length === 0 || r.ports.includes(port);
  const consumer = service.routes.filter((r) => r.consumer && r.namespace === callerNamespace && on(r));
  return consumer.length > 0 ? consumer : service.routes.filter((r) => !r.consumer && on(r));
}

type HeaderOption = NonNullable<Route['request_headers_to_add']>[number];

function headerOptions(m: HeaderModifier): HeaderOption[] {
  return [
    ...m.set.map((h): HeaderOption => ({ header: { key: h.name, value: h.value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })),
    ...m.add.map((h): HeaderOption => ({ header: { key: h.name, value: h.value }, append_action: 'APPEND_IF_EXISTS_OR_ADD' })),
  ];
}

type HeaderFields = Pick<Route, 'request_headers_to_add' | 'request_headers_to_remove' | 'response_headers_to_add' | 'response_headers_to_remove'>;
const NO_HEADERS: HeaderFields = Object.freeze({});

/** Header modifier filters as the fields Route and ClusterWeight share. */
function headerFields(filters: readonly RouteFilter[]): HeaderFields {
  if (filters.length === 0) return NO_HEADERS;
  const out: HeaderFields = {};
  for (const f of filters) {
    if (f.type === 'RequestHeaderModifier') {
      if (f.modifier.set.length + f.modifier.add.length > 0) out.request_headers_to_add = headerOptions(f.modifier);
      if (f.modifier.remove.length > 0) out.request_headers_to_remove = [...f.modifier.remove];
    } else if (f.type === 'ResponseHeaderModifier') {
      if (f.modifier.set.length + f.modifier.add.length > 0) out.response_headers_to_add = headerOptions(f.modifier);
      if (f.modifier.remove.length > 0) out.response_headers_to_remove = [...f.modifier.remove];
    }
  }
  return out;
}

const REDIRECT_CODES: Record<number, 'MOVED_PERMANENTLY' | 'FOUND' | 'SEE_OTHER' | 'TEMPORARY_REDIRECT' | 'PERMANENT_REDIRECT'> = {
  301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT',
};

/** The path a ReplacePrefixMatch makes of `match`'s prefix, as a regex rewrite (so "/" never doubles a slash). */
function prefixRewrite(match: GatewayMatch, replacement: string) {
  const prefix = prefixOf(match.path.value);
  const to = prefixOf(replacement);
  if (prefix === '/') return { pattern: { regex: '^/' }, substitution: to === '/' ? '/' : `${to}/` };
  if (to === '/') return { pattern: { regex: `^${quoteRe2(prefix)}/*` }, substitution: '/' };
  return { pattern: { regex: `^${quoteRe2(prefix)}` }, substitution: to };
}

function redirect(f: Extract<RouteFilter, { type: 'RequestRedirect' }>, match: GatewayMatch): Route['redirect'] {
  const r: NonNullable<Route['redirect']> = { response_code: REDIRECT_CODES[f.statusCode] ?? 'FOUND' };
  if (f.scheme) r.scheme_redirect = f.scheme;
  if (f.hostname) r.host_redirect = f.hostname;
  if (f.port) r.port_redirect = f.port;
  // The spec: a scheme change without a port drops the port (the scheme's well-known one applies).
  else if (f.scheme) r.port_redirect = f.scheme === 'https' ? 443 : 80;
  if (f.path?.type === 'ReplaceFullPath') r.path_redirect = f.path.value;
  else if (f.path?.type === 'ReplacePrefixMatch') r.regex_rewrite = prefixRewrite(match, f.path.value);
  return r;
}

/** The backends a rule sends requests to: those that exist, with a positive weight (weight 0 is in the model for scope and policy). */
function servedBackends(rule: MeshRouteRule): MeshRouteRule['backends'] {
  return rule.backends.filter((b) => b.found && b.weight > 0);
}

function action(rule: MeshRouteRule, match: GatewayMatch, kind: ProxyKind): RouteAction {
  const found = servedBackends(rule);
  const a: RouteAction = found.length === 1 && (found[0]!.filters.length === 0 || kind !== 'envoy')
    ? { cluster: outboundClusterName(found[0]!.namespace, found[0]!.name, found[0]!.port) }
    : { weighted_clusters: { clusters: found.map((b) => {
      const name = outboundClusterName(b.namespace, b.name, b.port);
      return b.filters.length === 0 || kind !== 'envoy' ? { name, weight: b.weight } : { name, weight: b.weight, ...headerFields(b.filters) };
    }) } };
  for (const f of rule.filters) {
    if (f.type === 'URLRewrite') {
      if (f.hostname) a.host_rewrite_literal = f.hostname;
      if (f.path?.type === 'ReplaceFullPath') a.regex_rewrite = { pattern: { regex: '^/.*$' }, substitution: f.path.value };
      else if (f.path?.type === 'ReplacePrefixMatch') a.regex_rewrite = prefixRewrite(match, f.path.value);
    } else if (f.type === 'RequestMirror') {
      const perMillion = Math.round((f.numerator / f.denominator) * 1_000_000);
      (a.request_mirror_policies ??= []).push({
        cluster: outboundClusterName(f.backend.namespace, f.backend.name, f.backend.port),
        ...(perMillion < 1_000_000 ? { runtime_fraction: { default_value: { numerator: perMillion, denominator: 'MILLION' } } } : {}),
      });
    }
  }
  return a;
}

/** One match of one rule: its Envoy route(s) (two when retries are limited to some methods). */
function matchRoutes(route: RouteSource, rule: MeshRouteRule, match: GatewayMatch, index: number, policy: EffectivePolicy | undefined, kind: ProxyKind): Route[] {
  const name = meshRouteName(route.kind, route.namespace, route.name, rule.name, index);
  const headers = kind === 'envoy' ? headerFields(rule.filters) : NO_HEADERS;
  const redirectFilter = rule.filters.find((f) => f.type === 'RequestRedirect');
  if (redirectFilter && kind === 'envoy') return [{ name, match: gatewayRouteMatch(match, kind), redirect: redirect(redirectFilter, match), ...headers }];
  const found = servedBackends(rule);
  if (found.length === 0) {
    // No backend with a positive weight that exists: the spec's 500. gRPC clients know no
    // direct_response (gRFC A28), and without a route their calls fail (UNAVAILABLE).
    return kind === 'envoy' ? [{ name, match: gatewayRouteMatch(match, kind), direct_response: { status: 500 }, ...headers }] : [];
  }
  // The share of backends that do not exist is answered with 500 (the spec): a twin route that
  // takes that fraction of the matching requests first. Naming a cluster that does not exist
  // instead would make the snapshot inconsistent (a route names only clusters the proxy has).
  const missing = rule.backends.reduce((n, b) => n + (b.found ? 0 : b.weight), 0);
  const total = rule.backends.reduce((n, b) => n + b.weight, 0);
  const missingShare: Route[] = missing > 0 && kind === 'envoy'
    ? [{ name: missingBackendsRouteName(name), match: { ...gatewayRouteMatch(match, kind), runtime_fraction: { default_value: { numerator: Math.round((missing / total) * 1_000_000), denominator: 'MILLION' } } }, direct_response: { status: 500 }, ...headers }]
    : [];
  const t = rule.timeouts;
  const timeouts = { ...policy?.timeouts, ...(t?.requestMs !== undefined ? { requestMs: t.requestMs } : {}), ...(t?.backendRequestMs !== undefined ? { perTryMs: t.backendRequestMs } : {}) };
  const routes = envoyRoutes({ name, matchFor: (only) => gatewayRouteMatch(match, kind, only), action: action(rule, match, kind), timeouts, retries: policy?.retries }, policy, kind);
  const decorated = headers === NO_HEADERS && !(t?.backendRequestMs && kind === 'envoy') ? routes : routes.map((r) => {
    const out: Route = { ...r, ...headers };
    // backendRequest bounds each attempt, the first included, even with no retries.
    if (t?.backendRequestMs && kind === 'envoy' && out.route && !out.route.retry_policy) {
      out.route = { ...out.route, retry_policy: { num_retries: 0, per_try_timeout: durationOf(t.backendRequestMs) } };
    }
    return out;
  });
  return missingShare.length > 0 ? [...missingShare, ...decorated] : decorated;
}

/** What the routes of a virtual host are built from: a mesh route, or a route attached to a gateway listener. */
export type RouteSource = Pick<MeshRoute, 'kind' | 'namespace' | 'name' | 'rules'>;

/**
 * The Envoy routes of `routes`, in the spec's precedence. `policy`: the
 * TrafficPolicy of the service port they are attached to (a mesh route), if
 * any; a gateway listener has none.
 */
export function meshRoutes(routes: readonly RouteSource[], policy: EffectivePolicy | undefined, kind: ProxyKind): Route[] {
  const entries = routes.flatMap((route) => route.rules.flatMap((rule) => rule.matches.map((match, i) => ({ route, rule, match, i }))));
  const ordered = entries.length > 1 ? entries.toSorted((a, b) => comparePrecedence(a.match, b.match)) : entries;
  return ordered.flatMap((e) => matchRoutes(e.route, e.rule, e.match, e.i, policy, kind));
}
