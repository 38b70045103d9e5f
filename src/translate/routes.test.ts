import { describe, expect, it } from 'vitest';
import { encodeResource } from '../cache/resource.ts';
import type { MeshModel } from '../model/types.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { routeMatch, rbacPermission } from './match.ts';
import type { ProxyKind } from './proxy.ts';
import { domainsFor, httpPorts, outboundRouteConfiguration, virtualHost } from './routes.ts';
import { deepFreeze, meshWith, unknownEnums } from './testing.ts';

/** A service in another namespace, with a ClusterIP, an HTTP port, a TCP port and a gRPC port. */
const OTHER = `apiVersion: v1
kind: Service
metadata: {name: db, namespace: other}
spec:
  clusterIP: 10.96.0.10
  selector: {app: db}
  ports:
  - {name: tcp-pg, port: 5432}
  - {name: http-admin, port: 8000, targetPort: 8001}
  - {name: grpc, port: 9000}
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: other}
spec:
  clusterIP: None
  ports: [{name: http, port: 80}]
`;

const GROUP = `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: web-routes, namespace: demo}
spec:
  matches:
  - name: canary
    headers: [{x-canary: "true"}]
  - name: reports
    pathRegex: /reports/.*
    methods: [GET, POST]
---
`;

const WEIGHTED = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
---
`;

const CANARY = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web-canary, namespace: demo}
spec:
  service: web
  matches: [{kind: HTTPRouteGroup, name: web-routes}]
  backends: [{service: web-v2, weight: 1}]
---
`;

function policy(spec: string, port?: string): string {
  return `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web${port ? `-${port}` : ''}, namespace: demo}
spec:
  targetRef: {kind: Service, name: web${port ? `, port: ${port}` : ''}}
${spec
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
---
`;
}

type Route = { name: string; match: Record<string, any>; route: Record<string, any> };

function vhost(model: MeshModel, o: { service?: string; port?: number; kind?: ProxyKind; callerNamespace?: string } = {}) {
  const s = model.services.get(o.service ?? 'demo/web')!;
  const p = s.ports.find((x) => x.port === (o.port ?? 8080))!;
  const vh = virtualHost(model, s, p, { callerNamespace: o.callerNamespace ?? 'demo', isDefaultPort: httpPorts(s)[0] === p, kind: o.kind ?? 'envoy' });
  return vh as { name: string; domains: string[]; routes: Route[] };
}

const METHOD_IDEMPOTENT = { name: ':method', string_match: { safe_regex: { regex: '^(GET|HEAD|OPTIONS|PUT|DELETE|TRACE)$' } } };

describe('domainsFor', () => {
  const model = deepFreeze(meshWith('', { 'other.yaml': OTHER }));
  const cases: { name: string; service: string; port: number; caller?: string; isDefault: boolean; want: string[] }[] = [
    {
      name: 'same namespace, default port: every DNS form, with and without port, short name included',
      service: 'demo/web',
      port: 8080,
      caller: 'demo',
      isDefault: true,
      want: [
        'web.demo.svc.cluster.local:8080',
        'web.demo.svc.cluster.local',
        'web.demo.svc:8080',
        'web.demo.svc',
        'web.demo:8080',
        'web.demo',
        'web:8080',
        'web',
      ],
    },
    {
      name: 'same namespace, another port: only the forms with that port',
      service: 'demo/web',
      port: 9090,
      caller: 'demo',
      isDefault: false,
      want: ['web.demo.svc.cluster.local:9090', 'web.demo.svc:9090', 'web.demo:9090', 'web:9090'],
    },
    {
      name: 'other namespace: no short name (it would resolve to the caller namespace)',
      service: 'demo/web',
      port: 8080,
      caller: 'other',
      isDefault: true,
      want: ['web.demo.svc.cluster.local:8080', 'web.demo.svc.cluster.local', 'web.demo.svc:8080', 'web.demo.svc', 'web.demo:8080', 'web.demo'],
    },
    {
      name: 'no caller workload (proxyless client without one): no short name',
      service: 'demo/web',
      port: 9090,
      isDefault: false,
      want: ['web.demo.svc.cluster.local:9090', 'web.demo.svc:9090', 'web.demo:9090'],
    },
    {
      name: 'ClusterIP with port',
      service: 'other/db',
      port: 8000,
      caller: 'demo',
      isDefault: true,
      want: ['db.other.svc.cluster.local:8000', 'db.other.svc.cluster.local', 'db.other.svc:8000', 'db.other.svc', 'db.other:8000', 'db.other', '10.96.0.10:8000'],
    },
    {
      name: 'headless: no ClusterIP domain',
      service: 'other/headless',
      port: 80,
      caller: 'other',
      isDefault: true,
      want: ['headless.other.svc.cluster.local:80', 'headless.other.svc.cluster.local', 'headless.other.svc:80', 'headless.other.svc', 'headless.other:80', 'headless.other', 'headless:80', 'headless'],
    },
  ];
  for (const c of cases) it(c.name, () => expect(domainsFor(model.services.get(c.service)!, c.port, c.caller, c.isDefault)).toEqual(c.want));
});

