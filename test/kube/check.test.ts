/**
 * Issue 13 `trellis check` against live Trellis replicas: "webhook
 * reachable" makes the real kube-apiserver call the injection webhook (a
 * dry-run pod), and says what breaks the call. Trellis runs as its service
 * account with the CA of the Secret `trellis install --apply` made (copied
 * into its state dir as the Deployment's init container does); the API
 * server reaches its webhook on loopback (the configuration's clientConfig
 * becomes a URL: no kube-proxy here for the Service's cluster IP).
 *
 * "replicas agree on versions": two `trellis serve` processes, each on its
 * own copy of examples/demo, one proxy connected to each; check reaches them
 * by --admin URLs, and without one through the API server's pod proxy (two
 * Pods standing for the replicas, their IP this machine's non-loopback
 * address: the API server refuses to proxy to loopback).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { XdsTestClient } from '../support/ads-client.ts';
import { structOf } from '../support/mesh-harness.ts';
import { apply, freePort, KubeCluster, trellisCli, yamlObjects } from '../support/kube.ts';

type Json = Record<string, any>; // objects read back from the API server
const ROOT = path.resolve(import.meta.dirname, '../..');
const NS = 'trellis-system';
const HOOK = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/trellis-sidecar-injector';

const trellis = (...args: string[]) => trellisCli(args, 90_000);

let cluster: KubeCluster;
let server: RunningControlPlane | undefined;
const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-kube-check-'));
const line = (out: string, name: string) => out.split('\n').find((l) => l.includes(` ${name}:`)) ?? `(no line for ${name} in:\n${out})`;
/** The line and its fix hint (the indented line after a ×). */
const withFix = (out: string, name: string) => {
  const lines = out.split('\n');
  const i = lines.findIndex((l) => l.includes(` ${name}:`));
  return i < 0 ? `(no line for ${name} in:\n${out})` : `${lines[i]}\n${lines[i + 1] ?? ''}`;
};
const check = () => trellis('check', '--kubeconfig', cluster.kubeconfigPath);
const caBundles = async () => ((await cluster.rest.get<Json>(HOOK)).webhooks as Json[]).map((w) => w.clientConfig.caBundle as string | undefined);

/** What the Deployment's init container does: the Secret's root and keys into the state dir, with the modes the CA checks. */
async function stateFromSecret(dir: string): Promise<void> {
  const data = (await cluster.rest.get<Json>(`/api/v1/namespaces/${NS}/secrets/trellis-ca`)).data as Record<string, string>;
  const put = (file: string, key: string, mode: number) => writeFileSync(path.join(dir, file), Buffer.from(data[key]!, 'base64'), { mode });
  mkdirSync(path.join(dir, 'ca'), { recursive: true, mode: 0o700 });
  mkdirSync(path.join(dir, 'tokens'), { recursive: true, mode: 0o700 });
  put('ca/root.crt', 'root.crt', 0o644);
  put('ca/root.key', 'root.key', 0o600);
  put('tokens/signing.key', 'token-signing.key', 0o600);
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  cluster = await KubeCluster.start();
  const inst = await trellis('install', '--apply', '--replicas', '1', '--kubeconfig', cluster.kubeconfigPath);
  if (inst.code !== 0) throw new Error(`install --apply: ${inst.stderr}`);
}, 180_000);

const replicas: ChildProcess[] = [];
const clients: XdsTestClient[] = [];

