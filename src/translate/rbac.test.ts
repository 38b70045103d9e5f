import { describe, expect, it } from 'vitest';
import { encodeResource } from '../cache/resource.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { inboundListener } from './listeners.ts';
import { rbacFilter, rbacPolicies } from './rbac.ts';
import { deepFreeze, meshWith, STRICT, unknownEnums } from './testing.ts';

const WEB = 'spiffe://cluster.local/ns/demo/sa/web';
const CLIENT = 'spiffe://cluster.local/ns/demo/sa/client';
const ADMIN = 'spiffe://cluster.local/ns/ops/sa/admin';

const GROUP = `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: web-routes, namespace: demo}
spec:
  matches:
  - name: read
    pathRegex: /api/.*
    methods: [GET]
  - name: health
    pathRegex: /healthz
  - name: canary
    headers: [{x-canary: "true"}]
---
`;

function target(name: string, o: { sources: string; port?: number; rules?: string }): string {
  return `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: ${name}, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: demo${o.port !== undefined ? `, port: ${o.port}` : ''}}
  sources: ${o.sources}
${o.rules ? `  rules: ${o.rules}\n` : ''}---
`;
}

const METHOD_GET = { header: { name: ':method', string_match: { safe_regex: { regex: '^(GET)$' } } } };

describe('rbacPolicies (strict mode, TrafficTargets whose destination is this workload)', () => {
  const cases: { name: string; intents: string; ports?: number[]; want: Record<string, unknown> }[] = [
    {
      name: 'no TrafficTarget: no policy, so ALLOW denies everything',
      intents: '',
      want: {},
    },
    {
      name: 'no rules: any request from the listed sources (SPIFFE IDs of their service accounts)',
      intents: target('from-client', { sources: '[{kind: ServiceAccount, name: client}, {kind: ServiceAccount, name: admin, namespace: ops}]' }),
      want: {
        'demo/from-client': {
          permissions: [{ any: true }],
          principals: [{ authenticated: { principal_name: { exact: CLIENT } } }, { authenticated: { principal_name: { exact: ADMIN } } }],
        },
      },
    },
    {
      name: 'rules: one permission per HTTPRouteGroup match (all matches of the group)',
      intents: GROUP + target('reads', { sources: '[{kind: ServiceAccount, name: client}]', rules: '[{kind: HTTPRouteGroup, name: web-routes}]' }),
      want: {
        'demo/reads': {
          permissions: [
            { and_rules: { rules: [{ url_path: { path: { safe_regex: { regex: '/api/.*' } } } }, METHOD_GET] } },
            { and_rules: { rules: [{ url_path: { path: { safe_regex: { regex: '/healthz' } } } }] } },
            { and_rules: { rules: [{ header: { name: 'x-canary', string_match: { safe_regex: { regex: 'true' } } } }] } },
          ],
          principals: [{ authenticated: { principal_name: { exact: CLIENT } } }],
        },
      },
    },
    {
      name: 'rules naming some matches of a group: only those',
      intents: GROUP + target('health', { sources: '[{kind: ServiceAccount, name: client}]', rules: '[{kind: HTTPRouteGroup, name: web-routes, matches: [health]}]' }),
      want: {
        'demo/health': {
          permissions: [{ and_rules: { rules: [{ url_path: { path: { safe_regex: { regex: '/healthz' } } } }] } }],
          principals: [{ authenticated: { principal_name: { exact: CLIENT } } }],
        },
      },
    },
    {
      name: 'port filter: a rule for another port is left out',
      intents: target('grpc-only', { sources: '[{kind: ServiceAccount, name: client}]', port: 9090 }),
      ports: [8080, 8080],
      want: {},
    },
    {
      name: 'port filter: a rule naming the service port applies',
      intents: target('http-only', { sources: '[{kind: ServiceAccount, name: client}]', port: 8080 }),
      ports: [8080, 18080],
      want: { 'demo/http-only': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: CLIENT } } }] } },
    },
    {
      name: 'port filter: a rule naming the target port applies',
      intents: target('by-target-port', { sources: '[{kind: ServiceAccount, name: client}]', port: 18080 }),
      ports: [8080, 18080],
      want: { 'demo/by-target-port': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: CLIENT } } }] } },
    },
    {
      name: 'issue 11: TCPRoute rules only: no HTTP request is allowed, and no policy without permissions (Envoy refuses the listener)',
      intents: 'apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nmetadata: {name: db, namespace: demo}\nspec: {}\n---\n' + target('tcp-only', { sources: '[{kind: ServiceAccount, name: client}]', rules: '[{kind: TCPRoute, name: db}]' }),
      want: {},
    },
    {
      name: 'several TrafficTargets: one policy each, by namespace/name',
      intents: target('a', { sources: '[{kind: ServiceAccount, name: client}]' }) + target('b', { sources: '[{kind: ServiceAccount, name: admin, namespace: ops}]', port: 9090 }),
      ports: [9090, 9090],
      want: {
        'demo/a': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: CLIENT } } }] },
        'demo/b': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: ADMIN } } }] },
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const model = deepFreeze(meshWith(STRICT + c.intents));
      const rules = model.accessByDestination.get(WEB) ?? [];
      expect(rbacPolicies(rules, c.ports ?? [8080, 8080])).toEqual(c.want);
      // The filter inside an inbound listener is a valid Envoy Listener.
      const listener = inboundListener({ name: 'inbound:8080', address: '10.0.0.1', port: 8080, cluster: 'inbound:8080', filters: { rbac: rbacFilter(rules, c.ports ?? [8080, 8080]) } });
      expect(() => encodeResource(TypeUrl.Listener, listener)).not.toThrow();
      expect(unknownEnums(TypeUrl.Listener, listener)).toEqual([]);
    });
  }

  it('the filter: ALLOW action, RBAC typed config, placed before the router in the inbound listener', () => {
    const model = deepFreeze(meshWith(STRICT + target('a', { sources: '[{kind: ServiceAccount, name: client}]' })));
    const filter = rbacFilter(model.accessByDestination.get(WEB)!, [8080]);
    expect(filter).toMatchObject({ name: 'envoy.filters.http.rbac', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: { action: 'ALLOW' } } });
    const listener = inboundListener({ name: 'inbound:8080', address: '10.0.0.1', port: 8080, cluster: 'inbound:8080', filters: { rbac: filter } }) as any;
    const hcm = listener.filter_chains[0].filters[0].typed_config;
    expect(hcm.http_filters.map((f: { name: string }) => f.name)).toEqual(['envoy.filters.http.rbac', 'envoy.filters.http.router']);
    expect(listener.filter_chains[0].transport_socket.typed_config.require_client_certificate).toBe(true);
  });

  it('permissive inbound listener: no RBAC filter, mTLS still required', () => {
    const listener = inboundListener({ name: 'inbound:8080', address: '10.0.0.1', port: 8080, cluster: 'inbound:8080', filters: {} }) as any;
    expect(listener.filter_chains[0].filters[0].typed_config.http_filters.map((f: { name: string }) => f.name)).toEqual(['envoy.filters.http.router']);
    expect(listener.filter_chains[0].transport_socket.typed_config.require_client_certificate).toBe(true);
  });
});
