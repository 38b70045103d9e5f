/**
 * Issue 10 (MeshClusterIPMatching; the conformance cases MeshFrontend and
 * MeshFrontendHostname, test/e2e/gateway-api-mesh-transparent.test.ts): a
 * transparent-mode sidecar routes HTTP by the address dialled — a ClusterIP
 * and port to that port's virtual host whatever the Host, a pod's own
 * address to that pod with no route — and an explicit-mode one by Host only.
 */
import { describe, expect, it } from 'vitest';
import { proxyContext } from './proxy.ts';
import { NODE_METADATA } from './sidecar.ts';
import { meshWith, translationProblems } from './testing.ts';
import { Translator } from './translate.ts';

type Json = Record<string, any>;

/** echo (ClusterIP 10.96.7.1, port 80 → 8080) on echo-1, with a route whose filter marks what it routed. */
const MESH = `apiVersion: v1
kind: Pod
metadata: {name: echo-1, namespace: demo, labels: {app: echo}}
spec: {containers: [{name: app}]}
status: {podIP: 10.1.0.5}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec:
  clusterIP: 10.96.7.1
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: 8080, appProtocol: http}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: demo, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.1.0.5], conditions: {ready: true}, targetRef: {kind: Pod, name: echo-1}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: mark, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: echo}]
  rules:
  - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Routed, value: "yes"}]}}]
    backendRefs: [{name: echo, port: 80}]
`;

function translate(mode: 'transparent' | 'explicit') {
  const model = meshWith(MESH);
  const out = new Translator().translate(model, proxyContext({ id: 'demo/client', user_agent_name: 'envoy', metadata: { [NODE_METADATA.mode]: mode } }, model));
  const outbound = out.listeners.find((l) => l.name === 'outbound') as Json;
  // meshWith's own services (web, without a ClusterIP) have pod chains too: left aside.
  return { out, chains: (outbound.filter_chains as Json[]).filter((c) => String(c.name).startsWith('http:echo.')) };
}

describe('issue 10: transparent mode routes HTTP by the address dialled', () => {
  it('the ClusterIP and port: a chain whose route configuration is that port\'s virtual host for every Host; a pod\'s own address: to that pod, no route', () => {
    const { out, chains } = translate('transparent');
    expect(chains.map((c) => [c.name, c.filter_chain_match])).toEqual([
      ['http:echo.demo:80', { destination_port: 80, prefix_ranges: [{ address_prefix: '10.96.7.1', prefix_len: 32 }] }],
      ['http:echo.demo:80/endpoints:8080', { destination_port: 8080, prefix_ranges: [{ address_prefix: '10.1.0.5', prefix_len: 32 }] }],
    ]);
    expect(chains[0]!.filters[0].typed_config.rds.route_config_name).toBe('outbound/echo.demo:80');
    expect(chains[1]!.filters[0].typed_config).toMatchObject({ cluster: 'echo.demo:80/direct' });
    const rc = out.routes.find((r) => r.name === 'outbound/echo.demo:80') as Json;
    expect(rc.virtual_hosts.map((v: Json) => v.domains)).toEqual([['*']]);
    expect(rc.virtual_hosts[0].routes[0].response_headers_to_add[0].header).toEqual({ key: 'X-Routed', value: 'yes' });
    expect(out.clusters.find((c) => c.name === 'echo.demo:80/direct')).toMatchObject({ type: 'ORIGINAL_DST' });
    expect(translationProblems(out)).toEqual([]);
  });

  it('explicit mode: by Host only, no such chains or route configurations', () => {
    const { out } = translate('explicit');
    expect((out.listeners.find((l) => l.name === 'outbound') as Json).filter_chains.filter((c: Json) => String(c.name).startsWith('http:'))).toEqual([]);
    expect(out.routes.map((r) => r.name)).toEqual(['outbound']);
  });
});
