/**
 * issue 10: HTTPRoute and GRPCRoute attached to Services (GAMMA): what the
 * model keeps, and the status per route and per parent with the spec's
 * reasons, for the bad input the issue names.
 */
import { describe, expect, it } from 'vitest';
import { brief, buildWith, problemsOf } from '../testing.ts';
import { TRELLIS_GATEWAY_CLASS_YAML } from '../gateway-testing.ts';

const route = (name: string, spec: string, ns = 'demo', extraMeta = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}${extraMeta}}
spec:
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
---
`;

const WEIGHTED = route('web', `
parentRefs: [{group: "", kind: Service, name: web, port: 8080}]
rules:
- backendRefs: [{name: web-v1, port: 8080, weight: 90}, {name: web-v2, port: 8080, weight: 10}]
`);

const statusOf = (r: ReturnType<typeof buildWith>, kind: string, name: string) => r.statuses.find((s) => s.kind === kind && s.name === name)!;

describe('issue 10: mesh routes in the model', () => {
  it('a producer HTTPRoute attaches to its Service port with its weighted backends', () => {
    const r = buildWith(WEIGHTED);
    expect(problemsOf(r)).toEqual([]);
    const web = r.model.services.get('demo/web')!;
    expect(web.routes).toHaveLength(1);
    expect(web.routes[0]).toMatchObject({ kind: 'HTTPRoute', name: 'web', consumer: false, ports: [8080] });
    expect(web.routes[0]!.rules[0]!.backends.map((b) => [b.name, b.weight, b.found])).toEqual([['web-v1', 90, true], ['web-v2', 10, true]]);
    const s = statusOf(r, 'HTTPRoute', 'web');
    expect(s.parents).toEqual([{
      parentRef: { group: '', kind: 'Service', namespace: 'demo', name: 'web', port: 8080 }, ours: true,
      conditions: [expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted' }), expect.objectContaining({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs' })],
    }]);
  });

  it('a route in another namespace is a consumer route of the service it names', () => {
    const r = buildWith(`apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
${route('mine', `
parentRefs: [{group: "", kind: Service, name: web, namespace: demo}]
rules:
- backendRefs: [{name: web-v2, namespace: demo, port: 8080}]
`, 'shop')}`);
    expect(problemsOf(r)).toEqual([]);
    expect(r.model.services.get('demo/web')!.routes[0]).toMatchObject({ namespace: 'shop', consumer: true, ports: [] });
  });

  it('a backendRef to a missing Service: accepted, ResolvedRefs=False BackendNotFound, the share kept as not found', () => {
    const r = buildWith(route('web', `
parentRefs: [{group: "", kind: Service, name: web}]
rules:
- backendRefs: [{name: web-v1, port: 8080}, {name: web-v9, port: 8080}]
`));
    expect(problemsOf(r).map(brief)).toEqual([
      { severity: 'warning', reason: 'BackendNotFound', kind: 'HTTPRoute', namespace: 'demo', name: 'web', field: 'spec.rules[0].backendRefs[1].name', file: 'intents.yaml', line: 7 },
    ]);
    expect(r.model.services.get('demo/web')!.routes[0]!.rules[0]!.backends.map((b) => b.found)).toEqual([true, false]);
    const p = statusOf(r, 'HTTPRoute', 'web').parents![0]!;
    expect(p.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([['Accepted', 'True', 'Accepted'], ['ResolvedRefs', 'False', 'BackendNotFound']]);
  });

  it('a parent Service that does not exist: Accepted=False NoMatchingParent, the route is not served', () => {
    const r = buildWith(route('web', `
parentRefs: [{group: "", kind: Service, name: nope}]
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`));
    expect(problemsOf(r).map((p) => [p.severity, p.reason, p.field])).toEqual([['error', 'NoMatchingParent', 'spec.parentRefs[0]']]);
    expect(statusOf(r, 'HTTPRoute', 'web').parents![0]!.conditions[0]).toMatchObject({ status: 'False', reason: 'NoMatchingParent' });
    expect([...r.model.services.values()].every((s) => s.routes.length === 0)).toBe(true);
  });

  it('a Gateway parent of another controller is not ours (warning, NoMatchingParent); the Service parent still takes the route', () => {
    const r = buildWith(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: other}
spec: {controllerName: example.com/gateway}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: demo}
spec:
  gatewayClassName: other
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
${route('web', `
parentRefs: [{name: edge}, {group: "", kind: Service, name: web}]
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`)}`);
    const s = statusOf(r, 'HTTPRoute', 'web');
    expect(s.parents!.map((p) => [p.parentRef.kind, p.ours, p.conditions[0]!.status, p.conditions[0]!.reason])).toEqual([['Gateway', false, 'False', 'NoMatchingParent'], ['Service', true, 'True', 'Accepted']]);
    expect(r.model.services.get('demo/web')!.routes).toHaveLength(1);
    expect(statusOf(r, 'Gateway', 'edge').problems.map((p) => p.reason)).toEqual(['Ignored']);
  });

  it('a cross-namespace backend of a route with a Gateway parent needs a ReferenceGrant (RefNotPermitted), a mesh-only route does not', () => {
    const spec = (parents: string) => `
parentRefs: ${parents}
rules: [{backendRefs: [{name: web-v1, namespace: demo, port: 8080}]}]
`;
    const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n';
    const gw = route('gw', spec('[{name: edge}, {group: "", kind: Service, name: web, namespace: demo}]'), 'shop');
    const denied = buildWith(ns + gw);
    expect(statusOf(denied, 'HTTPRoute', 'gw').parents![1]!.conditions[1]).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
    const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: shop-routes, namespace: demo}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]
  to: [{group: "", kind: Service}]
