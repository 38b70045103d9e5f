/**
 * Issue 11, incremental adoption, with real Envoys (explicit mode, loopback
 * 127.0.40.2-4):
 *   web-1    Permissive (an MTLSPolicy on the pod): its sidecar's inbound port
 *            takes plaintext from a caller without a sidecar, and mTLS from api-1;
 *   api-1    Strict (the default): plaintext to its port is refused; its
 *            sidecar is also the meshed client of the checks below;
 *   legacy-1 no sidecar (`trellis.io/inject: "false"`): api-1's sidecar calls it
 *            in plaintext (the cluster has no TLS) and gets its answer.
 * Then authorization turns Strict with TrafficTargets for api: the plaintext
 * caller, who has no identity, gets 403 from web-1 while api-1 still passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, EdgeMesh, get, until, whoAmI } from '../support/edge-e2e.ts';
import { permissivePod } from '../support/mesh-yaml.ts';

const pod = (name: string, sa: string, ip: string, extra = '') => `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${sa}, namespace: demo}
---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: demo, labels: {app: ${sa}}${extra}}
spec:
  serviceAccountName: ${sa}
  containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: ${ip}, phase: Running}
---
apiVersion: v1
kind: Service
metadata: {name: ${sa}, namespace: demo}
spec:
  selector: {app: ${sa}}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${sa}-1, namespace: demo, labels: {kubernetes.io/service-name: ${sa}}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [${ip}], conditions: {ready: true}, targetRef: {kind: Pod, name: ${name}}}]
`;

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
${pod('web-1', 'web', '127.0.40.2')}${pod('api-1', 'api', '127.0.40.3')}${pod('legacy-1', 'legacy', '127.0.40.4', ', annotations: {trellis.io/inject: "false"}')}${permissivePod('web-1')}`;

const STRICT_AUTHZ = `apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  authorization: {mode: Strict}
${['web', 'legacy'].map((dest) => `---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: api-to-${dest}, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: ${dest}, namespace: demo}
  sources: [{kind: ServiceAccount, name: api}]
`).join('')}`;

const APP_PORTS = new Map([[8080, 18080]]);
let mesh: EdgeMesh;

beforeAll(async () => {
  mesh = await EdgeMesh.start({ 'mesh.yaml': MESH }, '127.0.40.1');
  mesh.keep(await whoAmI('web', '127.0.40.2', 18080));
  mesh.keep(await whoAmI('api', '127.0.40.3', 18080));
  mesh.keep(await whoAmI('legacy', '127.0.40.4', 8080));
  await mesh.envoy('demo/web-1', '127.0.40.2:15000', { appPorts: APP_PORTS });
  await mesh.envoy('demo/api-1', '127.0.40.3:15000', { appPorts: APP_PORTS });
}, 60_000);
afterAll(() => mesh?.stop());

/** api-1's application calling through its sidecar's outbound listener. */
const viaApi = (host: string) => get('http://127.0.40.3:15001/', { host });
const json = (a: { body: string }) => JSON.parse(a.body) as { name: string; xfcc: string | null };

describe('issue 11: incremental adoption (Permissive mTLS) with real Envoys', () => {
  it('a plaintext client without a sidecar reaches the Permissive workload; the Strict one refuses it', async () => {
    const plain = await until('plaintext to the Permissive web-1', async (last) => {
      const r = await get('http://127.0.40.2:8080/');
      last.seen = r;
      return r.status === 200 ? r : undefined;
    });
    expect(json(plain)).toMatchObject({ name: 'web', xfcc: null }); // no identity, and none can be forged
    // api-1 is up (its sidecar's mTLS port answers the mesh) ...
    await until('api-1 through the mesh', async () => ((await viaApi('web.demo:8080')).status === 200 ? true : undefined));
    // ... and plaintext to its port meets the mTLS chain: no HTTP answer.
    expect(['empty', 'ECONNRESET']).toContain(await connect('127.0.40.3', 8080, 'GET / HTTP/1.1\r\nHost: api\r\n\r\n'));
  });

  it('the Permissive workload still takes mTLS: a meshed caller arrives with its verified identity', async () => {
    const r = await viaApi('web.demo:8080');
    expect(r.status).toBe(200);
    expect(json(r).xfcc).toContain('URI=spiffe://cluster.local/ns/demo/sa/api');
  });

  it('a meshed client calls a workload without a sidecar in plaintext', async () => {
    const r = await until('api-1 → legacy-1', async (last) => {
      const a = await viaApi('legacy.demo:8080');
      last.seen = a;
      return a.status === 200 ? a : undefined;
    });
    expect(json(r)).toMatchObject({ name: 'legacy', xfcc: null });
    // Visible per destination in the caller's config: legacy's cluster has no transport socket, web's has mTLS.
    const dump = JSON.parse((await get('http://127.0.40.3:15000/config_dump?resource=dynamic_active_clusters')).body) as { configs: Array<{ cluster: { name: string; transport_socket?: { name: string } } }> };
    const socket = (name: string) => dump.configs.find((c) => c.cluster.name === name)?.cluster.transport_socket?.name ?? 'none';
    expect({ legacy: socket('legacy.demo:8080'), web: socket('web.demo:8080') }).toEqual({ legacy: 'none', web: 'envoy.transport_sockets.tls' });
  });

  it('Strict authorization: a plaintext caller has no identity, so no TrafficTarget matches it (403); api-1 still passes', async () => {
    await mesh.write('authz.yaml', STRICT_AUTHZ);
    const denied = await until('403 for plaintext to web-1', async (last) => {
      const r = await get('http://127.0.40.2:8080/');
      last.seen = r;
      return r.status === 403 ? r : undefined;
    });
    expect(denied.body).toContain('RBAC');
    expect((await viaApi('web.demo:8080')).status).toBe(200);
    expect((await viaApi('legacy.demo:8080')).status).toBe(200);
  });
});
