/**
 * gateway.networking.k8s.io/v1 HTTPRoute, as the v1.6 standard-channel CRD
 * defines it: parentRefs, hostnames, and up to 16 rules of matches, filters,
 * weighted backendRefs and timeouts. Trellis serves the routes whose parents
 * are Services (the mesh, GAMMA: resolve/mesh-routes.ts); other parents get a
 * per-parent condition. Retries are not in the standard channel.
 * https://gateway-api.sigs.k8s.io/reference/spec/#httproute
 */
import type { Field } from '../field.ts';
import { checkRegexField, REGEX_EXPECTED } from '../regex.ts';
import type { GatewayMatch, ValueMatch } from '../types.ts';
import { backendObjectRef, headerName, hostnames, parentRefs, type BackendRefSpec, type ParentRefSpec } from './gateway-common.ts';
import { HTTP_METHODS } from './http-route-group.ts';
import type { KindSpec } from './kind.ts';
import { decodeFilters, type FilterSpec } from './route-filters.ts';

export interface BackendSpec extends BackendRefSpec {
  weight: number;
  filters: FilterSpec[];
}

export interface RouteRuleSpec {
  name: string;
  matches: GatewayMatch[];
  filters: FilterSpec[];
  backends: BackendSpec[];
  timeouts?: { requestMs?: number; backendRequestMs?: number };
  path: string;
}

export interface MeshRouteSpec {
  parentRefs: ParentRefSpec[];
  hostnames: string[];
  rules: RouteRuleSpec[];
}

const RULE_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror'];
const BACKEND_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier'];
export const DEFAULT_MATCH: GatewayMatch = { path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] };
const RULE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_WEIGHT = 1_000_000;

/** HTTPRoute and GRPCRoute share their shape; only a rule is read differently. */
export function meshRouteKind(kind: 'HTTPRoute' | 'GRPCRoute', rule: (r: Field, index: number, ns: string) => RouteRuleSpec | undefined): KindSpec<MeshRouteSpec> {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind,
    namespaced: true,
    topLevel: ['spec', 'status'],
    nameRule: 'subdomain',
    decode(root, ctx) {
      const spec = root.child('spec');
      if (!spec.object({ required: true, known: ['parentRefs', 'hostnames', 'rules'] })) return undefined;
      const parents = parentRefs(spec.child('parentRefs'), ctx.namespace);
      const hosts = hostnames(spec.child('hostnames'));
      const rules = decodeRules(spec.child('rules'), (r, i) => rule(r, i, ctx.namespace));
      return { parentRefs: parents, hostnames: hosts, rules };
    },
  };
}

export const httpRouteKind = meshRouteKind('HTTPRoute', (r, i, ns) => decodeHttpRule(r, i, ns));

/** Rules, at most 16, names unique; a route without rules has one default rule (CRD default). */
export function decodeRules(f: Field, rule: (r: Field, index: number) => RouteRuleSpec | undefined): RouteRuleSpec[] {
  const items = f.absent ? [] : f.list({ expected: 'a list of rules such as [{backendRefs: [{name: web-v1, port: 80}]}]' });
  if (items.length > 16) f.report('OutOfRange', `${items.length} rules; a route may have at most 16 (split it into several routes)`);
  const out: RouteRuleSpec[] = [];
  const names = new Map<string, number>();
  items.forEach((r, i) => {
    const decoded = rule(r, i);
    if (!decoded) return;
    if (!r.child('name').absent) {
      const first = names.get(decoded.name);
      if (first !== undefined) r.child('name').report('InvalidValue', `rule name "${decoded.name}" is already used by spec.rules[${first}]; rule names must be unique in a route`);
      names.set(decoded.name, i);
    }
    out.push(decoded);
  });
  return out;
}

export function ruleName(r: Field, index: number): string | undefined {
  if (r.child('name').absent) return String(index);
  return r.child('name').string({ pattern: RULE_NAME, maxLength: 63, expected: 'lower-case letters, digits and "-" (at most 63)' });
}

function decodeHttpRule(r: Field, index: number, ns: string): RouteRuleSpec | undefined {
  if (!r.object({ known: ['name', 'matches', 'filters', 'backendRefs', 'timeouts', 'sessionPersistence', 'retry'] })) return undefined;
  for (const k of ['sessionPersistence', 'retry']) {
    if (!r.child(k).absent) r.child(k).report('UnknownField', `${k} is an experimental-channel field; the standard-channel CRD Trellis installs does not have it`);
  }
  const name = ruleName(r, index);
  const matchItems = r.child('matches').absent ? [] : r.child('matches').list({ expected: 'a list of matches such as [{path: {type: PathPrefix, value: /api}}]' });
  if (matchItems.length > 64) r.child('matches').report('OutOfRange', `${matchItems.length} matches; at most 64 per rule`);
  const matches = matchItems.length === 0 ? [DEFAULT_MATCH] : matchItems.map(httpMatch).filter((m): m is GatewayMatch => m !== undefined);
  const filters = decodeFilters(r.child('filters'), { routeNamespace: ns, allowed: RULE_FILTERS });
  const backends = backendRefs(r.child('backendRefs'), ns, BACKEND_FILTERS);
  if (backends.length > 0 && filters.some((f) => f.type === 'RequestRedirect')) {
    r.child('filters').report('InvalidValue', 'a rule with a RequestRedirect filter answers the request itself; it may not have backendRefs (CRD rule)');
  }
  checkPrefixModifiers(r, matches, filters);
  const timeouts = ruleTimeouts(r.child('timeouts'));
  if (name === undefined) return undefined;
  return { name, matches, filters, backends, ...(timeouts ? { timeouts } : {}), path: r.path };
}