---
`;
    expect(statusOf(buildWith(ns + gw + grant), 'HTTPRoute', 'gw').parents![1]!.conditions[1]).toMatchObject({ status: 'True' });
    const mesh = buildWith(ns + route('mesh', spec('[{group: "", kind: Service, name: web, namespace: demo}]'), 'shop'));
    expect(problemsOf(mesh)).toEqual([]);
  });

  it('an invalid regex, an unsupported filter: Accepted=False with the field, the reason and the line; the other route is served', () => {
    const r = buildWith(route('bad-regex', `
parentRefs: [{group: "", kind: Service, name: web}]
rules:
- matches: [{path: {type: RegularExpression, value: "/(?!admin)"}}]
  backendRefs: [{name: web-v1, port: 8080}]
`) + route('bad-filter', `
parentRefs: [{group: "", kind: Service, name: web}]
rules:
- filters: [{type: CORS, cors: {allowOrigins: ["*"]}}]
  backendRefs: [{name: web-v1, port: 8080}]
`) + WEIGHTED);
    expect(problemsOf(r).map(brief)).toEqual([
      { severity: 'error', reason: 'UnsupportedValue', kind: 'HTTPRoute', namespace: 'demo', name: 'bad-filter', field: 'spec.rules[0].filters[0].type', file: 'intents.yaml', line: 16 },
      { severity: 'error', reason: 'InvalidRegex', kind: 'HTTPRoute', namespace: 'demo', name: 'bad-regex', field: 'spec.rules[0].matches[0].path.value', file: 'intents.yaml', line: 7 },
    ]);
    expect(statusOf(r, 'HTTPRoute', 'bad-filter').parents![0]!.conditions[0]).toMatchObject({ status: 'False', reason: 'UnsupportedValue' });
    expect(r.model.services.get('demo/web')!.routes.map((x) => x.name)).toEqual(['web']);
  });

  it('a GRPCRoute and an HTTPRoute on the same service port: the GRPCRoute wins, the HTTPRoute is Conflicted for that parent', () => {
    const r = buildWith(`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: api, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 9090}]
  rules:
  - matches: [{method: {service: echo.Echo, method: Ping}}]
    backendRefs: [{name: web-v2, port: 9090}]
---
${route('web', `
parentRefs: [{group: "", kind: Service, name: web}]
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`)}`);
    expect(r.model.services.get('demo/web')!.routes.map((x) => x.kind)).toEqual(['GRPCRoute']);
    expect(r.model.services.get('demo/web')!.routes[0]!.rules[0]!.matches[0]!.path).toEqual({ type: 'Exact', value: '/echo.Echo/Ping' });
    expect(statusOf(r, 'HTTPRoute', 'web').parents![0]!.conditions[0]).toMatchObject({ status: 'False', reason: 'Conflicted' });
  });

  it('the kinds Trellis does not program say so: a TLSRoute on a Service is not accepted (TCPRoute: stream-routes.test.ts), a BackendTLSPolicy is ignored with a warning (a Trellis GatewayClass is accepted)', () => {
    const r = buildWith(`${TRELLIS_GATEWAY_CLASS_YAML}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: db, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: web}]
  hostnames: [web.example.com]
  rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: tls, namespace: demo}
spec:
  targetRefs: [{group: "", kind: Service, name: web}]
  validation: {hostname: web.demo, wellKnownCACertificates: System}
`);
    expect(problemsOf(r).map((p) => [p.kind, p.severity, p.reason])).toEqual([
      ['BackendTLSPolicy', 'warning', 'Ignored'], ['TLSRoute', 'error', 'UnsupportedValue'], ['TLSRoute', 'warning', 'BackendNotFound'],
    ]);
    expect(statusOf(r, 'GatewayClass', 'trellis')).toMatchObject({ conditions: [expect.objectContaining({ type: 'Accepted', status: 'True' }), expect.anything()], supportedFeatures: expect.arrayContaining(['Gateway', 'HTTPRoute', 'ReferenceGrant']) });
  });

  it('ReferenceGrant is read at v1beta1 and v1; a misspelt HTTPRoute field gets the closest name', () => {
    const r = buildWith(route('web', `
parentRefs: [{group: "", kind: Service, name: web}]
rules: [{backendRefs: [{name: web-v1, port: 8080, wieght: 2}]}]
`) + `apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: g, namespace: demo}
spec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: x}], to: [{group: "", kind: Service}]}
`);
    expect(problemsOf(r).map((p) => [p.reason, p.field, p.message.includes('"weight"')])).toEqual([['UnknownField', 'spec.rules[0].backendRefs[0].wieght', true]]);
  });
});
