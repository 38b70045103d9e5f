/**
 * Issue 15, enterprise PKI, with real Envoys: Trellis signs with an
 * intermediate under an operator's root (imported with `trellis ca import`;
 * Trellis never sees the root's key), and two sidecars (client → web, Strict
 * authorization by SPIFFE ID) talk mTLS with its leaves:
 *  - what the web sidecar presents on the wire is leaf + intermediate, and
 *    `openssl verify -CAfile root -untrusted intermediate leaf` accepts it;
 *    every bootstrap and bundle holds the root alone;
 *  - a second Trellis (its own state dir, its own intermediate, same root)
 *    with its own client sidecar calls this mesh's web sidecar: each side
 *    verifies the other's leaf and intermediate against the shared root (the
 *    trust model multicluster needs); a leaf under another root is refused;
 *  - under steady traffic, an intermediate rotation (same root, `trellis ca
 *    rotate --cert --key`), then a root rotation (the operator's new root and
 *    a new intermediate, `--chain --root`), each finished with `--finish`:
 *    zero failed requests, and each sidecar ends on the new CA.
 * Lean on purpose: one Trellis and two Envoys (a second Trellis and Envoy for
 * one case only), one backend; bounded traffic.
 * Addresses 127.0.90.x (this suite's range).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { allInSync } from '../../src/runtime/demo.ts';
import { CertificateAuthority } from '../../src/ca/authority.ts';
import type { IssuedCertificate } from '../../src/ca/issued.ts';
import { openssl, opensslIntermediate, opensslRoot, type CaFiles } from '../../src/ca/testkit.ts';
import { writeYaml } from '../support/mesh-harness.ts';
import { envoyBin } from '../support/venv.ts';
import { pemCertificates, quietLog, tempDir, trellis } from './support.ts';

const NET = '127.0.90';
const CLIENT_IP = `${NET}.2`;
const WEB_IP = `${NET}.3`;
/** A client sidecar of the other installation (its own Trellis, its own intermediate). */
const WEST_CLIENT_IP = `${NET}.4`;
const APP_PORT = 18080;
const SERVICE_PORT = 8080;
const OUTBOUND = 15001;
const ADMIN = 15000;
const TD = 'spiffe://trellis.local/ns/demo/sa';
const GRACE_MS = 1500;
const SPREAD_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pod = (name: string, ip: string, sa = name) => `${sa === name ? `apiVersion: v1
kind: ServiceAccount
metadata: {name: ${name}, namespace: demo}
---
` : ''}apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: demo, labels: {app: ${name}}}
spec:
  serviceAccountName: ${sa}
  containers: [{name: app, ports: [{name: http, containerPort: ${SERVICE_PORT}}]}]
status:
  phase: Running
  podIP: ${ip}
  podIPs: [{ip: ${ip}}]
  conditions: [{type: Ready, status: "True"}]
`;

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata: {name: trellis}
spec:
  trustDomain: trellis.local
  authorization: {mode: Strict}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: http, port: ${SERVICE_PORT}, targetPort: http, appProtocol: http}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web, namespace: demo, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: ${SERVICE_PORT}, protocol: TCP}]
endpoints:
- addresses: ["${WEB_IP}"]
  conditions: {ready: true, serving: true, terminating: false}
  targetRef: {kind: Pod, name: web, namespace: demo}
---
${pod('client', CLIENT_IP)}---
${pod('client-west', WEST_CLIENT_IP, 'client')}---
${pod('web', WEB_IP)}---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: all, namespace: demo}
spec:
  matches: [{name: all, pathRegex: '.*'}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-web, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: demo}
  sources: [{kind: ServiceAccount, name: client, namespace: demo}]
  rules: [{kind: HTTPRouteGroup, name: all}]
