/**
 * Issue 13: the sidecar-injection admission webhook, called by a real
 * kube-apiserver. Trellis runs as its service account under the RBAC of
 * deploy/kubernetes, serves the webhook on loopback over HTTPS with a
 * certificate from the mesh CA, and fills in the caBundle of the
 * MutatingWebhookConfiguration of deploy/kubernetes/40-webhook.yaml (only
 * its clientConfig is changed: a URL on loopback instead of the Service).
 * Pods are then created through the API as kubectl would: injected in a
 * mesh namespace; untouched when opted out, outside the mesh or already
 * injected by `trellis inject`; refused with the reason when they cannot be
 * injected; and with the webhook down, refused in mesh namespaces only.
 */
import { execFile } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { injectManifest } from '../../src/inject/manifest.ts';
import { DEFAULT_INJECT_OPTIONS, NAMES } from '../../src/inject/options.ts';
import { KubeApiError } from '../../src/sources/kubernetes/rest.ts';
import { apply, deployDocs, KubeCluster, yamlObjects } from '../support/kube.ts';

type Json = Record<string, any>; // objects read back from the API server
const ROOT = path.resolve(import.meta.dirname, '../..');
const HOOKS = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

let cluster: KubeCluster;
let server: RunningControlPlane;
const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-kube-webhook-'));

/** deploy/kubernetes/40-webhook.yaml, calling the webhook on loopback instead of through the Service. */
function loopbackHook(): Json {
  const hook = deployDocs().find((d) => d.kind === 'MutatingWebhookConfiguration')!;
  for (const w of hook.webhooks as Json[]) w.clientConfig = { url: `https://127.0.0.1:${server.webhook!.port}/inject` };
  return hook;
}

let n = 0;
const pod = (ns: string, o: { labels?: Json; annotations?: Json; spec?: Json } = {}): Json => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `p${++n}`, labels: { app: 'web', ...o.labels }, ...(o.annotations ? { annotations: o.annotations } : {}) },
  // The ServiceAccount admission plugin (off in this API server) would set it; the token volume needs it.
  spec: { serviceAccountName: 'default', containers: [{ name: 'app', image: 'registry.example/web:1', ports: [{ name: 'http', containerPort: 8080 }] }], ...o.spec },
});
const create = (ns: string, p: Json) => cluster.rest.post<Json>(`/api/v1/namespaces/${ns}/pods`, p);
const names = (list: Json[] | undefined) => (list ?? []).map((c) => c.name);
const refusal = async (ns: string, p: Json): Promise<string> => {
  const e = await create(ns, p).then(() => undefined, (err: unknown) => err);
  expect(e, 'the pod was created').toBeInstanceOf(KubeApiError);
  return String((e as KubeApiError).body?.message);
};
const caBundles = async () => ((await cluster.rest.get<Json>(`${HOOKS}/trellis-sidecar-injector`)).webhooks as Json[]).map((w) => w.clientConfig.caBundle as string | undefined);
const bundleOf = (s: RunningControlPlane) => Buffer.from(s.security!.ca.trustBundlePem()).toString('base64');

