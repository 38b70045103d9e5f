/**
 * Pods become workloads; workloads, ServiceAccounts and service endpoints
 * become identities. A workload's identity is its service account's SPIFFE ID
 * in the mesh's trust domain.
 */
import type { PodSpec } from '../kinds/pod.ts';
import type { Identity, MeshSettings, MtlsMode, ObjectKey, ServedPort, ServicePort, Workload, WorkloadPort } from '../types.ts';
import { sortedMap, spiffeId, type Book, type Entry } from './book.ts';
import type { ServiceDraft } from './services.ts';

/** A workload before the services around it are known. */
export type WorkloadDraft = Omit<Workload, 'services' | 'servedPorts' | 'zone' | 'mtls'> & { labelZone?: string };

export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export function resolvePods(pods: readonly Entry<PodSpec>[], mesh: MeshSettings, book: Book): Map<ObjectKey, WorkloadDraft> {
  const out = new Map<ObjectKey, WorkloadDraft>();
  const byIp = new Map<string, Entry<PodSpec>>();
  for (const e of pods) {
    if (book.rejected(e)) continue;
    const p = e.spec;
    if (p.ip !== undefined && !p.terminating) {
      const other = byIp.get(`${e.namespace} ${p.ip}`);
      if (other) {
        book.warn(e, 'status.podIP', 'InvalidValue', `IP ${p.ip} is also the IP of pod ${other.key}; endpoints found by IP go to ${other.key}. Give each pod its own IP`);
      } else byIp.set(`${e.namespace} ${p.ip}`, e);
    }
    const labels = e.obj.metadata.labels;
    const before = draftsBefore.get(p);
    if (before && before.key === e.key && before.labels === labels && before.trustDomain === mesh.trustDomain) {
      out.set(e.key, before.draft);
      continue;
    }
    const draft: WorkloadDraft = {
      key: e.key,
      namespace: e.namespace,
      name: e.name,
      labels,
      serviceAccount: p.serviceAccount,
      identity: spiffeId(mesh.trustDomain, e.namespace, p.serviceAccount),
      ...(p.ip !== undefined ? { ip: p.ip } : {}),
      ips: p.ips,
      ports: p.ports,
      ready: p.readyCondition ?? (p.ip !== undefined && (p.phase === undefined || p.phase === 'Running')),
      terminating: p.terminating,
      sidecar: p.sidecar,
      ...(labels[ZONE_LABEL] !== undefined ? { labelZone: labels[ZONE_LABEL] } : {}),
    };
    draftsBefore.set(p, { key: e.key, labels, trustDomain: mesh.trustDomain, draft });
    out.set(e.key, draft);
  }
  return out;
}

/**
 * Issue 14: a pod's draft, and the workload finished from it, are made again
 * only when what they read changed, so an edit elsewhere leaves every
 * workload the object it was (the model's sharing, share.ts, then meets
 * them again). By decoded spec: the same object for the same content
 * (kinds/decode-cache.ts).
 */
const draftsBefore = new WeakMap<PodSpec, { key: ObjectKey; labels: unknown; trustDomain: string; draft: WorkloadDraft }>();
const finishedBefore = new WeakMap<WorkloadDraft, { zone: string | undefined; served: readonly string[]; ports: readonly unknown[]; mtls: MtlsMode; workload: Workload }>();

export function finishWorkloads(
  drafts: ReadonlyMap<ObjectKey, WorkloadDraft>,
  services: ReadonlyMap<ObjectKey, ServiceDraft>,
  servicesOf: ReadonlyMap<ObjectKey, ReadonlySet<ObjectKey>>,
  zoneOf: ReadonlyMap<ObjectKey, string>,
  mtlsOf: ReadonlyMap<ObjectKey, MtlsMode>,
): Map<ObjectKey, Workload> {
  return sortedMap(
    [...drafts].map(([key, draft]) => {
      const { labelZone, ...w } = draft;
      const zone = zoneOf.get(key) ?? labelZone;
      const served = [...(servicesOf.get(key) ?? [])].toSorted();
      const ports = served.map((k) => services.get(k)?.ports);
      const mtls = mtlsOf.get(key) ?? 'strict';
      const before = finishedBefore.get(draft);
      if (before && before.zone === zone && before.mtls === mtls && before.served.length === served.length && before.served.every((k, i) => k === served[i] && before.ports[i] === ports[i])) {
        return [key, before.workload];
      }
      const servedPorts = served.flatMap((k) => services.get(k)?.ports.map((p) => servedPort(k, p, w.ports)) ?? []);
      const workload: Workload = { ...w, ...(zone !== undefined ? { zone } : {}), services: served, servedPorts, mtls };
      finishedBefore.set(draft, { zone, served, ports, mtls, workload });
      return [key, workload];
    }),
  );
}

/** A service port as the workload behind it serves it. */
function servedPort(service: ObjectKey, p: ServicePort, ports: readonly WorkloadPort[]): ServedPort {
  const targetPort = typeof p.targetPort === 'number' ? p.targetPort : (ports.find((c) => c.name === p.targetPort && c.protocol === 'TCP')?.containerPort ?? p.port);
  return { service, ...(p.name !== undefined ? { name: p.name } : {}), port: p.port, targetPort, protocol: p.protocol };
}

/** Identities in use: declared ServiceAccounts and every service account a pod runs as. */
export function resolveIdentities(
  serviceAccounts: readonly Entry<unknown>[],
  workloads: ReadonlyMap<ObjectKey, Workload>,
  servicesByIdentity: ReadonlyMap<string, ReadonlySet<ObjectKey>>,
  mesh: MeshSettings,
  book: Book,
): Map<string, Identity> {
  const drafts = new Map<string, { namespace: string; serviceAccount: string; declared: boolean; workloads: ObjectKey[] }>();
  const ensure = (namespace: string, sa: string) => {
    const id = spiffeId(mesh.trustDomain, namespace, sa);
    let d = drafts.get(id);
    if (!d) drafts.set(id, (d = { namespace, serviceAccount: sa, declared: false, workloads: [] }));
    return d;
  };
  for (const e of serviceAccounts) if (!book.rejected(e)) ensure(e.namespace, e.name).declared = true;
  for (const w of workloads.values()) ensure(w.namespace, w.serviceAccount).workloads.push(w.key);
  return sortedMap(
    [...drafts].map(([id, d]) => [
      id,
      { spiffeId: id, ...d, workloads: d.workloads.toSorted(), services: [...(servicesByIdentity.get(id) ?? [])].toSorted() },
    ]),
  );
}

/** Whether a service account is known: declared, used by a pod, or a namespace's `default`. */
export function knownServiceAccount(
  identities: ReadonlyMap<string, Identity>,
  mesh: MeshSettings,
  namespace: string,
  name: string,
): boolean {
  return name === 'default' || identities.has(spiffeId(mesh.trustDomain, namespace, name));
}