`;

const tmp = tempDir('pki-mesh');
const stateDir = path.join(tmp, 'state');
const pki = path.join(tmp, 'pki');
let root: CaFiles;
let first: CaFiles;
let server: RunningControlPlane;
let backend: http.Server;
const envoys = new Map<string, ChildProcess>();
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const IDS = ['demo/client', 'demo/web'];

/** One request: test → client sidecar's outbound listener → mTLS → web sidecar → backend. */
function call(): Promise<{ ok: boolean; why?: string }> {
  return new Promise((resolve) => {
    const req = http.request({ host: CLIENT_IP, port: OUTBOUND, path: '/', headers: { host: `web.demo:${SERVICE_PORT}` }, agent, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body === 'web' ? { ok: true } : { ok: false, why: `${res.statusCode} ${body.slice(0, 200)}` }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ ok: false, why: e.message }));
    req.end();
  });
}

/** A request every 20 ms (not waiting for answers), at most `max`, until stopped. */
function steadyTraffic(max = 2000) {
  const pending: Promise<void>[] = [];
  const failures: string[] = [];
  const timer = setInterval(() => {
    if (pending.length >= max) return;
    pending.push(call().then((r) => void (r.ok || failures.push(r.why ?? 'failed'))));
  }, 20);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      return { sent: pending.length, failures };
    },
  };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    for (const [k, e] of envoys) if (e.exitCode !== null) throw new Error(`the Envoy of ${k} exited (${e.exitCode}); see ${tmp}`);
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; proxies: ${JSON.stringify(server?.xds.syncStatus()).slice(0, 3000)}`);
    await sleep(50);
  }
}

/**
 * What the web sidecar's inbound listener sends on the wire (`openssl s_client
 * -showcerts`, which prints the certificates the peer sent, not a chain it
 * built), as PEM leaf-first, to a client holding a leaf of `client`; and
 * s_client's own verdict against the bundle.
 */
