/**
 * issue 10: Gateway API mesh routes as Envoy routes — precedence, filters,
 * the 500 share of a missing backend, consumer routes, and the rule for a
 * service that both a TrafficSplit and an HTTPRoute address.
 */
import { describe, expect, it } from 'vitest';
import { buildWith } from '../model/testing.ts';
import { vhost, WEIGHTED } from './route-fixtures.ts';

const route = (name: string, spec: string, ns = 'demo') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
---
`;
const PARENT = 'parentRefs: [{group: "", kind: Service, name: web, port: 8080}]';

describe('issue 10: HTTPRoute mesh routing in the outbound virtual host', () => {
  it('orders rules by the spec\'s precedence: exact, then the longest prefix, then more headers; ties by route age', () => {
    const m = buildWith(route('b-younger', `
${PARENT}
rules:
- matches: [{path: {type: PathPrefix, value: /}}]
  backendRefs: [{name: web-v1, port: 8080}]
- matches: [{path: {type: PathPrefix, value: /v2/}}, {path: {type: Exact, value: /exact}}, {headers: [{name: Version, value: two}]}]
  backendRefs: [{name: web-v2, port: 8080}]
`) + route('a-older', `
${PARENT}
rules:
- matches: [{path: {type: PathPrefix, value: /}}]
  backendRefs: [{name: web-v2, port: 8080}]
`)).model;
    const routes = vhost(m).routes;
    expect(routes.map((r) => r.name)).toEqual([
      'httproute/demo/b-younger/1/1', // Exact
      'httproute/demo/b-younger/1/0', // /v2
      'httproute/demo/b-younger/1/2', // "/" with a header
      'httproute/demo/a-older/0/0', // "/", older route (by name, files have no creation time)
      'httproute/demo/b-younger/0/0',
    ]);
    expect(routes[0]!.match).toEqual({ path: '/exact' });
    expect(routes[1]!.match).toEqual({ path_separated_prefix: '/v2' });
    expect(routes[2]!.match).toEqual({ prefix: '/', headers: [{ name: 'version', string_match: { exact: 'two' } }] });
    expect(routes.every((r) => r.name !== 'default'), 'no fall-through: an unmatched request gets 404').toBe(true);
  });

  it('weighted backends, a missing backend\'s share answered with 500 (a twin route taking that fraction), header modifiers, mirror, timeouts', () => {
    const m = buildWith(route('web', `
${PARENT}
rules:
- matches: [{queryParams: [{name: animal, value: whale}], method: GET}]
  filters:
  - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-set, value: s}], add: [{name: x-add, value: a}], remove: [x-gone]}}
  - {type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: x-resp, value: r}]}}
  - {type: RequestMirror, requestMirror: {backendRef: {name: api, port: 8080}, percent: 25}}
  backendRefs:
  - {name: web-v1, port: 8080, weight: 3, filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-backend, value: v1}]}}]}
  - {name: web-v9, port: 8080, weight: 1}
  timeouts: {request: 10s, backendRequest: 2s}
`)).model;
    const [missing, r] = vhost(m).routes;
    // web-v9 does not exist: its share (1 of 4) is answered with 500 by a twin route taking that fraction first.
    expect(missing).toMatchObject({
      name: 'httproute/demo/web/0/0/backend-not-found',
      match: { query_parameters: [{ name: 'animal', string_match: { exact: 'whale' } }], runtime_fraction: { default_value: { numerator: 250000, denominator: 'MILLION' } } },
      direct_response: { status: 500 },
    });
    expect(r!.match).toEqual({
      prefix: '/',
      headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(GET)$' } } }],
      query_parameters: [{ name: 'animal', string_match: { exact: 'whale' } }],
    });
    expect(r!.route).toMatchObject({
      weighted_clusters: { clusters: [
        { name: 'web-v1.demo:8080', weight: 3, request_headers_to_add: [{ header: { key: 'x-backend', value: 'v1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }] },
      ] },
      request_mirror_policies: [{ cluster: 'api.demo:8080', runtime_fraction: { default_value: { numerator: 250000, denominator: 'MILLION' } } }],
      timeout: '10s',
      retry_policy: { num_retries: 0, per_try_timeout: '2s' },
    });
    expect(r).toMatchObject({
      request_headers_to_add: [
        { header: { key: 'x-set', value: 's' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        { header: { key: 'x-add', value: 'a' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
      ],
      request_headers_to_remove: ['x-gone'],
      response_headers_to_add: [{ header: { key: 'x-resp', value: 'r' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    });
  });

  it('redirects and rewrites: status, scheme (with its port), host, full path and prefix without doubled slashes', () => {
    const m = buildWith(route('web', `
