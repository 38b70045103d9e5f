/**
 * issue 10: a GRPCRoute attached to a Service reaches proxyless gRPC clients
 * (xds:///) as it reaches sidecars: method matches as path matches gRPC
 * clients understand, weighted backends, the clusters they name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcNode, MeshHarness, sidecarNode } from '../support/mesh-harness.ts';

const service = (name: string, selector: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  selector: {${selector}}
  ports: [{name: grpc, port: 7070, appProtocol: grpc}]
---
`;

const FILES = {
  'mesh.yaml': `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
${service('echo', 'app: echo')}${service('echo-v1', 'app: echo, version: v1')}${service('echo-v2', 'app: echo, version: v2')}apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec: {serviceAccountName: client, containers: [{name: app}]}
status: {podIP: 10.0.0.2}
`,
  'route.yaml': `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 7070}]
  rules:
  - name: ping
    matches: [{method: {service: echo.Echo, method: Ping}}]
    backendRefs: [{name: echo-v2, port: 7070}]
  - matches: [{method: {service: echo.Echo}}]
    backendRefs: [{name: echo-v1, port: 7070, weight: 70}, {name: echo-v2, port: 7070, weight: 30}]
`,
};

let h: MeshHarness;
beforeAll(async () => {
  h = await MeshHarness.start(FILES);
});
afterAll(() => h?.close());

type Json = Record<string, any>; // decoded resources

describe('issue 10: GRPCRoute for proxyless gRPC clients and sidecars', () => {
  it('a proxyless client of xds:///echo.demo.svc.cluster.local:7070 gets the method routes and the clusters they name', async () => {
    const host = 'echo.demo.svc.cluster.local:7070';
    const c = await h.proxyless(grpcNode('grpc-client', 'demo/client'), [host]);
    const routes = (c.virtualHost(host).routes as Json[]).map((r) => ({ name: r.name, match: r.match, to: r.route.cluster ?? r.route.weighted_clusters.clusters.map((w: Json) => [w.name, w.weight.value]) }));
    expect(routes).toEqual([
      { name: 'grpcroute/demo/echo/ping/0', match: { path: '/echo.Echo/Ping' }, to: 'echo-v2.demo:7070' },
      { name: 'grpcroute/demo/echo/1/0', match: { safe_regex: { regex: '/echo\\.Echo(/.*)?' } }, to: [['echo-v1.demo:7070', 70], ['echo-v2.demo:7070', 30]] },
    ]);
    expect(c.names('cds')).toEqual(['echo-v1.demo:7070', 'echo-v2.demo:7070']);
  });

  it('a sidecar gets the same routes, the service prefix as a whole-segment prefix', async () => {
    const s = await h.sidecar(sidecarNode('sidecar', 'demo/client'));
    const routes = s.virtualHost('echo:7070').routes as Json[];
    expect(routes.map((r) => r.match)).toEqual([{ path: '/echo.Echo/Ping' }, { path_separated_prefix: '/echo.Echo' }]);
  });
});
