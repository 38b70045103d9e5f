/**
 * MTLSPolicies: which workloads accept plaintext beside mTLS. The target
 * (a Service or Pod of the policy's namespace) must exist; one policy per
 * target and one namespace-wide policy per namespace (the older wins). A
 * workload's mode is the most specific that covers it: its Pod's policy, else
 * its Services' (Strict when they disagree: plaintext only where every word
 * allows it), else its namespace's, else the mesh's (MeshConfig spec.mtls).
 */
import type { MtlsPolicySpec } from '../kinds/mtls-policy.ts';
import { didYouMean } from '../suggest.ts';
import type { MeshSettings, MtlsMode, ObjectKey } from '../types.ts';
import { objectKey, olderFirst, type Book, type Entry } from './book.ts';
import type { ServiceDraft } from './services.ts';
import type { WorkloadDraft } from './workloads.ts';

export function resolveMtls(
  policies: readonly Entry<MtlsPolicySpec>[],
  workloads: ReadonlyMap<ObjectKey, WorkloadDraft>,
  services: ReadonlyMap<ObjectKey, ServiceDraft>,
  servicesOf: ReadonlyMap<ObjectKey, ReadonlySet<ObjectKey>>,
  mesh: MeshSettings,
  book: Book,
): Map<ObjectKey, MtlsMode> {
  // `ns *`, `ns Service/name` or `ns Pod/name` → the policy that holds it.
  const owner = new Map<string, Entry<MtlsPolicySpec>>();
  for (const e of policies.toSorted(olderFirst)) {
    if (book.rejected(e)) continue;
    const t = e.spec.target;
    if (t) {
      const known = t.kind === 'Service' ? services : workloads;
      if (!known.has(objectKey(e.namespace, t.name))) {
        const names = [...known.values()].filter((x) => x.namespace === e.namespace).map((x) => x.name);
        book.error(e, 'spec.targetRef.name', 'RefNotFound',
          `${t.kind === 'Service' ? 'service' : 'pod'} "${t.name}" does not exist in namespace "${e.namespace}" (or is invalid).${didYouMean(t.name, names)} Expected a ${t.kind} of this namespace; the mode applies once it exists`);
        continue;
      }
    }
    const claim = t ? `${e.namespace} ${t.kind}/${t.name}` : `${e.namespace} *`;
    const first = owner.get(claim);
    if (first) {
      const what = t ? `${t.kind} "${t.name}"` : `namespace "${e.namespace}" as a whole`;
      book.error(e, t ? 'spec.targetRef' : 'spec', 'Conflict', `MTLSPolicy "${first.name}" already sets the mode of ${what}; only one may. Keep one of them`);
      continue;
    }
    owner.set(claim, e);
    if (t?.kind === 'Pod' && workloads.get(objectKey(e.namespace, t.name))?.sidecar === false) {
      book.warn(e, 'spec.targetRef.name', 'Ignored', `pod "${t.name}" runs without a sidecar (trellis.io/inject: "false"), so nothing enforces a mode on it`);
    }
  }

  const modes = new Map<ObjectKey, MtlsMode>();
  for (const w of workloads.values()) {
    const pod = owner.get(`${w.namespace} Pod/${w.name}`);
    let mode: MtlsMode | undefined = pod?.spec.mode;
    if (mode === undefined) {
      const bySvc = [...(servicesOf.get(w.key) ?? [])].toSorted().flatMap((k) => {
        const s = services.get(k);
        const e = s && owner.get(`${s.namespace} Service/${s.name}`);
        return e ? [e] : [];
      });
      if (bySvc.length > 0) {
        mode = bySvc.some((e) => e.spec.mode === 'strict') ? 'strict' : 'permissive';
        for (const e of bySvc) {
          if (e.spec.mode !== mode) book.warn(e, 'spec.mode', 'Conflict', `pod "${w.name}" is also behind a Service whose MTLSPolicy is Strict; Strict applies to it. Target the pod to choose for it alone`);
        }
      }
    }
    modes.set(w.key, mode ?? owner.get(`${w.namespace} *`)?.spec.mode ?? mesh.mtls);
  }
  return modes;
}