/** CRD rule: ReplacePrefixMatch needs exactly one match, a PathPrefix one. */
function checkPrefixModifiers(r: Field, matches: readonly GatewayMatch[], filters: readonly FilterSpec[]): void {
  const prefix = filters.some((f) => (f.type === 'RequestRedirect' || f.type === 'URLRewrite') && f.path?.type === 'ReplacePrefixMatch');
  if (prefix && (matches.length !== 1 || matches[0]!.path.type !== 'PathPrefix')) {
    r.child('filters').report('InvalidValue', 'ReplacePrefixMatch needs the rule to have exactly one match, of type PathPrefix (the prefix it replaces)');
  }
}

function ruleTimeouts(f: Field): RouteRuleSpec['timeouts'] {
  if (f.absent || !f.object({ known: ['request', 'backendRequest'] })) return undefined;
  const requestMs = f.child('request').absent ? undefined : f.child('request').duration();
  const backendRequestMs = f.child('backendRequest').absent ? undefined : f.child('backendRequest').duration();
  // GEP-1742: backendRequest must not exceed request (0 = no timeout).
  if (requestMs && backendRequestMs && backendRequestMs > requestMs) f.child('backendRequest').report('OutOfRange', 'backendRequest must not exceed request (each attempt fits in the whole request)');
  return { ...(requestMs !== undefined ? { requestMs } : {}), ...(backendRequestMs !== undefined ? { backendRequestMs } : {}) };
}

export function backendRefs(f: Field, ns: string, filterTypes: readonly string[]): BackendSpec[] {
  if (f.absent) return [];
  const items = f.list({ expected: 'a list of backends such as [{name: web-v1, port: 80, weight: 90}]' });
  if (items.length > 16) f.report('OutOfRange', `${items.length} backendRefs; at most 16 per rule`);
  const out: BackendSpec[] = [];
  for (const b of items) {
    const ref = backendObjectRef(b, ns, ['weight', 'filters']);
    const weight = b.child('weight').absent ? 1 : b.child('weight').integer({ min: 0, max: MAX_WEIGHT });
    const filters = decodeFilters(b.child('filters'), { routeNamespace: ns, allowed: filterTypes, backendLevel: true });
    if (ref && weight !== undefined) out.push({ ...ref, weight, filters });
  }
  return out;
}

function httpMatch(m: Field): GatewayMatch | undefined {
  if (!m.object({ known: ['path', 'headers', 'queryParams', 'method'] })) return undefined;
  let path: GatewayMatch['path'] = DEFAULT_MATCH.path;
  const p = m.child('path');
  if (!p.absent && p.object({ known: ['type', 'value'] })) {
    const type = (p.child('type').absent ? 'PathPrefix' : p.child('type').string({ oneOf: ['Exact', 'PathPrefix', 'RegularExpression'] })) as GatewayMatch['path']['type'] | undefined;
    const value = p.child('value').absent ? '/' : p.child('value').string({ maxLength: 1024, expected: type === 'RegularExpression' ? REGEX_EXPECTED : 'a path starting with "/"' });
    if (type === undefined || value === undefined) return undefined;
    if (type === 'RegularExpression') {
      if (!checkRegexField(p.child('value'), value)) return undefined;
    } else if (!value.startsWith('/') || /\/\/|\/\.\.?(\/|$)|%2f|#/i.test(value)) {
      p.child('value').report('InvalidValue', `"${value}" is not a valid ${type} path; expected an absolute path starting with "/", without "//", "/./", "/../", "%2f" or "#"`);
      return undefined;
    }
    path = { type, value };
  }
  const headers = valueMatches(m.child('headers'), 'header', true);
  const queryParams = valueMatches(m.child('queryParams'), 'query parameter', false);
  const method = m.child('method').absent ? undefined : m.child('method').string({ oneOf: HTTP_METHODS.filter((x) => x !== '*') });
  if (headers === undefined || queryParams === undefined || (!m.child('method').absent && method === undefined)) return undefined;
  return { path, headers, queryParams, ...(method ? { method } : {}) };
}

/** Header and query-parameter matches: Exact (default) or RE2; names unique (headers case-insensitively). */
export function valueMatches(f: Field, what: string, lowerCase: boolean): ValueMatch[] | undefined {
  if (f.absent) return [];
  const out: ValueMatch[] = [];
  let ok = true;
  const seen = new Set<string>();
  for (const h of f.list()) {
    if (!h.object({ known: ['type', 'name', 'value'] })) { ok = false; continue; }
    const type = (h.child('type').absent ? 'Exact' : h.child('type').string({ oneOf: ['Exact', 'RegularExpression'] })) as ValueMatch['type'] | undefined;
    const name = headerName(h.child('name'), `a ${what} name`);
    const value = h.child('value').string({ required: true, maxLength: 4096, allowEmpty: type === 'Exact' });
    if (type === undefined || name === undefined || value === undefined) { ok = false; continue; }
    if (type === 'RegularExpression' && !checkRegexField(h.child('value'), value)) { ok = false; continue; }
    const key = lowerCase ? name.toLowerCase() : name;
    // The spec: the first entry with a name wins, later ones with the same name are ignored.
    if (seen.has(key)) {
      h.child('name').warn('Ignored', `${what} "${name}" is already matched by an earlier entry; this one is ignored (Gateway API: the first wins)`);
      continue;
    }
    seen.add(key);
    out.push({ type, name: key, value });
  }
  return ok ? out : undefined;
}
