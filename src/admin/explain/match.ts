/**
 * Envoy's request matching, as the router and the RBAC filter apply it to
 * served resources (proto JSON, snake_case): string matchers, header and
 * query matchers, route matches, virtual host domains. Pure.
 *
 * safe_regex is RE2 with a full match (Envoy's CompiledGoogleReMatcher::match
 * is RE2::FullMatch): it is evaluated by RE2 itself, through the native
 * checker Trellis validates regexes with (model/re2.ts), never by JavaScript's
 * RegExp, whose syntax and semantics differ (`(?i)`, `(?P<n>…)`, `\C`, `\z`,
 * lookaround, what `.` and `\s` match).
 */
import { re2FullMatch } from '../../model/re2.ts';

type Json = Record<string, unknown>;

/** A matcher verdict; `unknown` carries why it could not be evaluated. */
export type Verdict = { matched: boolean; unknown?: string };

const yes: Verdict = { matched: true };
const no: Verdict = { matched: false };

/** Throws Re2MissingError (the CLI's one-line "build the RE2 checker") when the addon is not built. */
export function regexFullMatch(pattern: string, text: string): Verdict {
  const v = re2FullMatch(pattern, text);
  // Trellis validated it before serving: a pattern RE2 refuses was written by hand (--resources).
  if (!v.ok) return { matched: false, unknown: `regex ${JSON.stringify(pattern)} does not compile in RE2 (${v.error}): Envoy NACKs it` };
  return { matched: v.matched };
}

/** envoy.type.matcher.v3.StringMatcher. */
export function stringMatch(m: Json, value: string): Verdict {
  const ci = m.ignore_case === true;
  const v = ci ? value.toLowerCase() : value;
  const lit = (k: string) => (ci ? String(m[k]).toLowerCase() : String(m[k]));
  if (typeof m.exact === 'string') return { matched: v === lit('exact') };
  if (typeof m.prefix === 'string') return { matched: v.startsWith(lit('prefix')) };
  if (typeof m.suffix === 'string') return { matched: v.endsWith(lit('suffix')) };
  if (typeof m.contains === 'string') return { matched: v.includes(lit('contains')) };
  const sr = m.safe_regex as Json | undefined;
  if (sr && typeof sr.regex === 'string') return regexFullMatch(sr.regex, value);
  return { matched: false, unknown: `string matcher ${JSON.stringify(m)} not understood` };
}

/** Lower-cased header map; pseudo-headers (:method, :path, :authority, :scheme) included. */
export type Headers = ReadonlyMap<string, string>;

/** envoy.config.route.v3.HeaderMatcher (also RBAC's `header` permission and principal). */
export function headerMatch(h: Json, headers: Headers): Verdict {
  const value = headers.get(String(h.name).toLowerCase());
  let v: Verdict;
  if (h.present_match !== undefined) v = { matched: (value !== undefined) === (h.present_match !== false) };
  else if (value === undefined) v = no;
  else if (h.string_match) v = stringMatch(h.string_match as Json, value);
  else if (typeof h.exact_match === 'string') v = { matched: value === h.exact_match };
  else if (typeof h.prefix_match === 'string') v = { matched: value.startsWith(h.prefix_match) };
  else if (typeof h.suffix_match === 'string') v = { matched: value.endsWith(h.suffix_match) };
  else if (typeof h.contains_match === 'string') v = { matched: value.includes(h.contains_match) };
  else if (h.safe_regex_match) v = regexFullMatch(String((h.safe_regex_match as Json).regex), value);
  else v = yes; // no value matcher: presence is enough
  if (v.unknown) return v;
  // Envoy's invert_match flips the result (an absent header then matches).
  if (h.invert_match === true) return { matched: !v.matched };
  return v;
}

/** envoy.config.route.v3.QueryParameterMatcher. */
export function queryMatch(q: Json, query: URLSearchParams): Verdict {
  const value = query.get(String(q.name));
  if (q.present_match !== undefined) return { matched: (value !== null) === (q.present_match === true) };
  if (value === null) return no;
  return q.string_match ? stringMatch(q.string_match as Json, value) : yes;
}

/** All of `verdicts` (each already computed): unknown wins over a match, a miss wins over unknown. */
export function all(verdicts: Verdict[]): Verdict {
  if (verdicts.some((v) => !v.matched && !v.unknown)) return no;
  const unknown = verdicts.find((v) => v.unknown);
  return unknown ?? yes;
}

export function any(verdicts: Verdict[]): Verdict {
  if (verdicts.some((v) => v.matched)) return yes;
  return verdicts.find((v) => v.unknown) ?? no;
}

/** envoy.config.route.v3.RouteMatch against a path (without query), headers and query. */
export function routeMatch(m: Json, path: string, headers: Headers, query: URLSearchParams): Verdict {
  const ci = m.case_sensitive === false;
  const p = ci ? path.toLowerCase() : path;
  const lit = (k: string) => (ci ? String(m[k]).toLowerCase() : String(m[k]));
  let pathV: Verdict;
  if (typeof m.prefix === 'string') pathV = { matched: p.startsWith(lit('prefix')) };
  else if (typeof m.path === 'string') pathV = { matched: p === lit('path') };
  else if (typeof m.path_separated_prefix === 'string') {
    const pre = lit('path_separated_prefix');
    pathV = { matched: p === pre || p.startsWith(`${pre}/`) };
  } else if (m.safe_regex) pathV = regexFullMatch(String((m.safe_regex as Json).regex), path);
  else return { matched: false, unknown: `route match ${JSON.stringify(m)} not understood` };
  const hs = ((m.headers as Json[] | undefined) ?? []).map((h) => headerMatch(h, headers));
  const qs = ((m.query_parameters as Json[] | undefined) ?? []).map((q) => queryMatch(q, query));
  return all([pathV, ...hs, ...qs]);
}

/**
 * Envoy's virtual host selection for a Host/authority: an exact domain, then
 * the longest `*.suffix` wildcard, then the longest `prefix*`, then `*`.
 * Domains compare case-insensitively.
 */
export function selectVirtualHost<V extends { domains?: unknown }>(vhosts: readonly V[], authority: string): V | undefined {
  const host = authority.toLowerCase();
  const domainsOf = (v: V) => ((v.domains as string[] | undefined) ?? []).map((d) => d.toLowerCase());
  const exact = vhosts.find((v) => domainsOf(v).includes(host));
  if (exact) return exact;
  let best: { v: V; len: number; rank: number } | undefined;
  for (const v of vhosts) {
    for (const d of domainsOf(v)) {
      const rank = d === '*' ? 0 : d.startsWith('*') && host.endsWith(d.slice(1)) && host.length > d.length - 1 ? 2 : d.endsWith('*') && host.startsWith(d.slice(0, -1)) && host.length > d.length - 1 ? 1 : -1;
      if (rank < 0) continue;
      if (!best || rank > best.rank || (rank === best.rank && d.length > best.len)) best = { v, len: d.length, rank };
    }
  }
  return best?.v;
}