async function presentedChain(): Promise<{ chain: string[]; verify: string }> {
  const clientLeaf = server.security!.ca.issue(`${TD}/client`);
  const f = (name: string, text: string) => (writeFileSync(path.join(tmp, name), text, { mode: 0o600 }), path.join(tmp, name));
  const args = ['s_client', '-connect', `${WEB_IP}:${SERVICE_PORT}`, '-showcerts', '-cert', f('probe.crt', clientLeaf.certificateChainPem), '-key', f('probe.key', clientLeaf.privateKeyPem), '-CAfile', f('probe-bundle.pem', server.security!.ca.trustBundlePem())];
  const out = await new Promise<string>((resolve) => {
    const p = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.on('data', (b: Buffer) => (text += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.on('exit', () => (clearTimeout(timer), resolve(text)));
  });
  const chain = (out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? []);
  return { chain, verify: /Verify return code: (.*)/.exec(out)?.[1] ?? out.slice(0, 500) };
}

/** GET / over mTLS straight to the web sidecar's inbound listener with `leaf` (and its chain), trusting `bundle`; status 0 if refused. */
function mtlsGet(leaf: IssuedCertificate, bundle: string): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = https.request({ host: WEB_IP, port: SERVICE_PORT, path: '/', ca: bundle, cert: leaf.certificateChainPem, key: leaf.privateKeyPem, agent: false, checkServerIdentity: () => undefined, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
    req.end();
  });
}

/** The issuer fingerprint (the signing CA) of the certificate each identity currently holds. */
function issuerOf(sa: string): string | undefined {
  return server.security!.ca.inventory.latest(`${TD}/${sa}`)?.issuerFingerprint;
}

/** Each sidecar serves the serial the CA holds for it (Envoy admin /certs). */
async function envoysHoldCurrent(): Promise<boolean> {
  if (!allInSync(server, IDS)) return false;
  for (const [ip, sa] of [[CLIENT_IP, 'client'], [WEB_IP, 'web']] as const) {
    const serial = server.security!.ca.inventory.latest(`${TD}/${sa}`)?.serial.toLowerCase().replace(/^0+/, '');
    const certs = (await (await fetch(`http://${ip}:${ADMIN}/certs`)).json()) as { certificates: Array<{ cert_chain?: Array<{ serial_number: string }> }> };
    const held = certs.certificates.flatMap((c) => c.cert_chain ?? []).map((c) => c.serial_number.toLowerCase().replace(/^0+/, ''));
    if (!serial || !held.includes(serial)) return false;
  }
  return true;
}

async function startEnvoy(key: string, ip: string, cp = server, cpStateDir = stateDir): Promise<ChildProcess> {
  const yaml = await workloadBootstrapYaml({
    model: cp.mesh!.model!, workloadKey: key, stateDir: cpStateDir, mode: 'explicit',
    xdsAddress: `127.0.0.1:${cp.xdsPort}`, adminAddress: `${ip}:${ADMIN}`, outboundAddress: `${ip}:${OUTBOUND}`,
    appPorts: new Map([[SERVICE_PORT, APP_PORT]]), appAddress: ip,
  });
  const file = path.join(tmp, `${key.replace('/', '-')}.yaml`);
  writeFileSync(file, yaml, { mode: 0o600 });
  const log = path.join(tmp, `${key.replace('/', '-')}.envoy.log`);
  const e = spawn(envoyBin(), ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1', '--base-id-path', path.join(tmp, `${key.replace('/', '-')}.base-id`), '--use-dynamic-base-id', '--log-path', log], { stdio: 'ignore' });
  envoys.set(key, e);
  return e;
}

beforeAll(async () => {
  mkdirSync(pki);
  root = await opensslRoot(pki, 'corp-root', ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  first = await opensslIntermediate(pki, 'mesh-ca-1', root, { pathLen: 0 });
  const imported = await trellis(['ca', 'import', '--state-dir', stateDir, '--cert', first.certFile, '--key', first.keyFile, '--chain', root.certFile]);
  if (imported.code !== 0) throw new Error(`trellis ca import failed: ${imported.stderr}`);
  const meshDir = path.join(tmp, 'mesh');
  mkdirSync(meshDir);
  writeYaml(meshDir, 'mesh.yaml', MESH);
  backend = http.createServer((_req, res) => res.end('web'));
  await new Promise<void>((r) => backend.listen(APP_PORT, WEB_IP, r));
  server = await startControlPlane({
    xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: meshDir, stateDir, log: quietLog(),
    renewalCheckMs: 200, rotationGraceMs: GRACE_MS, rotationSpreadMs: SPREAD_MS,
  });
  await startEnvoy('demo/client', CLIENT_IP);
  await startEnvoy('demo/web', WEB_IP);
  await until('both sidecars in sync', () => allInSync(server, IDS), 30_000);
  await until('a first request through both sidecars', async () => (await call()).ok, 30_000);
}, 90_000);

afterAll(async () => {
  const exited = [...envoys.values()].map((e) => new Promise((r) => (e.exitCode !== null ? r(undefined) : e.once('exit', r))));
  for (const e of envoys.values()) e.kill('SIGTERM');
  await Promise.race([Promise.all(exited), sleep(5000)]);
  for (const e of envoys.values()) if (e.exitCode === null) e.kill('SIGKILL');
  agent.destroy();
  await server?.stop();
  await new Promise((r) => backend?.close(r));
  if (!process.env.TRELLIS_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
});

describe('issue 15: sidecars on leaves of an intermediate under the operator\'s root', () => {
  it('the web sidecar presents leaf + intermediate; openssl verifies it against the root with the intermediate untrusted; the bundle is the root alone', async () => {
    const { chain, verify } = await presentedChain();
    expect(verify).toBe('0 (ok)');
    expect(chain).toHaveLength(2);
    expect(chain[1]).toBe(readFileSync(first.certFile, 'utf8'));
    expect(server.security!.ca.trustBundlePem()).toBe(readFileSync(root.certFile, 'utf8'));
    const leafFile = path.join(tmp, 'presented-leaf.pem');
    writeFileSync(leafFile, chain[0]!);
    const v = await openssl(['verify', '-CAfile', root.certFile, '-untrusted', first.certFile, leafFile]);
    expect(v.stdout.trim()).toBe(`${leafFile}: OK`);
    // The xDS port too: its certificate chains through the intermediate, and the bootstraps trust the root alone.
    const bootstrap = readFileSync(path.join(tmp, 'demo-client.yaml'), 'utf8');
    expect(pemCertificates(bootstrap.replace(/\n\s+/g, '\n')).map((c) => c.subject)).toEqual([new X509Certificate(readFileSync(root.certFile)).subject]);
    expect(server.security!.serverCertificate.chainPem).toBe(readFileSync(first.certFile, 'utf8'));
  });

  it('two Trellis installations, each with its own intermediate under one root: a sidecar of the other installation calls this one\'s web sidecar over mTLS', { timeout: 60_000 }, async () => {
    const westState = path.join(tmp, 'state-west-cp');
    const westCa = await opensslIntermediate(pki, 'mesh-ca-west-cp', root, { pathLen: 0 });
    const imported = await trellis(['ca', 'import', '--state-dir', westState, '--cert', westCa.certFile, '--key', westCa.keyFile, '--chain', root.certFile]);
    expect(imported.code, imported.stderr).toBe(0);
    const west = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: path.join(tmp, 'mesh'), stateDir: westState, log: quietLog() });
    let envoy: ChildProcess | undefined;
    try {
      expect(west.security!.ca.activeRoot.fingerprint).not.toBe(server.security!.ca.activeRoot.fingerprint);
      expect(west.security!.ca.trustBundlePem()).toBe(server.security!.ca.trustBundlePem());
      envoy = await startEnvoy('demo/client-west', WEST_CLIENT_IP, west, westState);
      await until('the other installation\'s sidecar in sync', () => allInSync(west, ['demo/client-west']), 30_000);
      const viaWest = () => new Promise<{ ok: boolean; why?: string }>((resolve) => {
        const req = http.request({ host: WEST_CLIENT_IP, port: OUTBOUND, path: '/', headers: { host: `web.demo:${SERVICE_PORT}` }, agent: false, timeout: 5000 }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ ok: res.statusCode === 200 && body === 'web', why: `${res.statusCode} ${body.slice(0, 200)}` }));
        });
        req.on('error', (e) => resolve({ ok: false, why: e.message }));
        req.end();
      });
      await until('a request from the other installation\'s sidecar', async () => (await viaWest()).ok, 20_000);
      // Its leaf came from its own intermediate (SDS chain), which this mesh's sidecar verified against the shared root.
      const westLeaf = west.security!.ca.inventory.latest(`${TD}/client`)!;
      expect(westLeaf.chainPem).toBe(readFileSync(westCa.certFile, 'utf8'));
      const results = await Promise.all(Array.from({ length: 20 }, viaWest));
      expect(results.filter((r) => !r.ok)).toEqual([]);
    } finally {
      if (envoy && envoy.exitCode === null) {
        const gone = new Promise((r) => envoy!.once('exit', r));
        envoy.kill('SIGTERM');
        await Promise.race([gone, sleep(5000)]);
      }
      envoys.delete('demo/client-west');
      await west.stop();
    }
  });

  it('another installation\'s intermediate under the same root: its leaf (and chain) is accepted by this mesh\'s web sidecar, which it verifies with its own bundle; a leaf under another root is refused', async () => {
    const west = await opensslIntermediate(pki, 'mesh-ca-west', root, { pathLen: 0 });
    const westCa = await CertificateAuthority.open({ trustDomain: 'trellis.local', stateDir: path.join(tmp, 'state-west'), operatorRoot: { ...west, chainFile: root.certFile }, logger: quietLog() });
    expect(westCa.trustBundlePem()).toBe(server.security!.ca.trustBundlePem());
    const r = await mtlsGet(westCa.issue(`${TD}/client`), westCa.trustBundlePem());
    expect(r).toEqual({ status: 200, body: 'web' });
    // Control: an installation under another root is refused by the sidecar.
    const stranger = await opensslRoot(pki, 'stranger-root');
    const strangerCa = await CertificateAuthority.open({ trustDomain: 'trellis.local', stateDir: path.join(tmp, 'state-stranger'), operatorRoot: { ...(await opensslIntermediate(pki, 'stranger-ca', stranger)), chainFile: stranger.certFile }, logger: quietLog() });
    const refused = await mtlsGet(strangerCa.issue(`${TD}/client`), server.security!.ca.trustBundlePem());
    expect(refused.status).toBe(0);
  });

  it('an intermediate rotation under traffic (same root, then --finish): zero failed requests, both sidecars end on the new intermediate', { timeout: 60_000 }, async () => {
    const second = await opensslIntermediate(pki, 'mesh-ca-2', root, { pathLen: 0 });
    const secondFp = new X509Certificate(readFileSync(second.certFile)).fingerprint256;
    const traffic = steadyTraffic();
    await sleep(300);
    const run = await trellis(['ca', 'rotate', '--state-dir', stateDir, '--cert', second.certFile, '--key', second.keyFile]);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('intermediate rotation begun');
    await until('both identities on the new intermediate', () => issuerOf('client') === secondFp && issuerOf('web') === secondFp, 15_000);
    await until('both sidecars serving them', envoysHoldCurrent, 15_000);
    expect(server.security!.ca.trustBundlePem()).toBe(readFileSync(root.certFile, 'utf8'));
    const finish = await trellis(['ca', 'rotate', '--finish', '--state-dir', stateDir, '--admin-address', `127.0.0.1:${server.adminPort}`]);
    expect(finish.code, finish.stderr).toBe(0);
    await until('the server on the finished rotation', () => server.security!.ca.retiringRoot === undefined && server.security!.serverCertificate.issuerFingerprint === secondFp, 10_000);
    await sleep(500);
    const { sent, failures } = await traffic.stop();
    console.log(`[pki] intermediate rotation: ${sent} requests, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(100);
    expect((await presentedChain()).chain[1]).toBe(readFileSync(second.certFile, 'utf8'));
  });

  it('a root rotation under traffic (the operator\'s new root and a new intermediate, --chain --root, then --finish): zero failed requests', { timeout: 60_000 }, async () => {
    const newRoot = await opensslRoot(pki, 'corp-root-2027', ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    const third = await opensslIntermediate(pki, 'mesh-ca-3', newRoot, { pathLen: 0 });
    const thirdFp = new X509Certificate(readFileSync(third.certFile)).fingerprint256;
    const traffic = steadyTraffic();
    await sleep(300);
    const run = await trellis(['ca', 'rotate', '--state-dir', stateDir, '--cert', third.certFile, '--key', third.keyFile, '--chain', newRoot.certFile, '--root', newRoot.certFile]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('root rotation begun');
    await until('both roots in the bundle', () => server.security!.ca.trustBundlePem().split('BEGIN CERTIFICATE').length - 1 === 2, 10_000);
    await until('both identities on the new intermediate', () => issuerOf('client') === thirdFp && issuerOf('web') === thirdFp, 15_000);
    await until('both sidecars serving them', envoysHoldCurrent, 15_000);
    const finish = await trellis(['ca', 'rotate', '--finish', '--state-dir', stateDir, '--admin-address', `127.0.0.1:${server.adminPort}`]);
    expect(finish.code, finish.stderr).toBe(0);
    await until('the bundle down to the new root', () => server.security!.ca.trustBundlePem() === readFileSync(newRoot.certFile, 'utf8'), 10_000);
    await until('both sidecars in sync on it', () => allInSync(server, IDS), 10_000);
    await sleep(500);
    const { sent, failures } = await traffic.stop();
    console.log(`[pki] root rotation: ${sent} requests, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(100);
    const { chain, verify } = await presentedChain();
    expect(verify).toBe('0 (ok)');
    expect(chain[1]).toBe(readFileSync(third.certFile, 'utf8'));
    const leafFile = path.join(tmp, 'presented-leaf-3.pem');
    writeFileSync(leafFile, chain[0]!);
    expect((await openssl(['verify', '-CAfile', newRoot.certFile, '-untrusted', third.certFile, leafFile])).stdout.trim()).toBe(`${leafFile}: OK`);
  });
});
