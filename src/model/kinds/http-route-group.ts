/**
 * specs.smi-spec.io/v1alpha4 HTTPRouteGroup: named HTTP request matches that
 * TrafficSplits, TrafficTargets and TrafficPolicies refer to.
 * https://github.com/servicemeshinterface/smi-spec/blob/main/apis/traffic-specs/v1alpha4/traffic-specs.md
 *
 * `headers` is a list of single-entry mappings in the SMI CRD schema
 * (`- user-agent: ".*Firefox.*"`); the SMI Go types use one mapping. Both are
 * read. Header values and pathRegex are RE2 regular expressions.
 */
import type { Field } from '../field.ts';
import { checkRegexField, REGEX_EXPECTED } from '../regex.ts';
import type { KindSpec } from './kind.ts';

export interface HttpMatchSpec {
  name: string;
  pathRegex?: string;
  methods: string[];
  headers: { name: string; valueRegex: string }[];
}

export interface HttpRouteGroupSpec {
  matches: HttpMatchSpec[];
}

export const HTTP_METHODS = ['*', 'GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;
const MATCH_FIELDS = ['name', 'pathRegex', 'methods', 'headers'] as const;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const httpRouteGroupKind: KindSpec<HttpRouteGroupSpec> = {
  apiVersion: 'specs.smi-spec.io/v1alpha4',
  kind: 'HTTPRouteGroup',
  namespaced: true,
  topLevel: ['spec'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: ['matches'] })) return undefined;
    const matches: HttpMatchSpec[] = [];
    const names = new Map<string, number>();
    spec.child('matches').list({ required: true, minItems: 1, expected: 'a list of matches such as [{name: api, pathRegex: "/api/.*"}]' }).forEach((m, i) => {
      const match = decodeMatch(m);
      if (!match) return;
      const first = names.get(match.name);
      if (first !== undefined) {
        m.child('name').report('InvalidValue', `match name "${match.name}" is already used by spec.matches[${first}]; match names must be unique within a group`);
        return;
      }
      names.set(match.name, i);
      matches.push(match);
    });
    return { matches };
  },
};

function decodeMatch(m: Field): HttpMatchSpec | undefined {
  if (!m.object({ known: MATCH_FIELDS })) return undefined;
  const name = m.child('name').string({ required: true, expected: 'a name for this match, used by TrafficTarget rules' });
  let pathRegex: string | undefined;
  const pathField = m.child('pathRegex');
  if (!pathField.absent) {
    pathRegex = pathField.string({ expected: REGEX_EXPECTED });
    if (pathRegex !== undefined) checkRegexField(pathField, pathRegex);
  }
  const methods: string[] = [];
  if (!m.child('methods').absent) {
    for (const f of m.child('methods').list()) {
      const v = f.string({ oneOf: HTTP_METHODS });
      if (v !== undefined) methods.push(v);
    }
  }
  const headers = decodeHeaders(m.child('headers'));
  if (name === undefined || headers === undefined) return undefined;
  // SMI "*" is any method; so is an empty list.
  const anyMethod = methods.length === 0 || methods.includes('*');
  return { name, ...(pathRegex !== undefined ? { pathRegex } : {}), methods: anyMethod ? [] : [...new Set(methods)], headers };
}

function decodeHeaders(field: Field): HttpMatchSpec['headers'] | undefined {
  if (field.absent) return [];
  const entries: [string, Field][] = Array.isArray(field.value)
    ? field.list().flatMap((item) => item.entries({ expected: 'a mapping of header name to value regex' }))
    : field.entries({ expected: 'a list of header matches such as [{x-canary: "true"}]' });
  const headers: HttpMatchSpec['headers'] = [];
  let ok = true;
  for (const [name, f] of entries) {
    const value = f.string({ expected: `an RE2 regex the "${name}" header must match` });
    if (!HEADER_NAME.test(name)) {
      f.report('InvalidValue', `"${name}" is not a valid header name; expected letters, digits and "-"`);
      ok = false;
      continue;
    }
    if (value === undefined) {
      ok = false;
      continue;
    }
    if (!checkRegexField(f, value)) {
      ok = false;
      continue;
    }
    headers.push({ name: name.toLowerCase(), valueRegex: value });
  }
  return ok ? headers : undefined;
}

/** A reference to an HTTPRouteGroup (and optionally some of its matches) or, in TrafficTarget rules, a TCPRoute. */
export interface RouteGroupRef {
  kind: 'HTTPRouteGroup' | 'TCPRoute';
  name: string;
  /** Match names; undefined means the whole group. */
  matches?: string[];
  /** Path of the reference, for problems found when resolving it. */
  path: string;
}

/**
 * `allowTcp`: TrafficTarget rules may name a TCPRoute (connections, not
 * requests: it has no match names). TrafficSplits and TrafficPolicies route
 * HTTP requests, so they take HTTPRouteGroups only.
 */
export function decodeRouteGroupRef(f: Field, opts: { allowMatches: boolean; allowTcp?: boolean }): RouteGroupRef | undefined {
  if (!f.object({ known: opts.allowMatches ? ['kind', 'name', 'matches'] : ['kind', 'name'] })) return undefined;
  const kinds = opts.allowTcp ? ['HTTPRouteGroup', 'TCPRoute'] : ['HTTPRouteGroup'];
  const kind = f.child('kind').string({ required: true, expected: kinds.join(' or ') });
  if (kind !== undefined && !kinds.includes(kind)) {
    const why = kind === 'TCPRoute' ? ': a TCPRoute carries connections, not requests to route; TrafficTarget rules take it' : '';
    f.child('kind').report('InvalidValue', `"${kind}" routes are not supported here${why}; expected ${kinds.join(' or ')}`);
  }
  const name = f.child('name').string({ required: true, expected: `the name of ${kind === 'TCPRoute' ? 'a TCPRoute' : 'an HTTPRouteGroup'} in this namespace` });
  let matches: string[] | undefined;
  if (opts.allowMatches && !f.child('matches').absent) {
    if (kind === 'TCPRoute') {
      f.child('matches').report('InvalidValue', 'a TCPRoute has no named matches: its ports are all it allows; leave matches out');
    } else {
      matches = f.child('matches').list({ minItems: 1, expected: 'match names of the HTTPRouteGroup; leave it out for all of them' })
        .map((m) => m.string({ expected: 'a match name' }))
        .filter((m): m is string => m !== undefined);
    }
  }
  if (name === undefined || kind === undefined || !kinds.includes(kind)) return undefined;
  return { kind: kind as RouteGroupRef['kind'], name, ...(matches ? { matches } : {}), path: f.path };
}
