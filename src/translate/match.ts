/**
 * SMI HTTPRouteGroup matches as Envoy route matches and RBAC permissions.
 * Both use RE2 (`safe_regex`), the dialect SMI's pathRegex is written in.
 */
import type { HttpMatch } from '../model/types.ts';
import type { HeaderMatcher, RbacPermission, RegexMatcher, RouteMatch } from '../xds/envoy-types.ts';

function anyOf(values: readonly string[]): string {
  return `^(${values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`;
}

function regexMatcher(regex: string): { safe_regex: RegexMatcher } {
  return { safe_regex: { regex } };
}

/**
 * An operator's regex as sent. Envoy and gRPC C-core match safe_regex against
 * the whole value, but grpc-js compiles `^${regex}$`, which splits a top-level
 * alternation: `/a|/b` would match "/a/anything" on proxyless clients. In a
 * non-capturing group every client reads it alike, with the same RE2 program
 * (same size, so validation's verdict holds). A `\Q` quote runs to the end of
 * the pattern and would swallow the `)`, so such a pattern is left alone.
 */
export function wholeValueRegex(regex: string): string {
  return regex.includes('|') && !regex.includes('\\Q') ? `(?:${regex})` : regex;
}

/** envoy.config.route.v3.RouteMatch for one HTTPRouteGroup match, optionally limited to some methods. */
export function routeMatch(m: HttpMatch | undefined, onlyMethods?: readonly string[]): RouteMatch {
  const match: RouteMatch = m?.pathRegex ? regexMatcher(wholeValueRegex(m.pathRegex)) : { prefix: '/' };
  const headers: HeaderMatcher[] = [];
  const methods = m && m.methods.length > 0 ? m.methods : undefined;
  if (methods && onlyMethods) {
    const both = methods.filter((x) => onlyMethods.includes(x));
    headers.push({ name: ':method', string_match: regexMatcher(anyOf(both.length > 0 ? both : ['-none-'])) });
  } else if (methods || onlyMethods) {
    headers.push({ name: ':method', string_match: regexMatcher(anyOf((methods ?? onlyMethods)!)) });
  }
  for (const h of m?.headers ?? []) headers.push({ name: h.name, string_match: regexMatcher(wholeValueRegex(h.valueRegex)) });
  if (headers.length > 0) match.headers = headers;
  return match;
}

/** envoy.config.rbac.v3.Permission for one match. */
export function rbacPermission(m: HttpMatch): RbacPermission {
  const rules: RbacPermission[] = [];
  if (m.pathRegex) rules.push({ url_path: { path: regexMatcher(wholeValueRegex(m.pathRegex)) } });
  if (m.methods.length > 0) rules.push({ header: { name: ':method', string_match: regexMatcher(anyOf(m.methods)) } });
  for (const h of m.headers) rules.push({ header: { name: h.name, string_match: regexMatcher(wholeValueRegex(h.valueRegex)) } });
  if (rules.length === 0) return { any: true };
  return { and_rules: { rules } };
}
