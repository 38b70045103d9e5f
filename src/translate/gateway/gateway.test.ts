/**
 * issue 10 (north-south): what a gateway Envoy gets: a listener per port
 * (HTTP: routes by Host; HTTPS: a chain per certificate chosen by SNI), the
 * mesh's route building (matches, filters), mTLS clusters to the backends
 * as the gateway's identity, and its certificate as an SDS secret that no
 * other proxy receives.
 */
import { describe, expect, it } from 'vitest';
import { proxyContext } from '../proxy.ts';
import { Translator } from '../translate.ts';
import { proxySignature } from '../signature.ts';
import { deepFreeze, encodeAll, meshWith, resourcesOf, STRICT, unknownEnums } from '../testing.ts';
import { tlsPair, tlsSecretYaml, trellisGatewayYaml } from '../../model/gateway-testing.ts';
import type { MeshModel } from '../../model/types.ts';

const pair = tlsPair(['web.example.com']);

const GATEWAY = trellisGatewayYaml({ namespace: 'demo', httpPort: 8080, httpsPort: 8443, hostname: 'web.example.com', secret: 'web-cert' }) + tlsSecretYaml('demo', 'web-cert', pair);

const route = (prefix: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: demo}
spec:
  parentRefs: [{name: edge}]
  hostnames: [web.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-via, value: gateway}]}}]
    backendRefs: [{name: web-v1, port: 8080}]
---
`;

const gatewayNode: { id: string; user_agent_name: string; metadata: Record<string, string> } = { id: 'gateway-1', user_agent_name: 'envoy', metadata: { 'trellis.gateway': 'demo/edge', 'trellis.gateway_address': '127.0.0.9' } };
const translate = (model: MeshModel, t = new Translator(), node: typeof gatewayNode | { id: string; user_agent_name: string } = gatewayNode) => t.translate(model, proxyContext(node, model));

describe('issue 10: a gateway proxy\'s resources', () => {
  it('a listener per port: HTTP routes by Host, HTTPS a chain for its hostname with the certificate by SDS; both route configurations from the route; mTLS clusters as the gateway', () => {
    const model = deepFreeze(meshWith(GATEWAY + route('/api')));
    const out = translate(model);
    expect(out.identities).toEqual(['spiffe://cluster.local/ns/demo/sa/edge']);
    expect(out.listeners.map((l) => [l.name, l.address])).toEqual([
      ['gateway_8080', { socket_address: { address: '127.0.0.9', port_value: 8080 } }],
      ['gateway_8443', { socket_address: { address: '127.0.0.9', port_value: 8443 } }],
    ]);
    const https = out.listeners[1]!;
    expect(https.listener_filters!.map((f) => f.name)).toEqual(['envoy.filters.listener.tls_inspector']);
    expect(https.filter_chains!.map((c) => c.filter_chain_match?.server_names)).toEqual([['web.example.com']]);
    expect(JSON.stringify(https.filter_chains![0]!.transport_socket)).toContain('"name":"gateway-certificate/demo/web-cert"');
    expect(out.routes.map((r) => [r.name, r.virtual_hosts!.map((v) => v.domains)])).toEqual([
      ['gateway_8080', [['web.example.com']]],
      ['gateway_8443_https', [['web.example.com']]],
    ]);
    const r = out.routes[0]!.virtual_hosts![0]!.routes![0]!;
    expect(r.match).toEqual({ path_separated_prefix: '/api' });
    expect(r.route).toMatchObject({ cluster: 'web-v1.demo:8080' });
    expect(r.request_headers_to_add).toEqual([{ header: { key: 'x-via', value: 'gateway' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
    const cluster = out.clusters.find((c) => c.name === 'web-v1.demo:8080')!;
    expect(JSON.stringify(cluster.transport_socket)).toContain('"tls_certificate_sds_secret_configs":[{"name":"workload-certificate"');
    expect(out.clusters.map((c) => c.name)).toEqual(['web-v1.demo:8080', 'web-v1.demo:9090']);
    expect(out.secrets.map((s) => s.name)).toEqual(['gateway-certificate/demo/web-cert']);
    expect(encodeAll(out).length).toBeGreaterThan(0);
    for (const [typeUrl, res] of resourcesOf(out)) expect(unknownEnums(typeUrl, res)).toEqual([]);
  });

  it('strict mode: the gateway still reaches its routes\' backends (their sidecars decide whether to admit it)', () => {
    const out = translate(meshWith(STRICT + GATEWAY + route('/')));
    expect(out.clusters.map((c) => c.name)).toContain('web-v1.demo:8080');
  });

  it('a sidecar gets no gateway listener and no gateway secret; a gateway node for a Gateway that is not programmed gets nothing', () => {
    const model = meshWith(GATEWAY + route('/'));
    const sidecar = translate(model, new Translator(), { id: 'demo/web-v1', user_agent_name: 'envoy' });
    expect(sidecar.secrets).toEqual([]);
    expect(sidecar.listeners.some((l) => l.name!.startsWith('gateway_'))).toBe(false);
    const orphan = translate(model, new Translator(), { ...gatewayNode, metadata: { 'trellis.gateway': 'demo/nothing' } });
    expect([orphan.listeners, orphan.clusters, orphan.secrets, orphan.identities]).toEqual([[], [], [], []]);
  });

  it('a route edit changes the gateway\'s signature and routes; the sidecars\' signatures stay', () => {
    const a = meshWith(GATEWAY + route('/api'));
    const b = meshWith(GATEWAY + route('/v2'));
    const sig = (m: MeshModel, node: typeof gatewayNode | { id: string; user_agent_name: string }) => proxySignature(m, proxyContext(node, m));
    expect(sig(a, gatewayNode)).not.toBe(sig(b, gatewayNode));
    const t = new Translator();
    const before = translate(a, t);
    const after = translate(b, t);
    expect(after.routes[0]!.virtual_hosts![0]!.routes![0]!.match).toEqual({ path_separated_prefix: '/v2' });
    expect(after.listeners[0]).toBe(before.listeners[0]);
    expect(after.secrets[0]).toBe(before.secrets[0]);
  });
});

describe('issue 10: a GRPCRoute at the gateway', () => {
  it('attaches like an HTTPRoute: a method match is an exact path, to a gRPC (HTTP/2) backend cluster', () => {
    const model = meshWith(`${GATEWAY}apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: demo}
spec:
  parentRefs: [{name: edge, sectionName: http}]
  rules:
  - matches: [{method: {service: echo.Echo, method: Ping}}]
    backendRefs: [{name: web-v1, port: 9090}]
---
`);
    const out = translate(model);
    const r = out.routes.find((x) => x.name === 'gateway_8080')!.virtual_hosts![0]!.routes![0]!;
    expect([r.match, r.route?.cluster]).toEqual([{ path: '/echo.Echo/Ping' }, 'web-v1.demo:9090']);
    expect(out.clusters.find((c) => c.name === 'web-v1.demo:9090')!.typed_extension_protocol_options).toBeDefined();
  });
});
