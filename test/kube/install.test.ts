/**
 * Issue 13 "Install and check": `trellis install`, `uninstall` and `check`
 * run as the operator runs them (bin/trellis.js, a kubeconfig) against one
 * real kube-apiserver. It has no kubelet or controller-manager, so the
 * Deployment's replicas never become ready: check must say so.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError } from '../../src/sources/kubernetes/rest.ts';
import { crdFiles } from '../../src/cli/install-manifests.ts';
import { deployDocs, freePort, KubeCluster, trellisCli, yamlObjects } from '../support/kube.ts';

type Json = Record<string, any>; // objects read back from the API server
const ROOT = path.resolve(import.meta.dirname, '../..');
const crdDocs = () => crdFiles().flatMap((f) => yamlObjects(readFileSync(f, 'utf8')));

const trellis = (...args: string[]) => trellisCli(args, 60_000);

let cluster: KubeCluster;
const kube = () => ['--kubeconfig', cluster.kubeconfigPath];
const get = (p: string) => cluster.rest.get<Json>(p);
const gone = async (p: string) => {
  const e = await get(p).then((o) => o, (err: unknown) => err);
  return (e instanceof KubeApiError && e.status === 404) || Boolean((e as Json).metadata?.deletionTimestamp);
};
const NS = 'trellis-system';
const SECRET = `/api/v1/namespaces/${NS}/secrets/trellis-ca`;
const HOOK = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/trellis-sidecar-injector';
const DEPLOY = `/apis/apps/v1/namespaces/${NS}/deployments/trellis`;
const line = (out: string, name: string) => out.split('\n').find((l) => l.includes(` ${name}:`)) ?? `(no line for ${name} in:\n${out})`;

beforeAll(async () => {
  cluster = await KubeCluster.start();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

describe('issue 13: trellis install, check, uninstall', () => {
  it('renders the objects of deploy/ with --namespace, --replicas and --image applied, YAML alone on stdout', async () => {
    const r = await trellis('install', '--namespace', 'mesh-cp', '--replicas', '3', '--image', 'registry.example/trellis:1.2');
    expect(r.code, r.stderr).toBe(0);
    const objects = yamlObjects(r.stdout) as Json[];
    const ids = (os: Json[]) => os.map((o) => `${o.kind}/${o.metadata.name}`);
    const crds = crdFiles().flatMap((f) => yamlObjects(readFileSync(f, 'utf8')));
    expect(ids(objects)).toEqual([...ids(crds), ...ids(deployDocs()).map((id) => (id === 'Namespace/trellis-system' ? 'Namespace/mesh-cp' : id))]);
    const namespaced = objects.filter((o) => o.metadata.namespace !== undefined);
    expect(namespaced.map((o) => o.kind)).toEqual(['ServiceAccount', 'Role', 'RoleBinding', 'Deployment', 'Service']);
    for (const o of namespaced) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('mesh-cp');
    expect(r.stdout).not.toContain('trellis-system');
    const d = objects.find((o) => o.kind === 'Deployment')!;
    expect(d.spec.replicas).toBe(3);
    const pod = d.spec.template.spec;
    for (const c of [...pod.initContainers, ...pod.containers]) expect(c.image).toBe('registry.example/trellis:1.2');
    expect(pod.containers[0].args.join(' ')).toContain('--webhook-dns-names trellis.mesh-cp.svc,trellis.mesh-cp.svc.cluster.local');
    const hook = objects.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    expect(hook.webhooks.map((w: Json) => w.clientConfig.service.namespace)).toEqual(['mesh-cp', 'mesh-cp']);
    expect(objects.some((o) => o.kind === 'Secret'), 'the CA key is never printed').toBe(false);
    expect(r.stderr).toContain('trellis-ca');
  }, 60_000);

  it('check against an unreachable API server: a named failed check, exit 1, no stack trace', async () => {
    const port = await freePort();
    const kc = path.join(cluster.dir, 'unreachable.yaml');
    writeFileSync(kc, `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:${port}', insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n`);
    const r = await trellis('check', '--kubeconfig', kc);
    expect(r.code).toBe(1);
    expect(line(r.stdout, 'Kubernetes API reachable')).toMatch(/^× Kubernetes API reachable: cannot reach https:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('check --pre passes on an empty cluster; install --apply, then check names what is not yet right', async () => {
    const pre = await trellis('check', '--pre', ...kube());
    expect(pre.stdout).toMatch(/✔ permission to install: allowed to create all \d+ kinds/);
    expect(line(pre.stdout, 'no conflicting CRDs')).toMatch(/^✔/);
    expect(pre.code, pre.stdout).toBe(0);

    const inst = await trellis('install', '--apply', '--replicas', '1', ...kube());
    expect(inst.code, inst.stderr).toBe(0);
    expect(inst.stdout).toBe('');
    expect(inst.stderr).toContain('created Secret trellis-system/trellis-ca');

    const c = await trellis('check', ...kube());
    expect(c.code, c.stdout).toBe(1);
    expect(line(c.stdout, 'Kubernetes API reachable')).toMatch(/^✔/);
    expect(line(c.stdout, 'clock skew')).toMatch(/^✔/);
    expect(line(c.stdout, 'CRDs present')).toMatch(new RegExp(`^✔ CRDs present: ${crdDocs().length} CRDs`));
    expect(line(c.stdout, 'CA Secret valid')).toMatch(/^✔ CA Secret valid: root .* \(36\d\d days\)/);
    // No kubelet, no controller-manager: nothing makes the pods.
    expect(line(c.stdout, 'Trellis replicas ready')).toMatch(/^× Trellis replicas ready: 0 of 1 replicas ready: no pods exist/);
    // No replica ran to set it.
    expect(line(c.stdout, 'webhook configuration current')).toMatch(/^× webhook configuration current: namespace.sidecar-injector.trellis.io has no caBundle/);
    // Nothing behind the webhook Service: the API server could not call it (test/kube/check.test.ts: a live one).
    expect(line(c.stdout, 'webhook reachable')).toMatch(/^× webhook reachable: Service trellis-system\/trellis has no ready endpoint for port 443/);
    expect(line(c.stdout, 'proxies in sync')).toMatch(/^- proxies in sync: skipped: no running Trellis pod in namespace trellis-system and no --admin URL given/);

    // What a replica does: the caBundle is the mesh root.
    const root = (await get(SECRET)).data['root.crt'];
    const hook = await get(HOOK);
    for (const w of hook.webhooks) w.clientConfig.caBundle = root;
    await cluster.rest.put(HOOK, hook);
    const c2 = await trellis('check', ...kube(), '--admin', `127.0.0.1:${await freePort()}`);
    expect(line(c2.stdout, 'webhook configuration current')).toMatch(/^✔/);
    expect(line(c2.stdout, 'proxies in sync')).toMatch(/^× proxies in sync: no Trellis admin API at http:\/\/127\.0\.0\.1:\d+: connection refused/);
    expect(c2.stdout).toContain('3 checks failed');

    const pre2 = await trellis('check', '--pre', ...kube());
    expect(line(pre2.stdout, 'no conflicting CRDs'), 'its own CRDs are no conflict').toMatch(/^✔/);
  }, 120_000);

  it('a second install keeps the CA Secret as it is, and the caBundle a replica set', async () => {
    const before = await get(SECRET);
    const r = await trellis('install', '--apply', '--replicas', '2', ...kube());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('kept Secret trellis-system/trellis-ca');
    const after = await get(SECRET);
    expect(after.data).toEqual(before.data);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect((await get(DEPLOY)).spec.replicas).toBe(2);
    expect((await get(HOOK)).webhooks[0].clientConfig.caBundle).toBe(before.data['root.crt']);
  }, 60_000);

  it('uninstall removes what install made; the CA Secret and CRDs only when asked', async () => {
    const r = await trellis('uninstall', ...kube());
    expect(r.code, r.stderr).toBe(0);
    for (const p of [DEPLOY, HOOK, `/api/v1/namespaces/${NS}/services/trellis`, '/apis/rbac.authorization.k8s.io/v1/clusterroles/trellis', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/trellis']) expect(await gone(p), p).toBe(true);
    expect(await gone(SECRET)).toBe(false);
    expect(await gone('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/trafficsplits.split.smi-spec.io')).toBe(false);

    const all = await trellis('uninstall', '--delete-ca', '--delete-crds', ...kube());
    expect(all.code, all.stderr).toBe(0);
    expect(all.stderr).toMatch(/warning: deleting Secret trellis-system\/trellis-ca/);
    expect(await gone(SECRET)).toBe(true);
    expect(await gone(`/api/v1/namespaces/${NS}`)).toBe(true);
    for (const crd of ['trafficsplits.split.smi-spec.io', 'meshconfigs.trellis.io']) expect(await gone(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`), crd).toBe(true);
  }, 60_000);
});