describe('virtualHost: where requests go', () => {
  const cases: { name: string; intents: string; port?: number; want: { name: string; match?: unknown; route: Record<string, unknown> }[] }[] = [
    {
      name: 'no split: the service itself',
      intents: '',
      want: [{ name: 'default', match: { prefix: '/' }, route: { cluster: 'web.demo:8080' } }],
    },
    {
      name: 'weighted split: weighted clusters with the split weights',
      intents: WEIGHTED,
      want: [{ name: 'default', route: { weighted_clusters: { clusters: [{ name: 'web-v1.demo:8080', weight: 90 }, { name: 'web-v2.demo:8080', weight: 10 }] } } }],
    },
    {
      name: 'zero-weight backend is left out; a single remaining backend is a plain cluster',
      intents: WEIGHTED.replace('weight: 10', 'weight: 0'),
      want: [{ name: 'default', route: { cluster: 'web-v1.demo:8080' } }],
    },
    {
      name: 'zero-weight backend left out of a three-way split',
      intents: WEIGHTED.replace('weight: 10}]', 'weight: 0}, {service: api, weight: 10}]'),
      want: [{ name: 'default', route: { weighted_clusters: { clusters: [{ name: 'web-v1.demo:8080', weight: 90 }, { name: 'api.demo:8080', weight: 10 }] } } }],
    },
    {
      name: 'header canary before the default route; other requests take the weighted split',
      intents: GROUP + CANARY + WEIGHTED,
      want: [
        { name: 'split/web-canary/canary', match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { safe_regex: { regex: 'true' } } }] }, route: { cluster: 'web-v2.demo:8080' } },
        {
          name: 'split/web-canary/reports',
          match: { safe_regex: { regex: '/reports/.*' }, headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(GET|POST)$' } } }] },
          route: { cluster: 'web-v2.demo:8080' },
        },
        { name: 'default', match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'web-v1.demo:8080', weight: 90 }, { name: 'web-v2.demo:8080', weight: 10 }] } } },
      ],
    },
    {
      name: 'canary without a default split: other requests go to the root service',
      intents: GROUP + CANARY,
      want: [
        { name: 'split/web-canary/canary', route: { cluster: 'web-v2.demo:8080' } },
        { name: 'split/web-canary/reports', route: { cluster: 'web-v2.demo:8080' } },
        { name: 'default', route: { cluster: 'web.demo:8080' } },
      ],
    },
    {
      name: 'route policy: after canaries, before the default, with the default action',
      intents: GROUP + CANARY + WEIGHTED + policy('timeouts: {request: 5s}\nroutes:\n- match: {kind: HTTPRouteGroup, name: web-routes, matches: [reports]}\n  timeouts: {request: 30s}'),
      want: [
        { name: 'split/web-canary/canary', route: { cluster: 'web-v2.demo:8080', timeout: '5s' } },
        { name: 'split/web-canary/reports', route: { cluster: 'web-v2.demo:8080', timeout: '5s' } },
        {
          name: 'policy/web/reports',
          match: { safe_regex: { regex: '/reports/.*' }, headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(GET|POST)$' } } }] },
          route: { weighted_clusters: expect.anything(), timeout: '30s' },
        },
        { name: 'default', route: { weighted_clusters: expect.anything(), timeout: '5s' } },
      ],
    },
    {
      // A backend takes a root port's traffic only if it has that port (SMI).
      name: 'backend without the port gets none of its traffic',
      intents: `apiVersion: v1
kind: Service
metadata: {name: web-v3, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
${WEIGHTED.replace('weight: 10}', 'weight: 10}, {service: web-v3, weight: 5}')}`,
      port: 9090,
      want: [{ name: 'default', route: { weighted_clusters: { clusters: [{ name: 'web-v1.demo:9090', weight: 90 }, { name: 'web-v2.demo:9090', weight: 10 }] } } }],
    },
    {
      // Bug found by this test: weighted_clusters with no clusters (Envoy and gRPC NACK the
      // whole RouteConfiguration). A split with no positive-weight backend on a port leaves
      // that port to the root service.
      name: 'split whose only backend on this port has weight 0: the root service keeps the port',
      intents: `apiVersion: v1
kind: Service
metadata: {name: web-v3, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: grpc, port: 9090, appProtocol: grpc}]
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends: [{service: web-v1, weight: 0}, {service: web-v3, weight: 10}]
`,
      port: 8080,
      want: [{ name: 'default', route: { cluster: 'web.demo:8080' } }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const model = deepFreeze(meshWith(c.intents));
      const vh = vhost(model, { port: c.port });
      expect(vh.routes).toEqual(c.want.map((w) => expect.objectContaining({ ...w, route: expect.objectContaining(w.route) })));
      for (const r of vh.routes) {
        const wc = r.route.weighted_clusters as { clusters: unknown[] } | undefined;
        if (wc) expect(wc.clusters.length).toBeGreaterThan(1);
      }
    });
  }
});

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

