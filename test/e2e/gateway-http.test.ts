/**
 * issue 10 (north-south), end to end with real Envoys on loopback
 * (127.0.110.0/24): one Trellis on a folder, one gateway Envoy bootstrapped
 * by `trellis bootstrap --gateway` (its code), one backend sidecar in strict
 * mode. A Gateway with an HTTP and an HTTPS listener; an HTTPRoute with a
 * path match and a header filter to the meshed backend.
 *
 * Shows: the backend's sidecar refuses the gateway (403) until a
 * TrafficTarget names the gateway's service account; http:// and https://
 * (SNI, the Secret's certificate checked against its CA) reach the backend
 * with the filter applied; a route edit changes traffic live; a
 * cross-namespace backend without a ReferenceGrant gets 500 and
 * RefNotPermitted; the status conditions; and the Secret's private key is
 * in no config dump (Trellis's or Envoy's) and no /api page.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { gatewayBootstrapYaml, workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { allInSync } from '../../src/runtime/demo.ts';
import { tlsPair, tlsSecretYaml, trellisGatewayYaml } from '../../src/model/gateway-testing.ts';
import { ADMIN_PORT, OUTBOUND_PORT } from '../../src/translate/sidecar.ts';
import { until } from '../support/edge-e2e.ts';
import { writeYaml } from '../support/mesh-harness.ts';
import { envoyBin } from '../support/venv.ts';

const GW_IP = '127.0.110.1';
const WEB_IP = '127.0.110.2';
const HTTP_PORT = 18080;
const HTTPS_PORT = 18443;
const APP_PORT = 18081;
const HOST = 'web.example.com';
const pair = tlsPair([HOST]);

const MESH = `apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  authorization: {mode: Strict}
---
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: demo}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo, labels: {app: web}}
spec:
  serviceAccountName: web
  containers: [{name: app, ports: [{containerPort: 8080}]}]
status: {podIP: ${WEB_IP}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: demo, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- addresses: [${WEB_IP}]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: web}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: other}
spec:
  ports: [{name: http, port: 8080}]
`;

const GATEWAY = trellisGatewayYaml({ namespace: 'demo', httpPort: HTTP_PORT, httpsPort: HTTPS_PORT, hostname: HOST, secret: 'web-cert' }) + tlsSecretYaml('demo', 'web-cert', pair);

const route = (prefix: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: demo}
spec:
  parentRefs: [{name: edge}]
  rules:
  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-via, value: edge-gateway}]}}]
    backendRefs: [{name: web, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cross, namespace: demo}
spec:
  parentRefs: [{name: edge, sectionName: http}]
  hostnames: [cross.example.com]
  rules:
  - backendRefs: [{name: api, namespace: other, port: 8080}]
`;

const TARGET = `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: edge-to-web, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: demo}
  sources: [{kind: ServiceAccount, name: edge, namespace: demo}]
`;

interface Answer {
  status: number;
  body: string;
}

function httpGet(pathname: string, host = HOST): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: GW_IP, port: HTTP_PORT, path: pathname, headers: { host }, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** https:// with SNI, checking the gateway's certificate against the Secret's CA for the name. */
function httpsGet(pathname: string): Promise<Answer & { peer: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: GW_IP, port: HTTPS_PORT, servername: HOST, path: pathname, headers: { host: HOST }, ca: pair.caPem, agent: false, timeout: 3000 }, (res) => {
      const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subjectaltname ?? '';
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peer }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

let root: string;
let dir: string;
let server: RunningControlPlane;
let app: http.Server;
const envoys: ChildProcess[] = [];
const logs: string[] = [];
const NODES = ['demo/web', 'edge-gateway-1'];

async function write(files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) writeYaml(dir, name, text);
  await server.mesh!.flush();
  await until('every Envoy ACKed', async () => (allInSync(server, NODES) ? true : undefined), 30_000);
}

async function live(ip: string): Promise<boolean> {
  try {
    return (await fetch(`http://${ip}:${ADMIN_PORT}/ready`, { signal: AbortSignal.timeout(1000) })).status === 200;
  } catch {
    return false;
  }
}

function startEnvoy(name: string, yaml: string): void {
  const file = path.join(root, `${name}.yaml`);
  writeFileSync(file, yaml, { mode: 0o600 });
  const log = path.join(root, `${name}.log`);
  logs.push(log);
  envoys.push(spawn(envoyBin(), ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'], { stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')] }));
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'trellis-gw-http-'));
  dir = path.join(root, 'mesh');
  mkdirSync(dir);
  for (const [name, text] of Object.entries({ 'mesh.yaml': MESH, 'gateway.yaml': GATEWAY, 'route.yaml': route('/api') })) writeYaml(dir, name, text);
  const stateDir = path.join(root, 'state');
  server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir, stateDir, reloadDebounceMs: 30 });
  app = http.createServer((q, s) => s.end(JSON.stringify({ path: q.url, via: q.headers['x-via'] ?? null, xfcc: q.headers['x-forwarded-client-cert'] ?? null })));
  await new Promise<void>((resolve, reject) => app.once('error', reject).listen(APP_PORT, WEB_IP, resolve));
  const model = server.mesh!.model!;
  const xdsAddress = `127.0.0.1:${server.xdsPort}`;
  startEnvoy('web', await workloadBootstrapYaml({
    model, workloadKey: 'demo/web', stateDir, mode: 'explicit', xdsAddress,
    adminAddress: `${WEB_IP}:${ADMIN_PORT}`, outboundAddress: `${WEB_IP}:${OUTBOUND_PORT}`, appPorts: new Map([[8080, APP_PORT]]), appAddress: WEB_IP, statsAddress: 'off',
  }));
  startEnvoy('gateway', await gatewayBootstrapYaml({ model, gatewayKey: 'demo/edge', nodeId: 'edge-gateway-1', stateDir, xdsAddress, adminAddress: `${GW_IP}:${ADMIN_PORT}`, listenAddress: GW_IP }));
  await until('both Envoys ACKed and LIVE', async () => {
    const dead = envoys.findIndex((e) => e.exitCode !== null);
    if (dead >= 0) throw new Error(`Envoy exited:\n${readFileSync(logs[dead]!, 'utf8').slice(-3000)}`);
    return allInSync(server, NODES) && (await live(GW_IP)) && (await live(WEB_IP)) ? true : undefined;
  }, 40_000);
}, 90_000);

