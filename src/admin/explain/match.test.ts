/** Envoy's matching rules as `trellis explain` applies them (issue 13: explain a request). */
import { describe, expect, it } from 'vitest';
import { headerMatch, regexFullMatch, routeMatch, selectVirtualHost } from './match.ts';
import { evaluateRbac } from './rbac.ts';

const headers = new Map([[':method', 'GET'], ['x-canary', 'true']]);
const q = new URLSearchParams('a=1');

describe('explain: Envoy matching', () => {
  it('virtual hosts: exact, then the longest *.suffix, then prefix*, then *', () => {
    const v = (name: string, ...domains: string[]) => ({ name, domains });
    const vhosts = [v('any', '*'), v('pre', 'api*'), v('suf', '*.demo'), v('longsuf', '*.x.demo'), v('exact', 'web.demo')];
    expect(selectVirtualHost(vhosts, 'web.demo')?.name).toBe('exact');
    expect(selectVirtualHost(vhosts, 'a.x.demo')?.name).toBe('longsuf');
    expect(selectVirtualHost(vhosts, 'api.demo')?.name).toBe('suf');
    expect(selectVirtualHost(vhosts, 'api.other')?.name).toBe('pre');
    expect(selectVirtualHost(vhosts, 'WEB.DEMO')?.name).toBe('exact');
    expect(selectVirtualHost(vhosts.slice(1), 'other')).toBeUndefined();
  });

  it('safe_regex is a full match evaluated by RE2 itself, as Envoy does: where JavaScript RegExp would answer otherwise', () => {
    expect(regexFullMatch('true', 'true')).toEqual({ matched: true });
    expect(regexFullMatch('true', 'untrue')).toEqual({ matched: false });
    expect(regexFullMatch('a|b', 'ab')).toEqual({ matched: false });
    // RE2 syntax JavaScript cannot compile
    expect(regexFullMatch('(?i)canary', 'CANARY')).toEqual({ matched: true });
    expect(regexFullMatch('(?P<n>a)b', 'ab')).toEqual({ matched: true });
    expect(regexFullMatch('\\pN+', '42')).toEqual({ matched: true });
    // both compile, RE2 answers otherwise: '.' never matches a newline without (?s); \s is ASCII whitespace only
    expect(regexFullMatch('a.b', 'a\nb')).toEqual({ matched: false });
    expect(regexFullMatch('\\s', '\u00a0')).toEqual({ matched: false });
    expect(regexFullMatch('\\s', '\u000b')).toEqual({ matched: false });
    // JavaScript's lookahead is no RE2: Envoy would NACK it
    expect(regexFullMatch('(?=a)a', 'a').unknown).toMatch(/does not compile in RE2 \(invalid perl operator: \(\?=\): Envoy NACKs it/);
  });

  it('routes: path kinds, headers (inverted, absent), query parameters', () => {
    expect(routeMatch({ prefix: '/api' }, '/api/x', headers, q).matched).toBe(true);
    expect(routeMatch({ path: '/api' }, '/api/x', headers, q).matched).toBe(false);
    expect(routeMatch({ path_separated_prefix: '/api' }, '/apix', headers, q).matched).toBe(false);
    expect(routeMatch({ safe_regex: { regex: '/api/.*' } }, '/api/x', headers, q).matched).toBe(true);
    expect(routeMatch({ prefix: '/API', case_sensitive: false }, '/api', headers, q).matched).toBe(true);
    expect(routeMatch({ prefix: '/', query_parameters: [{ name: 'a', string_match: { exact: '1' } }] }, '/', headers, q).matched).toBe(true);
    expect(routeMatch({ prefix: '/', query_parameters: [{ name: 'b', present_match: true }] }, '/', headers, q).matched).toBe(false);
    expect(headerMatch({ name: 'x-canary', string_match: { exact: 'true' }, invert_match: true }, headers).matched).toBe(false);
    expect(headerMatch({ name: 'x-absent', string_match: { exact: 'true' } }, headers).matched).toBe(false);
    expect(headerMatch({ name: 'x-absent', present_match: false }, headers).matched).toBe(true);
  });

  it('RBAC: ALLOW needs a policy whose permission and principal both match; DENY refuses on a match', () => {
    const policies = { 'demo/t': { permissions: [{ url_path: { path: { prefix: '/api' } } }], principals: [{ authenticated: { principal_name: { exact: 'spiffe://a' } } }] } };
    const req = (path: string, principal?: string) => ({ path, headers, destinationPort: 8080, principal });
    expect(evaluateRbac({ rules: { action: 'ALLOW', policies } }, req('/api/x', 'spiffe://a'))).toMatchObject({ allowed: true, matchedPolicies: ['demo/t'] });
    expect(evaluateRbac({ rules: { action: 'ALLOW', policies } }, req('/api/x', 'spiffe://b')).allowed).toBe(false);
    expect(evaluateRbac({ rules: { action: 'ALLOW', policies } }, req('/api/x')).allowed).toBe(false); // no mTLS: no principal
    expect(evaluateRbac({ rules: { action: 'DENY', policies } }, req('/api/x', 'spiffe://a')).allowed).toBe(false);
    expect(evaluateRbac({}, req('/')).allowed).toBe(true);
  });
});