afterAll(async () => {
  for (const c of clients) c.close();
  for (const p of replicas) p.kill('SIGKILL');
  await server?.stop();
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('issue 13: trellis check, webhook reachable', () => {
  it('installed, no replica running: × the webhook Service has no ready endpoint, and where to look', async () => {
    const r = await check();
    expect(withFix(r.stdout, 'webhook reachable')).toMatch(/^× webhook reachable: Service trellis-system\/trellis has no ready endpoint for port 443 \(https-webhook\): no Trellis replica is there to answer the API server\n\s+kubectl -n trellis-system get pods -l app.kubernetes.io\/name=trellis/);
    expect(r.code).toBe(1);
  }, 60_000);

  it('a replica answering on the configured address: ✔, the API server called it with a dry-run pod', async () => {
    const state = path.join(tmp, 'state');
    await stateFromSecret(state);
    server = await startControlPlane({
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      stateDir: state,
      kubernetes: { config: await cluster.serviceAccountConfig(), debounceMs: 30, writeStatus: false },
      // No periodic check during the test: a wrong caBundle (below) must stay wrong until refresh().
      webhook: { address: '127.0.0.1:0', checkIntervalMs: 600_000, inject: { trellisImage: 'registry.example/trellis:1' } },
    });
    const hook = await cluster.rest.get<Json>(HOOK);
    for (const w of hook.webhooks as Json[]) w.clientConfig = { url: `https://127.0.0.1:${server.webhook!.port}/inject` };
    await cluster.rest.put(HOOK, hook);
    await server.webhook!.refresh();
    const root = Buffer.from(server.security!.ca.trustBundlePem()).toString('base64');
    await until('the caBundle is the mesh root', async () => (await caBundles()).every((b) => b === root));

    // No namespace in the mesh yet: the probe asks for the sidecar in "default", and Trellis answers why it leaves it.
    const outside = await check();
    expect(line(outside.stdout, 'webhook configuration current')).toMatch(/^✔/);
    expect(line(outside.stdout, 'webhook reachable')).toMatch(/^✔ webhook reachable: the API server called it: a dry-run pod in namespace default \(labelled trellis.io\/inject=enabled; no namespace is labelled trellis.io\/mesh=enabled\) came back with Trellis's answer "trellis: namespace "default" is not in the mesh/);

    await apply(cluster.rest, yamlObjects('apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {trellis.io/mesh: enabled}}\n'));
    await until('Trellis sees the mesh namespace', async () => server!.kube!.source.inMesh('shop'));
    const inMesh = await check();
    expect(line(inMesh.stdout, 'webhook reachable')).toBe('✔ webhook reachable: the API server called it: a dry-run pod in namespace shop came back injected');
    // A dry run stores nothing.
    expect(((await cluster.rest.get<Json>('/api/v1/namespaces/shop/pods')).items as Json[]).length).toBe(0);
  }, 120_000);

  it('a caBundle that does not trust the webhook certificate: × with the TLS error, and that a replica sets it', async () => {
    // Another CA's certificate: the API server's own serving certificate.
    const other = readFileSync(path.join(cluster.dir, 'serving.crt')).toString('base64');
    const hook = await cluster.rest.get<Json>(HOOK);
    for (const w of hook.webhooks as Json[]) w.clientConfig.caBundle = other;
    await cluster.rest.put(HOOK, hook);
    const r = await check();
    expect(withFix(r.stdout, 'webhook reachable')).toMatch(/^× webhook reachable: the API server could not call it \(a dry-run pod in namespace shop\): .*failed calling webhook .*x509.*\n\s+the configuration's caBundle does not trust the webhook's certificate: a running replica sets it/);
    expect(line(r.stdout, 'webhook configuration current')).toMatch(/^× .*caBundle does not hold the root of trellis-ca/);
    await server!.webhook!.refresh();
    expect(line((await check()).stdout, 'webhook reachable')).toMatch(/^✔/);
  }, 120_000);

  it('Trellis down: × connection refused, no replica answers', async () => {
    await server!.webhook!.close();
    const r = await check();
    expect(withFix(r.stdout, 'webhook reachable')).toMatch(/^× webhook reachable: the API server could not call it \(a dry-run pod in namespace shop\): .*failed calling webhook "namespace.sidecar-injector.trellis.io".*connection refused.*\n\s+no Trellis replica answers/);
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});

/** This machine's first non-loopback IPv4 address: what the replicas' stand-in Pods have as podIP. */
function hostAddress(): string {
  const a = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!a) throw new Error('this test needs a non-loopback IPv4 address (the API server does not proxy to loopback): none found');
  return a.address;
}

interface Serving {
  name: string;
  dir: string;
  admin: string;
  plaintextXds: string;
}

/** `trellis serve` on its own copy of the demo folder; resolves when /readyz answers 200. */
async function serve(name: string, ip: string): Promise<Serving> {
  const dir = path.join(tmp, name);
  cpSync(path.join(ROOT, 'examples/demo'), dir, { recursive: true });
  const [admin, xds, plain] = [`${ip}:${await freePort()}`, `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  const log = path.join(tmp, `${name}.log`);
  const child = spawn('node', [path.join(ROOT, 'bin/trellis.js'), 'serve', '--source', `file:${dir}`, '--state-dir', path.join(tmp, `${name}-state`), '--admin-address', admin, '--xds-address', xds, '--xds-plaintext-address', plain], { stdio: ['ignore', 'ignore', 'pipe'] });
  replicas.push(child);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  await until(`replica ${name} ready (${log})`, async () => {
    if (child.exitCode !== null) throw new Error(`replica ${name} exited: ${stderr}`);
    return (await fetch(`http://${admin}/readyz`).catch(() => undefined))?.status === 200;
  }, 60_000);
  return { name, dir, admin, plaintextXds: plain };
}

/** One ADS stream of a frontend sidecar on `r`: CDS ACKed, LDS ACKed unless `ackLds` is false (then STALE). */
async function connectFrontend(r: Serving, id: string, ackLds = true): Promise<void> {
  const client = new XdsTestClient(r.plaintextXds);
  clients.push(client);
  const s = client.sotw();
  for (const type of [TypeUrl.Cluster, TypeUrl.Listener]) {
    s.send({ node: { id, cluster: 'frontend', user_agent_name: 'envoy', locality: { zone: 'z1' }, metadata: structOf({ 'trellis.workload': 'demo/frontend' }) }, type_url: type, resource_names: [] });
    for (;;) {
      const res = await s.next(10_000);
      if (res.type_url !== type) continue;
      if (type !== TypeUrl.Listener || ackLds) s.ack(res);
      break;
    }
  }
  const state = ackLds ? 'SYNCED' : 'STALE';
  await until(`${id} listed by ${r.name}`, async () => ((await (await fetch(`http://${r.admin}/api/v1/proxies`)).json()) as Json).proxies.some((p: Json) => p.node === id && p.sync.lds?.state === state));
}

describe('issue 13: trellis check, replicas agree on versions', () => {
  let a: Serving;
  let b: Serving;
  const admins = () => ['--admin', a.admin, '--admin', b.admin];

  beforeAll(async () => {
    const ip = hostAddress();
    [a, b] = [await serve('replica-a', ip), await serve('replica-b', ip)];
    await connectFrontend(a, 'demo/frontend-a');
    await connectFrontend(b, 'demo/frontend-b');
    // The replicas as pods of the Deployment would be: labelled, running, their admin port named.
    await apply(cluster.rest, [a, b].map((r) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `trellis-${r.name}`, namespace: NS, labels: { 'app.kubernetes.io/name': 'trellis' } },
      spec: { containers: [{ name: 'trellis', image: 'trellis:dev', ports: [{ name: 'http-admin', containerPort: Number(r.admin.split(':')[1]) }] }] },
      status: { podIP: ip, phase: 'Running' },
    })));
  }, 180_000);

  it('the same folder: ✔ the replicas serve the same versions to every proxy, by --admin URLs and through the pod proxy', async () => {
    const byUrl = await trellis('check', '--kubeconfig', cluster.kubeconfigPath, ...admins());
    expect(line(byUrl.stdout, 'replicas agree on versions')).toBe('✔ replicas agree on versions: 2 replicas serve the same versions to 2 proxies (CDS, EDS, LDS, RDS)');
    expect(line(byUrl.stdout, 'proxies in sync')).toBe('✔ proxies in sync: 2 proxies (2 replicas), all in sync');
    const byPods = await trellis('check', '--kubeconfig', cluster.kubeconfigPath);
    expect(line(byPods.stdout, 'replicas agree on versions')).toBe('✔ replicas agree on versions: 2 replicas serve the same versions to 2 proxies (CDS, EDS, LDS, RDS)');
    expect(line(byPods.stdout, 'proxies in sync')).toBe('✔ proxies in sync: 2 proxies (2 replicas), all in sync');
  }, 120_000);

  it('one replica: skipped, nothing to compare', async () => {
    const r = await trellis('check', '--kubeconfig', cluster.kubeconfigPath, '--admin', a.admin);
    expect(line(r.stdout, 'replicas agree on versions')).toBe(`- replicas agree on versions: skipped: one replica (http://${a.admin}): nothing to compare`);
  }, 60_000);

  it('different folders: × per proxy and type, what each replica serves', async () => {
    const intents = path.join(b.dir, 'intents.yaml');
    writeFileSync(intents, readFileSync(intents, 'utf8').replace('weight: 90', 'weight: 50').replace('weight: 10', 'weight: 50'));
    const node = encodeURIComponent(JSON.stringify({ node: 'demo/frontend-b', metadata: { 'trellis.workload': 'demo/frontend' } }));
    const routes = async (r: Serving) => JSON.stringify(((await (await fetch(`http://${r.admin}/api/v1/versions?node=${node}`)).json()) as Json).types.rds);
    const before = await routes(b);
    await until('replica b serves the edit', async () => (await routes(b)) !== before);
    for (const r of [await trellis('check', '--kubeconfig', cluster.kubeconfigPath, ...admins()), await trellis('check', '--kubeconfig', cluster.kubeconfigPath)]) {
      const l = withFix(r.stdout, 'replicas agree on versions');
      expect(l).toMatch(/^× replicas agree on versions: 2 disagreements over 2 proxies: demo\/frontend-a RDS: (http:\/\/[\d.:]+|pod trellis-replica-a) serves outbound@[\w-]{12}; (http:\/\/[\d.:]+|pod trellis-replica-b) serves outbound@[\w-]{12} \| demo\/frontend-b RDS: /);
      expect(l).not.toMatch(/CDS|EDS|LDS/);
      expect(l).toMatch(/\n\s+the replicas do not see the same mesh/);
      expect(r.code).toBe(1);
    }
  }, 120_000);

  it('a proxy that has not ACKed: × proxies in sync names it, its replica and its type', async () => {
    await connectFrontend(a, 'demo/frontend-stale', false);
    const r = await trellis('check', '--kubeconfig', cluster.kubeconfigPath, ...admins());
    expect(withFix(r.stdout, 'proxies in sync')).toBe(`× proxies in sync: 1 of 3 (2 replicas) not in sync: demo/frontend-stale on http://${a.admin} (LDS STALE)\n    \`trellis status --admin URL\` for the NACK messages`);
  }, 60_000);
});