afterAll(async () => {
  await Promise.all(envoys.map((e) => new Promise<void>((resolve) => {
    if (e.exitCode !== null || e.signalCode !== null) return resolve();
    const t = setTimeout(() => (e.kill('SIGKILL'), resolve()), 3000);
    e.once('exit', () => (clearTimeout(t), resolve()));
    e.kill('SIGTERM');
  })));
  await new Promise((r) => app?.close(r));
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('issue 10: an ingress gateway Trellis programs, with real Envoys', () => {
  it('strict mode: the backend refuses the gateway (403) until a TrafficTarget names its service account; then http:// reaches it through the route\'s filter', async () => {
    expect((await httpGet('/api/hello')).status).toBe(403);
    await write({ 'target.yaml': TARGET });
    const ok = await until('200 through the gateway', async (last) => {
      const a = await httpGet('/api/hello');
      last.seen = a;
      return a.status === 200 ? a : undefined;
    });
    const body = JSON.parse(ok.body) as { path: string; via: string; xfcc: string };
    expect(body).toMatchObject({ path: '/api/hello', via: 'edge-gateway' });
    // The backend's sidecar saw the gateway's identity on the mTLS connection.
    expect(body.xfcc).toContain('URI=spiffe://cluster.local/ns/demo/sa/edge');
    expect((await httpGet('/elsewhere')).status).toBe(404);
  });

  it('https:// with SNI: the Secret\'s certificate, the same route', async () => {
    const a = await until('200 over https', async (last) => {
      const r = await httpsGet('/api/secure');
      last.seen = r;
      return r.status === 200 ? r : undefined;
    });
    expect(a.peer).toContain(`DNS:${HOST}`);
    expect(JSON.parse(a.body)).toMatchObject({ path: '/api/secure', via: 'edge-gateway' });
  });

  it('a route edit changes traffic live, over the gateway\'s delta ADS stream (only what changed is sent)', async () => {
    const proxies = (await (await fetch(`http://127.0.0.1:${server.adminPort}/api/v1/proxies`)).json()) as { proxies: { node: string; streams: { mode: string }[] }[] };
    expect(proxies.proxies.find((p) => p.node === 'edge-gateway-1')?.streams.map((x) => x.mode)).toEqual(['delta']);
    await write({ 'route.yaml': route('/v2') });
    await until('the new prefix routes and the old one is gone', async (last) => {
      const [fresh, old] = [await httpGet('/v2/x'), await httpGet('/api/x')];
      last.seen = [fresh.status, old.status];
      return fresh.status === 200 && old.status === 404 ? true : undefined;
    });
  });

  it('a backend in another namespace without a ReferenceGrant: 500, and the route says RefNotPermitted; the Gateway and its listeners say Accepted and Programmed', async () => {
    expect((await httpGet('/', 'cross.example.com')).status).toBe(500);
    const res = await fetch(`http://127.0.0.1:${server.adminPort}/api/v1/intents`);
    const { intents } = (await res.json()) as { intents: Array<{ kind: string; name: string; conditions: { type: string; status: string; reason: string }[]; parents?: { ours: boolean; conditions: { type: string; status: string; reason: string }[] }[]; listeners?: { name: string; attachedRoutes: number; conditions: { type: string; status: string }[] }[] }> };
    const cross = intents.find((i) => i.kind === 'HTTPRoute' && i.name === 'cross')!;
    expect(cross.parents![0]!.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=False/RefNotPermitted']);
    const gw = intents.find((i) => i.kind === 'Gateway' && i.name === 'edge')!;
    expect(gw.conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['Accepted=True', 'Programmed=True']);
    expect(gw.listeners!.map((l) => [l.name, l.attachedRoutes, l.conditions.find((c) => c.type === 'Programmed')!.status])).toEqual([['http', 2, 'True'], ['https', 1, 'True']]);
  });

  it('the private key is in no config dump and no /api page', async () => {
    const keyLine = pair.privateKeyPem.split('\n')[1]!;
    const admin = `http://127.0.0.1:${server.adminPort}`;
    const pages = [
      await (await fetch(`${admin}/api/v1/proxies/${encodeURIComponent('edge-gateway-1')}/config`)).text(),
      await (await fetch(`${admin}/api/v1/intents?all=true`)).text(),
      await (await fetch(`${admin}/api/v1/proxies`)).text(),
      await (await fetch(`${admin}/metrics`)).text(),
      await (await fetch(`http://${GW_IP}:${ADMIN_PORT}/config_dump?include_eds`)).text(),
    ];
    // The dump does hold the gateway's certificate secret (so the check looks where the key would be).
    expect(pages[0]).toContain('gateway-certificate/demo/web-cert');
    expect(pages[4]).toContain('gateway-certificate/demo/web-cert');
    for (const p of pages) expect(p).not.toContain(keyLine);
    for (const l of logs) expect(readFileSync(l, 'utf8')).not.toContain(keyLine);
  });
});
