/**
 * Issue 11, proxyless gRPC mTLS (gRFC A29) and authorization (A41), with real
 * gRPC libraries and no Envoy: Trellis writes each workload's certificate
 * files (runtime/workload-certs.ts) and its gRPC bootstrap with a
 * `file_watcher` certificate provider; an xDS-enabled Python grpcio server
 * (A36) gets its Listener — mTLS required, RBAC from the TrafficTargets —
 * from Trellis. Callers use xds channel credentials:
 *   - Python grpcio as `client` (a TrafficTarget allows it): the call
 *     succeeds and the server saw the client's SPIFFE ID;
 *   - Python grpcio as `intruder` (a TrafficTarget allows it another method
 *     only): PERMISSION_DENIED by the server's RBAC, though its certificate
 *     is a valid mesh one;
 *   - @grpc/grpc-js-xds as `client`: succeeds over mTLS too;
 *   - an xDS-enabled @grpc/grpc-js-xds server (RBAC needs its
 *     GRPC_XDS_EXPERIMENTAL_RBAC=true in 1.14): the same two outcomes.
 * Loopback 127.0.40.5-7.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMesh } from '../../src/model/build.ts';
import { objectsFrom } from '../../src/model/testing.ts';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { proxylessBootstrap, writeWorkloadCertificates } from '../../src/runtime/workload-certs.ts';
import { until } from '../support/edge-e2e.ts';
import { pythonBin, repoRoot } from '../support/venv.ts';

const pod = (name: string, sa: string, ip: string) => `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${sa}, namespace: demo}
---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: demo, labels: {app: ${sa}}}
spec:
  serviceAccountName: ${sa}
  containers: [{name: app, ports: [{name: grpc, containerPort: 50051}]}]
status: {podIP: ${ip}, phase: Running}
`;
const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  authorization: {mode: Strict}
${pod('greeter-1', 'greeter', '127.0.40.5')}${pod('greeter-js-1', 'greeter', '127.0.40.8').replace('{app: greeter}', '{app: greeter-js}')}${pod('client-1', 'client', '127.0.40.6')}${pod('intruder-1', 'intruder', '127.0.40.7')}---
apiVersion: v1
kind: Service
metadata: {name: greeter, namespace: demo}
spec:
  selector: {app: greeter}
  ports: [{name: grpc, port: 50051, targetPort: 50051, appProtocol: grpc}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: greeter-1, namespace: demo, labels: {kubernetes.io/service-name: greeter}}
addressType: IPv4
ports: [{name: grpc, port: 50051}]
endpoints: [{addresses: [127.0.40.5], conditions: {ready: true}, targetRef: {kind: Pod, name: greeter-1}}]
---
apiVersion: v1
kind: Service
metadata: {name: greeter-js, namespace: demo}
spec:
  selector: {app: greeter-js}
  ports: [{name: grpc, port: 50052, targetPort: 50052, appProtocol: grpc}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: greeter-js-1, namespace: demo, labels: {kubernetes.io/service-name: greeter-js}}
addressType: IPv4
ports: [{name: grpc, port: 50052}]
endpoints: [{addresses: [127.0.40.8], conditions: {ready: true}, targetRef: {kind: Pod, name: greeter-js-1}}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-greeter, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: greeter, namespace: demo}
  sources: [{kind: ServiceAccount, name: client}]
---
# intruder may call another method only: it resolves greeter, and the server's RBAC refuses Call.
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: echo-other, namespace: demo}
spec:
  matches: [{name: other, pathRegex: /trellis.test.Echo/Other}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: intruder-to-greeter-other, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: greeter, namespace: demo}
  sources: [{kind: ServiceAccount, name: intruder}]
  rules: [{kind: HTTPRouteGroup, name: echo-other}]
`;

const TARGET = 'xds:///greeter.demo.svc.cluster.local:50051';
const PY = path.join(repoRoot, 'test/interop/py_xds_secure.py');
/** An xDS-enabled grpc-js server (A36) with XdsServerCredentials; RBAC (A41) needs GRPC_XDS_EXPERIMENTAL_RBAC=true in 1.14. */
const JS_SERVE = `
require('@grpc/grpc-js-xds').register();
const grpc = require('@grpc/grpc-js');
const { XdsServer, XdsServerCredentials } = require('@grpc/grpc-js-xds');
const id = (x) => x;
const server = new XdsServer();
server.addService({ Call: { path: '/trellis.test.Echo/Call', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
  { Call: (call, cb) => cb(null, Buffer.from(JSON.stringify({ server: 'grpc-js', peer: String(call.getAuthContext?.()?.sslPeerCertificate?.subjectaltname ?? '').split(', ').map((s) => s.replace(/^URI:/, '')) }))) });
server.bindAsync(process.argv[1], new XdsServerCredentials(grpc.ServerCredentials.createInsecure()), (err) => { if (err) { console.error(err); process.exit(1); } console.log('serving'); });
setTimeout(() => process.exit(0), 120000);
`;
const JS_CALL = `
require('@grpc/grpc-js-xds').register();
const grpc = require('@grpc/grpc-js');
const { XdsChannelCredentials } = require('@grpc/grpc-js-xds');
const client = new grpc.Client(process.argv[1], new XdsChannelCredentials(grpc.credentials.createInsecure()));
client.makeUnaryRequest('/trellis.test.Echo/Call', (x) => x, (x) => x, Buffer.from('hi'), { deadline: Date.now() + 5000 }, (err, res) => {
  console.log(JSON.stringify(err ? { code: grpc.status[err.code], details: err.details } : { ok: JSON.parse(res.toString()) }));
  client.close();
  process.exit(0);
});
`;