/** POST /inject on a new connection (no keep-alive) that trusts `ca` alone. */
function post(body: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: server.webhook!.port, path: '/inject', method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  cluster = await KubeCluster.start();
  await apply(cluster.rest, deployDocs().filter((d) => ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(String(d.kind))));
  await apply(cluster.rest, yamlObjects(`apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {trellis.io/mesh: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: tcp-db, port: 5432, appProtocol: tcp}]
`));
  server = await startControlPlane({
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    stateDir: path.join(tmp, 'state'),
    kubernetes: { config: await cluster.serviceAccountConfig(), debounceMs: 30, writeStatus: false },
    webhook: { address: '127.0.0.1:0', checkIntervalMs: 200, inject: { trellisImage: 'registry.example/trellis:1' } },
  });
  // The configuration as shipped, without a caBundle: Trellis sets it.
  await apply(cluster.rest, [loopbackHook()]);
  await until('Trellis sets the caBundle', async () => (await caBundles()).every((b) => b === bundleOf(server)));
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('issue 13: the injection webhook called by the API server', () => {
  it('a pod created in a mesh namespace comes back injected: redirect, bootstrap with the mesh roots, native sidecar, token volume', async () => {
    const created = await create('shop', pod('shop', { spec: { initContainers: [{ name: 'migrate', image: 'm' }] } }));
    expect(created.metadata.annotations).toMatchObject({ 'trellis.io/injected': 'true', 'kubectl.kubernetes.io/default-container': 'app' });
    expect(names(created.spec.initContainers)).toEqual([NAMES.iptables, NAMES.bootstrap, NAMES.proxy, 'migrate']);
    expect(names(created.spec.containers)).toEqual(['app']);
    expect(names(created.spec.volumes)).toEqual(expect.arrayContaining([NAMES.tokenVolume, NAMES.bootstrapVolume]));
    const [iptables, bootstrap, proxy] = created.spec.initContainers as Json[];
    expect(iptables!.image).toBe('registry.example/trellis:1');
    // The mesh's Service in the namespace has a TCP port: the sidecar carries it now (issue 11), so it is
    // redirected like every port, not bypassed; the stats port 15090 is the sidecar's own (issue 12).
    expect(iptables!.command[2]).not.toContain('--dport 5432 -j RETURN');
    expect(iptables!.command[2]).toContain('--dport 15090 -j RETURN');
    expect(bootstrap!.env.find((e: Json) => e.name === 'TRELLIS_CA_PEM').value).toBe(server.security!.ca.trustBundlePem());
    expect(bootstrap!.args).toEqual(expect.arrayContaining(['--xds-address', DEFAULT_INJECT_OPTIONS.xdsAddress, '--cluster', 'web']));
    expect(proxy!.restartPolicy).toBe('Always');
  });

  it('per-pod overrides by annotation: exclusions, resources, explicit mode', async () => {
    const transparent = await create('shop', pod('shop', { annotations: {
      'trellis.io/exclude-inbound-ports': '9000', 'trellis.io/exclude-outbound-cidrs': '10.1.0.0/16',
      'trellis.io/proxy-cpu': '200m', 'trellis.io/proxy-memory-limit': '1Gi',
    } }));
    const script = transparent.spec.initContainers[0].command[2] as string;
    expect(script).toContain('--dport 9000 -j RETURN');
    expect(script).toContain('-d 10.1.0.0/16 -j RETURN');
    expect(transparent.spec.initContainers[2].resources).toEqual({ requests: { cpu: '200m', memory: '64Mi' }, limits: { memory: '1Gi' } });
    const explicit = await create('shop', pod('shop', { annotations: { 'trellis.io/interception-mode': 'explicit' } }));
    expect(names(explicit.spec.initContainers)).toEqual([NAMES.bootstrap, NAMES.proxy]);
  });

  it.each([
    { why: 'opted out by label (the API server does not even call)', ns: 'shop', o: { labels: { 'trellis.io/inject': 'disabled' } } },
    { why: 'opted out by annotation', ns: 'shop', o: { annotations: { 'trellis.io/inject': 'false' } } },
    { why: 'in a namespace outside the mesh', ns: 'plain', o: {} },
  ])('untouched: $why', async ({ ns, o }) => {
    const p = pod(ns, o);
    const created = await create(ns, p);
    expect(created.spec.initContainers).toBeUndefined();
    expect(names(created.spec.containers)).toEqual(['app']);
    expect(created.metadata.annotations?.['trellis.io/injected']).toBeUndefined();
  });

  it('a pod that asks for the sidecar (label trellis.io/inject=enabled) outside the mesh: the pod webhook sends it, Trellis leaves it with a warning kubectl prints', async () => {
    const { body, headers } = await cluster.rest.postWithHeaders<Json>('/api/v1/namespaces/plain/pods', pod('plain', { labels: { 'trellis.io/inject': 'enabled' } }));
    expect(body.spec.initContainers).toBeUndefined();
    expect(headers.warning).toMatch(/trellis: namespace \\"plain\\" is not in the mesh \(Trellis serves the namespaces labelled trellis.io\/mesh=enabled\)/);
  });

  it('a pod injected by `trellis inject` (GitOps) is created as written, not injected twice', async () => {
    const written = parse(injectManifest(JSON.stringify(pod('shop')), { ...DEFAULT_INJECT_OPTIONS, caPem: server.security!.ca.trustBundlePem() }).yaml) as Json;
    const created = await create('shop', written);
    expect(names(created.spec.initContainers)).toEqual([NAMES.iptables, NAMES.bootstrap, NAMES.proxy]);
    expect(names(created.spec.volumes)).toEqual(names(written.spec.volumes));
  });

  it.each([
    { why: 'a container named like the sidecar', p: () => pod('shop', { spec: { containers: [{ name: 'trellis-proxy', image: 'x' }] } }), says: ['container named "trellis-proxy"', 'rename it', 'trellis.io/inject: disabled'] },
    { why: 'an override that cannot be read', p: () => pod('shop', { annotations: { 'trellis.io/exclude-outbound-ports': '80,http' } }), says: ['annotation trellis.io/exclude-outbound-ports http: not a port'] },
  ])('refused with the reason: $why', async ({ p, says }) => {
    const message = await refusal('shop', p());
    for (const s of says) expect(message).toContain(s);
    expect(message).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a root rotation: the caBundle follows the trust bundle (both roots) and pods are still injected', async () => {
    const before = bundleOf(server);
    const run = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/trellis.js'), 'ca', 'rotate', '--state-dir', path.join(tmp, 'state'), '--trust-domain', server.security!.ca.trustDomain]);
    expect(run.stderr).not.toMatch(/error/i);
    expect(await server.security!.reloadRoots()).toBe(true);
    await server.webhook!.refresh();
    const after = bundleOf(server);
    expect(after).not.toBe(before);
    expect(Buffer.from(after, 'base64').toString().match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(await caBundles()).toEqual([after, after]);
    const created = await create('shop', pod('shop'));
    expect(created.spec.initContainers[1].env.find((e: Json) => e.name === 'TRELLIS_CA_PEM').value).toBe(server.security!.ca.trustBundlePem());
  });

  it('the rotation finished: the webhook serves a certificate from the new root, the caBundle trusts it alone', async () => {
    const run = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/trellis.js'), 'ca', 'rotate', '--finish', '--force', '--state-dir', path.join(tmp, 'state'), '--trust-domain', server.security!.ca.trustDomain]);
    expect(run.stdout).toContain('root rotation finished');
    expect(await server.security!.reloadRoots()).toBe(true);
    await server.webhook!.refresh();
    const bundle = server.security!.ca.trustBundlePem();
    expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    expect(await caBundles()).toEqual([bundleOf(server), bundleOf(server)]);
    // A new connection trusting the new root alone completes its handshake.
    expect((await post('{}', bundle)).status).toBe(400);
    expect(names((await create('shop', pod('shop'))).spec.initContainers)).toEqual([NAMES.iptables, NAMES.bootstrap, NAMES.proxy]);
  });

  it('a configuration applied again without its caBundle gets it back', async () => {
    await cluster.rest.delete(`${HOOKS}/trellis-sidecar-injector`);
    await apply(cluster.rest, [loopbackHook()]);
    await until('Trellis sets the caBundle again', async () => (await caBundles()).every((b) => b === bundleOf(server)));
  });

  it('a malformed AdmissionReview sent to the webhook gets 400 and what is wrong with it', async () => {
    const answer = await post('{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1"}', server.security!.ca.trustBundlePem());
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).message).toContain('expected AdmissionReview admission.k8s.io/v1');
  });

  it('the outcomes are counted in /metrics', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    for (const outcome of ['injected', 'unchanged', 'refused', 'malformed']) expect(metrics).toMatch(new RegExp(`^trellis_webhook_admissions_total\\{outcome="${outcome}"\\} [1-9]`, 'm'));
  });

  // Last: it stops the webhook.
  it('the webhook down: failurePolicy Fail refuses pods in mesh namespaces, and nowhere else', async () => {
    await server.webhook!.close();
    const message = await refusal('shop', pod('shop'));
    expect(message).toContain('failed calling webhook "namespace.sidecar-injector.trellis.io"');
    for (const ns of ['plain', 'kube-system']) expect(names((await create(ns, pod(ns))).spec.containers)).toEqual(['app']);
    // An opted-out pod in a mesh namespace is not sent to the webhook either.
    expect((await create('shop', pod('shop', { labels: { 'trellis.io/inject': 'disabled' } }))).spec.initContainers).toBeUndefined();
  });
});
