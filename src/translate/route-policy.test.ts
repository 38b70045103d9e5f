import { describe, expect, it } from 'vitest';
import { encodeResource } from '../cache/resource.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import type { ProxyKind } from './proxy.ts';
import { virtualHost } from './routes.ts';
import { deepFreeze, meshWith, unknownEnums } from './testing.ts';
import { CANARY, GROUP, METHOD_IDEMPOTENT, policy, vhost, type Route } from './route-fixtures.ts';

describe('virtualHost: retries, timeouts, hashing', () => {
  const RETRY_ON = '5xx,reset,connect-failure,refused-stream,unavailable';
  const PREVIOUS_HOSTS = [
    { name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } },
  ];
  const cases: { name: string; intents: string; kind?: ProxyKind; port?: number; want: Partial<Route>[] }[] = [
    {
      name: 'envoy, default methods: an idempotent-only twin with the retry policy, then the plain route',
      intents: policy('retries: {attempts: 2}'),
      want: [
        {
          name: 'default/retry',
          match: { prefix: '/', headers: [METHOD_IDEMPOTENT] },
          route: { cluster: 'web.demo:8080', retry_policy: { retry_on: RETRY_ON, num_retries: 2, retry_host_predicate: PREVIOUS_HOSTS, host_selection_retry_max_attempts: 5 } },
        },
        { name: 'default', match: { prefix: '/' }, route: { cluster: 'web.demo:8080' } },
      ],
    },
    {
      name: 'envoy, every method ("*"): one route that retries',
      intents: policy('retries: {attempts: 3, methods: ["*"], retriableStatusCodes: [503]}\ntimeouts: {request: 2s, perTry: 500ms}'),
      want: [
        {
          name: 'default',
          match: { prefix: '/' },
          route: {
            cluster: 'web.demo:8080',
            timeout: '2s',
            retry_policy: {
              retry_on: `${RETRY_ON},retriable-status-codes`,
              num_retries: 3,
              retry_host_predicate: PREVIOUS_HOSTS,
              host_selection_retry_max_attempts: 5,
              retriable_status_codes: [503],
              per_try_timeout: '0.5s',
            },
          },
        },
      ],
    },
    {
      name: 'envoy, listed methods intersected with a match that has its own methods',
      intents: GROUP + CANARY + policy('retries: {attempts: 1, methods: [GET, PUT]}'),
      want: [
        { name: 'split/web-canary/canary/retry', match: { prefix: '/', headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(GET|PUT)$' } } }, { name: 'x-canary', string_match: { safe_regex: { regex: 'true' } } }] } },
        { name: 'split/web-canary/canary', match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { safe_regex: { regex: 'true' } } }] } },
        { name: 'split/web-canary/reports/retry', match: { safe_regex: { regex: '/reports/.*' }, headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(GET)$' } } }] } },
        { name: 'split/web-canary/reports', match: { safe_regex: { regex: '/reports/.*' }, headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(GET|POST)$' } } }] } },
        { name: 'default/retry' },
        { name: 'default' },
      ],
    },
    {
      name: 'attempts 0 on a route: that route does not retry, the default still does',
      intents: GROUP + policy('retries: {attempts: 2, methods: ["*"]}\nroutes:\n- match: {kind: HTTPRouteGroup, name: web-routes, matches: [reports]}\n  retries: {attempts: 0}'),
      want: [
        { name: 'policy/web/reports', route: { cluster: 'web.demo:8080' } },
        { name: 'default', route: { cluster: 'web.demo:8080', retry_policy: expect.objectContaining({ num_retries: 2 }) } },
      ],
    },
    {
      name: 'proxyless: one route, retry_on limited to gRPC status names, no Envoy-only fields',
      kind: 'proxyless',
      port: 9090,
      intents: policy('retries: {attempts: 2, retryOn: [5xx, unavailable, cancelled], retriableStatusCodes: [503], methods: ["*"]}\ntimeouts: {request: 3s, perTry: 1s, idle: 1m}'),
      want: [
        {
          name: 'default',
          match: { prefix: '/' },
          route: {
            cluster: 'web.demo:9090',
            timeout: '3s',
            max_stream_duration: { max_stream_duration: '3s' },
            retry_policy: { retry_on: 'unavailable,cancelled', num_retries: 2, per_try_timeout: '1s' },
          },
        },
      ],
    },
    {
      name: 'proxyless: no gRPC retry-on condition left → unavailable',
      kind: 'proxyless',
      port: 9090,
      intents: policy('retries: {attempts: 1, retryOn: [5xx, reset], methods: [POST]}'),
      want: [{ name: 'default', route: { cluster: 'web.demo:9090', retry_policy: { retry_on: 'unavailable', num_retries: 1 } } }],
    },
    {
      name: 'proxyless: default methods (idempotent only) do not retry gRPC calls, which are POSTs',
      kind: 'proxyless',
      port: 9090,
      intents: policy('retries: {attempts: 2, retryOn: [unavailable]}'),
      want: [{ name: 'default', route: { cluster: 'web.demo:9090' } }],
    },
    {
      name: 'envoy timeouts: request and idle, no max_stream_duration',
      intents: policy('timeouts: {request: 1500ms, idle: 5m}'),
      want: [{ name: 'default', route: { cluster: 'web.demo:8080', timeout: '1.5s', idle_timeout: '300s' } }],
    },
    {
      name: 'port policy overrides service timeouts for its port only',
      intents: policy('timeouts: {request: 5s}') + policy('timeouts: {request: 1s}', 'grpc'),
      port: 9090,
      want: [{ name: 'default', route: { cluster: 'web.demo:9090', timeout: '1s' } }],
    },
    {
      name: 'ring hash on a header: hash policy on every route',
      intents: policy('loadBalancer: {policy: RingHash, hashOn: {header: x-user-id}}'),
      want: [{ name: 'default', route: { cluster: 'web.demo:8080', hash_policy: [{ header: { header_name: 'x-user-id' } }] } }],
    },
    {
      name: 'ring hash on a cookie with ttl and path',
      intents: policy('loadBalancer: {policy: RingHash, hashOn: {cookie: {name: session, ttl: 1h, path: /}}}'),
      want: [{ name: 'default', route: { cluster: 'web.demo:8080', hash_policy: [{ cookie: { name: 'session', ttl: '3600s', path: '/' } }] } }],
    },
    {
      name: 'ring hash on a cookie without ttl: Envoy will not generate one',
      intents: policy('loadBalancer: {policy: RingHash, hashOn: {cookie: {name: session}}}'),
      want: [{ name: 'default', route: { cluster: 'web.demo:8080', hash_policy: [{ cookie: { name: 'session' } }] } }],
    },
    {
      name: 'least request: no hash policy',
      intents: policy('loadBalancer: {policy: LeastRequest}'),
      want: [{ name: 'default', route: { cluster: 'web.demo:8080' } }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const model = deepFreeze(meshWith(c.intents));
      const vh = vhost(model, { kind: c.kind, port: c.port });
      expect(vh.routes).toHaveLength(c.want.length);
      c.want.forEach((w, i) => {
        const got = vh.routes[i]!;
        if (w.name) expect(got.name).toBe(w.name);
        if (w.match) expect(got.match).toEqual(w.match);
        if (w.route) expect(got.route).toEqual(w.route);
      });
      const rc = { name: 'outbound', virtual_hosts: [vh] };
      expect(() => encodeResource(TypeUrl.Route, rc)).not.toThrow();
      expect(unknownEnums(TypeUrl.Route, rc)).toEqual([]);
    });
  }
});

