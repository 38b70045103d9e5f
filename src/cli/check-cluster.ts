/**
 * The checks of `trellis check` that read the cluster: each a name and a
 * function answering ✔/× with the fact it found and what to do. What they
 * look for comes from the manifests install applies (install-manifests.ts).
 */
import { X509Certificate } from 'node:crypto';
import { pemBlocks } from '../ca/encoding.ts';
import { KubeApiError, type KubeRest } from '../sources/kubernetes/rest.ts';
import { rootOfSecret } from './ca-secret.ts';
import { apiPath, CA_SECRET, clusterManifests, crdManifests, DEPLOYMENT, resourceOf, WEBHOOK_CONFIGURATION, type Json } from './install-manifests.ts';

export interface Outcome {
  ok: boolean;
  fact: string;
  /** what to do, shown when the check fails */
  fix?: string;
  /** not run (no input for it); does not fail the run */
  skipped?: boolean;
}

export interface Check {
  name: string;
  run: () => Promise<Outcome>;
}

const DAY_MS = 24 * 3600_000;
const INSTALL = '`trellis install --apply`';

export async function getOrUndefined<T = Json>(rest: KubeRest, path: string): Promise<T | undefined> {
  try {
    return await rest.get<T>(path);
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 404) return undefined;
    throw e;
  }
}

/** The versions a CRD serves (the Gateway API's CRDs also list old versions they no longer serve). */
const versionsOf = (crd: Json) => (((crd.spec as Json).versions ?? []) as Json[]).filter((v) => v.served !== false);
const nameOf = (o: Json) => String((o.metadata as Json).name);

async function crdsPresent(rest: KubeRest): Promise<Outcome> {
  const problems: string[] = [];
  const wanted = crdManifests();
  for (const want of wanted) {
    const have = await getOrUndefined(rest, apiPath(want));
    if (!have) {
      problems.push(`${nameOf(want)} missing`);
      continue;
    }
    const served = new Set(versionsOf(have).map((v) => String(v.name)));
    const lacking = versionsOf(want).map((v) => String(v.name)).filter((v) => !served.has(v));
    if (lacking.length > 0) problems.push(`${nameOf(want)} does not serve ${lacking.join(', ')} (serves ${[...served].join(', ') || 'nothing'})`);
    const established = (((have.status as Json | undefined)?.conditions ?? []) as Json[]).some((c) => c.type === 'Established' && c.status === 'True');
    if (!established) problems.push(`${nameOf(want)} not Established`);
  }
  if (problems.length > 0) return { ok: false, fact: problems.join('; '), fix: `${INSTALL} installs the versions Trellis reads` };
  return { ok: true, fact: `${wanted.length} CRDs at the versions Trellis reads (${wanted.map((c) => `${String(((c.spec as Json).names as Json).kind)} ${versionsOf(c).map((v) => v.name).join('/')}`).join(', ')})` };
}

async function caSecret(rest: KubeRest, namespace: string, now: number): Promise<{ outcome: Outcome; roots?: Set<string> }> {
  const secret = await getOrUndefined(rest, `/api/v1/namespaces/${namespace}/secrets/${CA_SECRET}`);
  if (!secret) return { outcome: { ok: false, fact: `no Secret ${namespace}/${CA_SECRET}`, fix: `${INSTALL} makes it (once), or create it as docs/kubernetes.md shows` } };
  const root = rootOfSecret(secret, now);
  if (typeof root === 'string') return { outcome: { ok: false, fact: `Secret ${namespace}/${CA_SECRET}: ${root}`, fix: 'restore it from a backup; a new root means re-issuing every sidecar\'s trust' } };
  const days = Math.floor((root.notAfter - now) / DAY_MS);
  const fact = `root ${root.subject} valid, expires ${new Date(root.notAfter).toISOString().slice(0, 10)} (${days} days)`;
  if (days < 30) return { outcome: { ok: false, fact, fix: 'rotate the root now: `trellis ca rotate`, then `--finish` once every sidecar trusts the new one' } };
  return { outcome: { ok: true, fact }, roots: new Set([root.fingerprint]) };
}

async function replicasReady(rest: KubeRest, namespace: string): Promise<Outcome> {
  const d = await getOrUndefined(rest, `/apis/apps/v1/namespaces/${namespace}/deployments/${DEPLOYMENT}`);
  if (!d) return { ok: false, fact: `no Deployment ${namespace}/${DEPLOYMENT}`, fix: INSTALL };
  const want = Number((d.spec as Json).replicas ?? 1);
  const status = (d.status ?? {}) as Json;
  const ready = Number(status.readyReplicas ?? 0);
  if (ready >= want && want > 0) return { ok: true, fact: `${ready} of ${want} ready` };
  const pods = ((await rest.get<Json>(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: 'app.kubernetes.io/name=trellis' })).items ?? []) as Json[];
  const why = pods.length === 0
    ? 'no pods exist for it (no controller has created them: is kube-controller-manager running?)'
    : pods.slice(0, 5).map((p) => {
        const st = (p.status ?? {}) as Json;
        const node = (p.spec as Json).nodeName;
        return `pod ${nameOf(p)} ${String(st.phase ?? 'Pending')}${node ? ` on ${String(node)}` : ', on no node (not scheduled: is there a node with a kubelet?)'}`;
      }).join('; ');
  return { ok: false, fact: `${ready} of ${want} replicas ready: ${why}`, fix: `kubectl -n ${namespace} describe deploy/${DEPLOYMENT}; kubectl -n ${namespace} logs deploy/${DEPLOYMENT}` };
}

