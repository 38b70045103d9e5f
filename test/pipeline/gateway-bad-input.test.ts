/**
 * issue 10 (north-south), bad input at a gateway: an invalid edit of a
 * route or of the Gateway itself is refused with the spec's condition and a
 * file:line message, never blocks the other routes, and the last good
 * version keeps being served to the gateway proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_MESH } from '../../src/model/testing.ts';
import { tlsPair, tlsSecretYaml, trellisGatewayYaml } from '../../src/model/gateway-testing.ts';
import { MeshHarness, sidecarNode, type ProxyView } from '../support/mesh-harness.ts';

const route = (name: string, path: string, backend = 'web-v1') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: demo}
spec:
  parentRefs: [{name: edge, sectionName: http}]
  rules:
  - matches: [{path: ${path}}]
    backendRefs: [{name: ${backend}, port: 8080}]
`;

const GATEWAY = trellisGatewayYaml({ namespace: 'demo', httpPort: 18080, httpsPort: 18443, hostname: 'web.example.com', secret: 'web-cert' });

let h: MeshHarness;
let gw: ProxyView;

const routesOf = async () => {
  await gw.settle(300);
  return ((gw.held.rds.get('gateway_18080')?.virtual_hosts ?? []) as Array<{ routes: Array<{ name: string; match: unknown; direct_response?: { status: number } }> }>)
    .flatMap((v) => v.routes.map((r) => [r.name, r.direct_response?.status ?? 'route']));
};

beforeAll(async () => {
  h = await MeshHarness.start({
    'mesh.yaml': BASE_MESH,
    'gateway.yaml': GATEWAY + tlsSecretYaml('demo', 'web-cert', tlsPair(['web.example.com'])),
    'api.yaml': route('api', '{type: PathPrefix, value: /api}'),
    'docs.yaml': route('docs', '{type: PathPrefix, value: /docs}'),
  });
  gw = await h.sidecar(sidecarNode('edge-1', undefined, { 'trellis.gateway': 'demo/edge' }));
}, 60_000);
afterAll(() => h?.close());

describe('issue 10: bad input at a gateway keeps the last good config', () => {
  it('a route with an invalid regex is refused at its file and line; its last good version and the other route keep being served', async () => {
    const before = await routesOf();
    // The longer prefix first (the spec's precedence).
    expect(before).toEqual([['httproute/demo/docs/0/0', 'route'], ['httproute/demo/api/0/0', 'route']]);
    await h.write({ 'api.yaml': route('api', '{type: RegularExpression, value: "/api/(unclosed"}') });
    const s = (await h.intents()).intents.find((i) => i.kind === 'HTTPRoute' && i.name === 'api')!;
    expect(s.conditions.find((c) => c.type === 'Accepted')).toMatchObject({ status: 'False' });
    expect(s.problems.map((p) => [p.reason, p.field, p.line])).toEqual([['InvalidRegex', 'spec.rules[0].matches[0].path.value', 7]]);
    expect(s.servedGeneration).toBeDefined();
    expect(await routesOf()).toEqual(before);
  });

  it('a backend that does not exist: its share gets 500 (ResolvedRefs=False, BackendNotFound), the route stays accepted', async () => {
    await h.write({ 'docs.yaml': route('docs', '{type: PathPrefix, value: /docs}', 'nothing') });
    const s = (await h.intents()).intents.find((i) => i.kind === 'HTTPRoute' && i.name === 'docs')! as unknown as { parents: { conditions: { type: string; status: string; reason: string }[] }[] };
    expect(s.parents[0]!.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=False/BackendNotFound']);
    expect(await routesOf()).toContainEqual(['httproute/demo/docs/0/0', 500]);
  });

  it('an invalid Gateway edit is refused; the gateway keeps its listeners', async () => {
    const listeners = gw.names('lds');
    expect(listeners).toEqual(['gateway_18080', 'gateway_18443']);
    await h.write({ 'gateway.yaml': GATEWAY.replace('gatewayClassName: trellis', 'gatewayClassNam: trellis') + tlsSecretYaml('demo', 'web-cert', tlsPair(['web.example.com'])) });
    const s = (await h.intents()).intents.find((i) => i.kind === 'Gateway' && i.name === 'edge')!;
    expect(s.conditions.find((c) => c.type === 'Accepted')).toMatchObject({ status: 'False' });
    expect(s.problems.map((p) => p.field)).toContain('spec.gatewayClassNam');
    await gw.settle(300);
    expect(gw.names('lds')).toEqual(listeners);
  });
});