let dir: string;
let plane: RunningControlPlane;
const children: ChildProcess[] = [];
const env: Record<string, NodeJS.ProcessEnv> = {};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'trellis-a29-'));
  writeFileSync(path.join(dir, 'mesh.yaml'), MESH);
  const stateDir = path.join(dir, 'state');
  plane = await startControlPlane({ xdsAddress: '127.0.40.1:0', plaintextXdsAddress: '127.0.40.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir, stateDir });
  const { model } = buildMesh(objectsFrom({ 'mesh.yaml': MESH }));
  for (const w of ['greeter-1', 'greeter-js-1', 'client-1', 'intruder-1']) {
    const certDir = path.join(dir, 'certs', w);
    await writeWorkloadCertificates({ stateDir, trustDomain: model.mesh.trustDomain, spiffeId: model.workloads.get(`demo/${w}`)!.identity, dir: certDir });
    const bootstrap = proxylessBootstrap({ model, workloadKey: `demo/${w}`, xdsAddress: `127.0.40.1:${plane.plaintextPort}`, certDir, refreshSeconds: 5 });
    const e: NodeJS.ProcessEnv = { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) };
    delete e.GRPC_XDS_BOOTSTRAP;
    env[w] = e;
  }
  await Promise.all([
    serve('Python', pythonBin(), [PY, 'serve', '127.0.40.5:50051'], env['greeter-1']!),
    serve('grpc-js', process.execPath, ['-e', JS_SERVE, '127.0.40.8:50052'], { ...env['greeter-js-1'], GRPC_XDS_EXPERIMENTAL_RBAC: 'true' }),
  ]);
}, 60_000);

function serve(what: string, cmd: string, args: string[], e: NodeJS.ProcessEnv): Promise<void> {
  const server = spawn(cmd, args, { env: e, cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(server);
  let log = '';
  server.stderr!.on('data', (d) => (log += d));
  return new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d) => String(d).includes('serving') && resolve());
    server.once('exit', (code) => reject(new Error(`the ${what} server exited ${code}: ${log}`)));
    setTimeout(() => reject(new Error(`the ${what} server is not serving after 30 s: ${log.slice(-3000)}`)), 30_000).unref();
  });
}

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await plane?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const run = promisify(execFile);
async function pyCall(workload: string, target = TARGET): Promise<Record<string, any>> {
  const r = await run(pythonBin(), [PY, 'call', target], { env: env[workload], timeout: 20_000 });
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, any>;
}

describe('issue 11: proxyless gRPC mTLS (A29) and RBAC (A41)', () => {
  it('Python grpcio: an allowed client reaches the xDS-enabled server over mTLS; the server sees its SPIFFE ID', async () => {
    const r = await until('an mTLS call from client-1', async (last) => {
      const x = await pyCall('client-1');
      last.seen = x;
      return x.ok ? x : undefined;
    }, 40_000);
    expect(r.ok.peer).toContain('spiffe://cluster.local/ns/demo/sa/client');
  }, 60_000);

  it('Python grpcio: a client allowed another method only is refused Call by the server\'s RBAC (PERMISSION_DENIED)', async () => {
    const r = await pyCall('intruder-1');
    expect(r.code).toBe('PERMISSION_DENIED');
  }, 30_000);

  it('@grpc/grpc-js-xds as an xDS-enabled server (XdsServerCredentials, GRPC_XDS_EXPERIMENTAL_RBAC=true): mTLS for the allowed client, PERMISSION_DENIED for the other', async () => {
    const js = 'xds:///greeter-js.demo.svc.cluster.local:50052';
    const r = await until('an mTLS call to the grpc-js server', async (last) => {
      const x = await pyCall('client-1', js);
      last.seen = x;
      return x.ok ? x : undefined;
    }, 40_000);
    expect(r.ok).toMatchObject({ server: 'grpc-js' });
    expect(r.ok.peer).toContain('spiffe://cluster.local/ns/demo/sa/client');
    expect((await pyCall('intruder-1', js)).code).toBe('PERMISSION_DENIED');
  }, 60_000);

  it('@grpc/grpc-js-xds with XdsChannelCredentials reaches the same server over mTLS', async () => {
    const r = await until('a grpc-js-xds call', async (last) => {
      const out = await run(process.execPath, ['-e', JS_CALL, TARGET], { env: env['client-1'], cwd: repoRoot, timeout: 20_000 });
      const x = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Record<string, any>;
      last.seen = x;
      return x.ok ? x : undefined;
    }, 30_000);
    expect(r.ok.peer).toContain('spiffe://cluster.local/ns/demo/sa/client');
  }, 60_000);
});
