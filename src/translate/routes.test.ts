import { describe, expect, it } from 'vitest';
import { encodeResource } from '../cache/resource.ts';
import type { MeshModel } from '../model/types.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { routeMatch, rbacPermission } from './match.ts';
import type { ProxyKind } from './proxy.ts';
import { domainsFor, httpPorts, outboundRouteConfiguration, virtualHost } from './routes.ts';
import { deepFreeze, meshWith, unknownEnums } from './testing.ts';
import { CANARY, GROUP, METHOD_IDEMPOTENT, OTHER, policy, vhost, WEIGHTED, type Route } from './route-fixtures.ts';


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

describe('per-route stats (trellis top)', () => {
  const ROUTE = 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: demo}\nspec:\n  parentRefs: [{group: "", kind: Service, name: web, port: 8080}]\n  rules:\n  - name: split\n    backendRefs: [{name: web-v1, port: 8080, weight: 90}, {name: web-v2, port: 8080, weight: 10}]\n---\n';
  const stats = (intents: string, kind: ProxyKind = 'envoy') => vhost(deepFreeze(meshWith(intents)), { kind }).routes.map((r) => [r.name, (r as { stat_prefix?: string }).stat_prefix]);

  it('a split\'s routes count under their names, a retry twin under its route\'s', () => {
    expect(stats(WEIGHTED + policy('retries: {attempts: 2}'))).toEqual([['default/retry', 'default|'], ['default', 'default|']]);
  });

  it('an HTTPRoute\'s routes too (they had no stats: trellis top showed no traffic for them)', () => {
    expect(stats(ROUTE + policy('retries: {attempts: 2}'))).toEqual([
      ['httproute/demo/web/split/0/retry', 'httproute/demo/web/split/0|'],
      ['httproute/demo/web/split/0', 'httproute/demo/web/split/0|'],
    ]);
    expect(stats(ROUTE, 'proxyless')).toEqual([['httproute/demo/web/split/0', undefined]]);
  });
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
