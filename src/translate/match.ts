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

/** envoy.config.route.v3.RouteMatch for one HTTPRouteGroup match, optionally limited to some methods. */
export function routeMatch(m: HttpMatch | undefined, onlyMethods?: readonly string[]): RouteMatch {
  const match: RouteMatch = m?.pathRegex ? { safe_regex: { regex: m.pathRegex } } : { prefix: '/' };
  const headers: HeaderMatcher[] = [];
  const methods = m && m.methods.length > 0 ? m.methods : undefined;
  if (methods && onlyMethods) {
    const both = methods.filter((x) => onlyMethods.includes(x));
    headers.push({ name: ':method', string_match: regexMatcher(anyOf(both.length > 0 ? both : ['-none-'])) });
  } else if (methods || onlyMethods) {
    headers.push({ name: ':method', string_match: regexMatcher(anyOf((methods ?? onlyMethods)!)) });
  }
  for (const h of m?.headers ?? []) headers.push({ name: h.name, string_match: regexMatcher(h.valueRegex) });
  if (headers.length > 0) match.headers = headers;
  return match;
}

/** envoy.config.rbac.v3.Permission for one match. */
export function rbacPermission(m: HttpMatch): RbacPermission {
  const rules: RbacPermission[] = [];
  if (m.pathRegex) rules.push({ url_path: { path: regexMatcher(m.pathRegex) } });
  if (m.methods.length > 0) rules.push({ header: { name: ':method', string_match: regexMatcher(anyOf(m.methods)) } });
  for (const h of m.headers) rules.push({ header: { name: h.name, string_match: regexMatcher(h.valueRegex) } });
  if (rules.length === 0) return { any: true };
  return { and_rules: { rules } };
}