${PARENT}
rules:
- matches: [{path: {type: PathPrefix, value: /old}}]
  filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: example.org, statusCode: 301, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]
- matches: [{path: {type: PathPrefix, value: /strip}}]
  filters: [{type: URLRewrite, urlRewrite: {hostname: rewritten, path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
  backendRefs: [{name: web-v1, port: 8080}]
- matches: [{path: {type: Exact, value: /full}}]
  filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one}}}]
  backendRefs: [{name: web-v1, port: 8080}]
`)).model;
    const byName = Object.fromEntries(vhost(m).routes.map((r) => [r.name.split('/').slice(3).join('/'), r]));
    expect(byName['0/0']!.redirect).toEqual({ response_code: 'MOVED_PERMANENTLY', scheme_redirect: 'https', host_redirect: 'example.org', port_redirect: 443, regex_rewrite: { pattern: { regex: '^/old' }, substitution: '/new' } });
    expect(byName['1/0']!.route).toMatchObject({ host_rewrite_literal: 'rewritten', regex_rewrite: { pattern: { regex: '^/strip/*' }, substitution: '/' } });
    expect(byName['2/0']!.route).toMatchObject({ regex_rewrite: { pattern: { regex: '^/.*$' }, substitution: '/one' } });
  });

  it('a consumer route applies to callers of its namespace only, replacing the producer routes for them', () => {
    const m = buildWith(`apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
${route('producer', `
${PARENT}
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`)}${route('consumer', `
parentRefs: [{group: "", kind: Service, name: web, namespace: demo}]
rules: [{backendRefs: [{name: web-v2, namespace: demo, port: 8080}]}]
`, 'shop')}`).model;
    expect(vhost(m, { callerNamespace: 'shop' }).routes.map((r) => [r.name, r.route.cluster])).toEqual([['httproute/shop/consumer/0/0', 'web-v2.demo:8080']]);
    expect(vhost(m, { callerNamespace: 'demo' }).routes.map((r) => [r.name, r.route.cluster])).toEqual([['httproute/demo/producer/0/0', 'web-v1.demo:8080']]);
  });

  it('a service both a TrafficSplit and an HTTPRoute address: the HTTPRoute routes the ports it is attached to, the split the others', () => {
    const m = buildWith(WEIGHTED + route('web', `
${PARENT}
rules: [{backendRefs: [{name: web-v2, port: 8080}]}]
`)).model;
    expect(vhost(m).routes.map((r) => [r.name, r.route.cluster])).toEqual([['httproute/demo/web/0/0', 'web-v2.demo:8080']]);
    expect(vhost(m, { port: 9090 }).routes.map((r) => r.name)).toEqual(['default']);
    expect(vhost(m, { port: 9090 }).routes[0]!.route.weighted_clusters.clusters.map((c: { name: string }) => c.name)).toEqual(['web-v1.demo:9090', 'web-v2.demo:9090']);
    const split = buildWith(WEIGHTED + route('web', `
${PARENT}
rules: [{backendRefs: [{name: web-v2, port: 8080}]}]
`)).statuses.find((s) => s.kind === 'TrafficSplit')!;
    expect(split.problems.map((p) => [p.severity, p.reason, p.field, p.message.includes('port 8080')])).toEqual([['warning', 'Ignored', 'spec.service', true]]);
  });

  it('proxyless gRPC clients get the same routes with the matches they understand (no path_separated_prefix, no redirects)', () => {
    const m = buildWith(route('web', `
${PARENT}
rules:
- matches: [{path: {type: PathPrefix, value: /echo.Echo}}]
  backendRefs: [{name: web-v2, port: 8080}]
`)).model;
    expect(vhost(m, { kind: 'proxyless' }).routes[0]!.match).toEqual({ safe_regex: { regex: '/echo\\.Echo(/.*)?' } });
  });
});