function fingerprints(pem: string): string[] {
  return pemBlocks(pem).filter((b) => b.label === 'CERTIFICATE').map((b) => new X509Certificate(b.der).fingerprint256);
}

async function webhookCurrent(rest: KubeRest, namespace: string, roots: Set<string> | undefined): Promise<Outcome> {
  const hook = await getOrUndefined(rest, `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${WEBHOOK_CONFIGURATION}`);
  if (!hook) return { ok: false, fact: `no MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION}: pods are not injected`, fix: INSTALL };
  if (!roots) return { ok: false, fact: `present; its caBundle cannot be compared: the CA Secret is not usable (above)`, fix: 'fix the CA Secret first' };
  const stale: string[] = [];
  for (const w of (hook.webhooks ?? []) as Json[]) {
    const bundle = (w.clientConfig as Json | undefined)?.caBundle;
    if (typeof bundle !== 'string' || bundle === '') {
      stale.push(`${String(w.name)} has no caBundle`);
      continue;
    }
    let have: string[];
    try {
      have = fingerprints(Buffer.from(bundle, 'base64').toString());
    } catch {
      have = [];
    }
    if (![...roots].every((r) => have.includes(r))) stale.push(`${String(w.name)}'s caBundle does not hold the root of ${CA_SECRET}`);
  }
  if (stale.length > 0) return { ok: false, fact: stale.join('; '), fix: `a running Trellis replica sets it (RBAC: patch on ${WEBHOOK_CONFIGURATION}); until then the API server cannot trust the webhook and refuses pods in mesh namespaces` };
  return { ok: true, fact: `present, caBundle holds the mesh root on every webhook (namespace ${namespace})` };
}

/** After install. */
export function clusterChecks(rest: KubeRest, namespace: string, now: () => number): Check[] {
  let roots: Set<string> | undefined;
  return [
    { name: 'CRDs present', run: () => crdsPresent(rest) },
    { name: 'CA Secret valid', run: async () => { const r = await caSecret(rest, namespace, now()); roots = r.roots; return r.outcome; } },
    { name: 'Trellis replicas ready', run: () => replicasReady(rest, namespace) },
    { name: 'webhook configuration current', run: () => webhookCurrent(rest, namespace, roots) },
  ];
}

async function canCreateAll(rest: KubeRest, namespace: string): Promise<Outcome> {
  const kinds = new Map<string, { group: string; resource: string; namespaced: boolean }>();
  for (const o of [...crdManifests(), ...clusterManifests({ namespace }), { apiVersion: 'v1', kind: 'Secret' }]) {
    const r = resourceOf(o);
    kinds.set(`${r.resource}.${r.group}`, r);
  }
  const denied: string[] = [];
  for (const [name, r] of kinds) {
    const review = await rest.post<Json>('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { verb: 'create', group: r.group, resource: r.resource, ...(r.namespaced ? { namespace } : {}) } },
    });
    if (!((review.status ?? {}) as Json).allowed) denied.push(name.replace(/\.$/, ''));
  }
  if (denied.length > 0) return { ok: false, fact: `not allowed to create ${denied.join(', ')}`, fix: 'run install as a cluster admin (it creates CRDs, cluster roles and a webhook configuration)' };
  return { ok: true, fact: `allowed to create all ${kinds.size} kinds install makes` };
}

async function noConflictingCrds(rest: KubeRest): Promise<Outcome> {
  const conflicts: string[] = [];
  for (const want of crdManifests()) {
    const have = await getOrUndefined(rest, apiPath(want));
    if (!have) continue;
    const ours = ((have.metadata as Json).labels as Json | undefined)?.['app.kubernetes.io/part-of'] === 'trellis';
    const served = new Set(versionsOf(have).map((v) => String(v.name)));
    const lacking = versionsOf(want).map((v) => String(v.name)).filter((v) => !served.has(v));
    // The Gateway API's CRDs are shared by every implementation in a cluster (official, unlabelled):
    // one already there is a conflict only when it lacks a version Trellis reads.
    if ((want.spec as Json).group === 'gateway.networking.k8s.io') {
      if (lacking.length > 0) conflicts.push(`${nameOf(want)} (Gateway API) exists without ${lacking.join(', ')}`);
      continue;
    }
    if (!ours) conflicts.push(`${nameOf(want)} exists, not installed by Trellis${lacking.length > 0 ? `, without ${lacking.join(', ')}` : ''}`);
  }
  if (conflicts.length > 0) return { ok: false, fact: conflicts.join('; '), fix: 'install replaces these CRDs: check that nothing else (another SMI implementation) relies on them, then delete them or install anyway' };
  return { ok: true, fact: 'no CRD of the same names from elsewhere' };
}

/** Before install (`--pre`). */
export function preInstallChecks(rest: KubeRest, namespace: string): Check[] {
  return [
    { name: 'permission to install', run: () => canCreateAll(rest, namespace) },
    { name: 'no conflicting CRDs', run: () => noConflictingCrds(rest) },
  ];
}