describe('outboundRouteConfiguration', () => {
  it('a virtual host per HTTP port (TCP ports have none), the first HTTP port is the default one, domains unique', () => {
    const model = deepFreeze(meshWith(GROUP + CANARY + WEIGHTED, { 'other.yaml': OTHER }));
    const rc = outboundRouteConfiguration(model, 'outbound', [...model.services.values()], { callerNamespace: 'demo', kind: 'envoy' }) as {
      virtual_hosts: { name: string; domains: string[] }[];
    };
    expect(rc.virtual_hosts.map((v) => v.name)).toEqual([
      'api.demo:8080',
      'api.demo:9090',
      'web.demo:8080',
      'web.demo:9090',
      'web-v1.demo:8080',
      'web-v1.demo:9090',
      'web-v2.demo:8080',
      'web-v2.demo:9090',
      'db.other:8000',
      'db.other:9000',
      'headless.other:80',
    ]);
    expect(rc.virtual_hosts.find((v) => v.name === 'db.other:8000')!.domains).toContain('db.other');
    expect(rc.virtual_hosts.find((v) => v.name === 'db.other:9000')!.domains).not.toContain('db.other');
    // Envoy rejects a RouteConfiguration in which two virtual hosts share a domain.
    const all = rc.virtual_hosts.flatMap((v) => v.domains);
    expect(new Set(all).size).toBe(all.length);
    expect(() => encodeResource(TypeUrl.Route, rc)).not.toThrow();
    expect(unknownEnums(TypeUrl.Route, rc)).toEqual([]);
  });
});

describe('match builders', () => {
  const m = { group: 'demo/g', name: 'm', pathRegex: '/a/.*', methods: ['GET', 'POST'], headers: [{ name: 'x-v', valueRegex: 'v[12]' }] };
  const cases: { name: string; got: () => unknown; want: unknown }[] = [
    { name: 'route match: no match is every path', got: () => routeMatch(undefined), want: { prefix: '/' } },
    { name: 'route match: only methods (retry twin of the default route)', got: () => routeMatch(undefined, ['GET', 'HEAD']), want: { prefix: '/', headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(GET|HEAD)$' } } }] } },
    {
      name: 'route match: path regex, methods and headers',
      got: () => routeMatch(m),
      want: {
        safe_regex: { regex: '/a/.*' },
        headers: [
          { name: ':method', string_match: { safe_regex: { regex: '^(GET|POST)$' } } },
          { name: 'x-v', string_match: { safe_regex: { regex: 'v[12]' } } },
        ],
      },
    },
    {
      name: 'route match: no method in common with the retry methods matches no request',
      got: () => routeMatch({ ...m, methods: ['POST'], headers: [] }, ['GET']),
      want: { safe_regex: { regex: '/a/.*' }, headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(-none-)$' } } }] },
    },
    { name: 'rbac permission: empty match is any', got: () => rbacPermission({ group: 'demo/g', name: 'all', methods: [], headers: [] }), want: { any: true } },
    {
      name: 'rbac permission: every condition, and-ed',
      got: () => rbacPermission(m),
      want: {
        and_rules: {
          rules: [
            { url_path: { path: { safe_regex: { regex: '/a/.*' } } } },
            { header: { name: ':method', string_match: { safe_regex: { regex: '^(GET|POST)$' } } } },
            { header: { name: 'x-v', string_match: { safe_regex: { regex: 'v[12]' } } } },
          ],
        },
      },
    },
  ];
  for (const c of cases) it(c.name, () => expect(c.got()).toEqual(c.want));
});
