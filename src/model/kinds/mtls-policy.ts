/**
 * trellis.io/v1alpha1 MTLSPolicy: whether a namespace's workloads (or those
 * of one Service, or one Pod) accept plaintext beside mTLS on their inbound
 * ports — incremental adoption (docs/intents.md "Incremental adoption").
 *
 * `Strict` (the default): only mTLS from a mesh certificate. `Permissive`:
 * mTLS and plaintext on the same port, told apart by the TLS handshake; a
 * plaintext caller has no identity, so RBAC never matches it.
 *
 * Also here, because they say the same thing from the other side: the
 * annotations that tell Trellis a destination has no sidecar (so its
 * meshed callers use plaintext), read by the Pod and Service kinds.
 */
import type { Field } from '../field.ts';
import type { MtlsMode } from '../types.ts';
import type { KindSpec } from './kind.ts';

export const MTLS_MODES = ['Strict', 'Permissive'] as const;

/** `Strict` → 'strict': the model's spelling of a mode written in YAML. */
export function decodeMtlsMode(f: Field, required: boolean): MtlsMode | undefined {
  const v = f.string({ required, oneOf: MTLS_MODES });
  return v === 'Strict' ? 'strict' : v === 'Permissive' ? 'permissive' : undefined;
}

/**
 * Pod annotation (or label) that opts a pod out of sidecar injection
 * (inject/pod.ts reads the same): such a pod runs without a sidecar, so it
 * has no certificate and its callers reach it in plaintext.
 */
export const INJECT_ANNOTATION = 'trellis.io/inject';
export const INJECT_OPT_OUT_VALUES: readonly string[] = ['false', 'disabled'];

/**
 * Service annotation: the addresses of this Service's EndpointSlices that are
 * no pod Trellis knows (a VM, a pod outside the mesh's namespaces) have no
 * sidecar, so callers use plaintext to them. Without it such an address is
 * called with mTLS: Trellis cannot tell a pod it has not seen yet from a
 * machine without a sidecar, and plaintext by mistake is the worse failure.
 */
export const UNMESHED_ENDPOINTS_ANNOTATION = 'trellis.io/unmeshed-endpoints';
export const UNMESHED_ENDPOINTS_VALUES = ['plaintext', 'mtls'] as const;

export type MtlsTargetKind = 'Service' | 'Pod';

export interface MtlsPolicySpec {
  mode: MtlsMode;
  /** Absent: every workload of the namespace. */
  target?: { kind: MtlsTargetKind; name: string };
}

export const mtlsPolicyKind: KindSpec<MtlsPolicySpec> = {
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'MTLSPolicy',
  namespaced: true,
  topLevel: ['spec', 'status'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: ['mode', 'targetRef'] })) return undefined;
    const mode = decodeMtlsMode(spec.child('mode'), true);
    const ref = spec.child('targetRef');
    let target: MtlsPolicySpec['target'];
    if (!ref.absent) {
      if (!ref.object({ known: ['kind', 'name'], expected: 'a mapping such as {kind: Service, name: web} or {kind: Pod, name: web-1}' })) return undefined;
      const kind = ref.child('kind').string({ required: true, oneOf: ['Service', 'Pod'] }) as MtlsTargetKind | undefined;
      const name = ref.child('name').string({ required: true, expected: 'the name of a Service or Pod of this namespace' });
      if (kind === undefined || name === undefined) return undefined;
      target = { kind, name };
    }
    if (mode === undefined) return undefined;
    return { mode, ...(target ? { target } : {}) };
  },
};
