/**
 * Gateway API route matches (HTTPRouteMatch, and GRPCRoute method matches
 * turned into paths) as Envoy RouteMatches, and the precedence the spec
 * gives them. Pure.
 * https://gateway-api.sigs.k8s.io/reference/spec/#httprouterule (precedence)
 */
import type { GatewayMatch } from '../model/types.ts';
import type { HeaderMatcher, RouteMatch } from '../xds/envoy-types.ts';
import { wholeValueRegex } from './match.ts';
import type { ProxyKind } from './proxy.ts';

/** RE2 QuoteMeta: a literal inside a regex. */
export function quoteRe2(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** A PathPrefix value as the spec reads it: "/foo/" and "/foo" are the same prefix, matching whole segments. */
export function prefixOf(value: string): string {
  return value === '/' ? '/' : value.replace(/\/+$/, '');
}

/**
 * envoy.config.route.v3.RouteMatch. PathPrefix matches whole path segments
 * (`/v2` takes `/v2` and `/v2/x`, not `/v2example`): Envoy's
 * path_separated_prefix; gRPC clients know only prefix, path and safe_regex
 * (gRFC A28), so they get the same set as a regex.
 */
export function gatewayRouteMatch(m: GatewayMatch, kind: ProxyKind, onlyMethods?: readonly string[]): RouteMatch {
  let match: RouteMatch;
  const { type, value } = m.path;
  if (type === 'Exact') match = { path: value };
  else if (type === 'RegularExpression') match = { safe_regex: { regex: wholeValueRegex(value) } };
  else if (prefixOf(value) === '/') match = { prefix: '/' };
  else if (kind === 'proxyless') match = { safe_regex: { regex: `${quoteRe2(prefixOf(value))}(/.*)?` } };
  else match = { path_separated_prefix: prefixOf(value) };
  const headers: HeaderMatcher[] = m.headers.map((h) => ({
    name: h.name,
    string_match: h.type === 'Exact' ? { exact: h.value } : { safe_regex: { regex: wholeValueRegex(h.value) } },
  }));
  const methods = m.method ? (onlyMethods ? [m.method].filter((x) => onlyMethods.includes(x)) : [m.method]) : onlyMethods;
  if (methods) headers.push({ name: ':method', string_match: { safe_regex: { regex: `^(${(methods.length ? methods : ['-none-']).join('|')})$` } } });
  if (headers.length > 0) match.headers = headers;
  if (m.queryParams.length > 0) {
    match.query_parameters = m.queryParams.map((q) => ({
      name: q.name,
      string_match: q.type === 'Exact' ? { exact: q.value } : { safe_regex: { regex: wholeValueRegex(q.value) } },
    }));
  }
  return match;
}

const PATH_RANK = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as const;

/**
 * Negative when `a` takes precedence over `b` (HTTPRoute spec): an exact path
 * before a prefix, a longer prefix before a shorter one, a method match before
 * none, more header matches, then more query-parameter matches. A regex path
 * (implementation-specific) sits between exact and prefix paths. Ties keep
 * their order: oldest route first, then rule and match order.
 */
export function comparePrecedence(a: GatewayMatch, b: GatewayMatch): number {
  const rank = PATH_RANK[a.path.type] - PATH_RANK[b.path.type];
  if (rank !== 0) return rank;
  if (a.path.type === 'PathPrefix') {
    const len = prefixOf(b.path.value).length - prefixOf(a.path.value).length;
    if (len !== 0) return len;
  }
  return Number(!a.method) - Number(!b.method) || b.headers.length - a.headers.length || b.queryParams.length - a.queryParams.length;
}
