/**
 * trellis.io/v1alpha1 MeshConfig (cluster-scoped, one per mesh): the trust
 * domain of every SPIFFE ID, whether calls need a TrafficTarget, and how long
 * workload certificates live. See docs/intents.md.
 */
import type { MeshSettings } from '../types.ts';
import type { KindSpec } from './kind.ts';
import { decodeMtlsMode } from './mtls-policy.ts';

export type MeshConfigSpec = Omit<MeshSettings, 'source'>;

export const DEFAULT_MESH: MeshSettings = {
  trustDomain: 'cluster.local',
  authorization: 'permissive',
  certificateLifetimeMs: 24 * 3_600_000,
  // Safety first: plaintext is accepted only where an operator said so.
  mtls: 'strict',
  // Adopting the mesh must not cut a workload off what it reaches today.
  egress: 'passthrough',
};

/** SPIFFE trust domain: lower-case letters, digits, ".", "-" and "_" (spiffe-id.md §2.1). */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const MIN_LIFETIME_MS = 10 * 60_000;
const MAX_LIFETIME_MS = 90 * 24 * 3_600_000;

export const meshConfigKind: KindSpec<MeshConfigSpec> = {
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'MeshConfig',
  namespaced: false,
  topLevel: ['spec', 'status'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: ['trustDomain', 'authorization', 'certificates', 'mtls', 'egress'] })) return undefined;
    const td = spec.child('trustDomain');
    const trustDomain = td.absent
      ? DEFAULT_MESH.trustDomain
      : td.string({ pattern: TRUST_DOMAIN, maxLength: 255, expected: 'a SPIFFE trust domain: lower-case letters, digits, ".", "-" and "_", e.g. "trellis.local"' });
    let authorization: MeshSettings['authorization'] | undefined = DEFAULT_MESH.authorization;
    const auth = spec.child('authorization');
    if (!auth.absent && auth.object({ known: ['mode'] })) {
      const mode = auth.child('mode').string({ required: true, oneOf: ['Permissive', 'Strict'] });
      authorization = mode === 'Strict' ? 'strict' : mode === 'Permissive' ? 'permissive' : undefined;
    }
    let certificateLifetimeMs: number | undefined = DEFAULT_MESH.certificateLifetimeMs;
    const certs = spec.child('certificates');
    if (!certs.absent && certs.object({ known: ['lifetime'] })) {
      if (!certs.child('lifetime').absent) certificateLifetimeMs = certs.child('lifetime').duration({ minMs: MIN_LIFETIME_MS, maxMs: MAX_LIFETIME_MS });
    }
    let mtls: MeshSettings['mtls'] | undefined = DEFAULT_MESH.mtls;
    const mtlsField = spec.child('mtls');
    if (!mtlsField.absent && mtlsField.object({ known: ['mode'] })) mtls = decodeMtlsMode(mtlsField.child('mode'), true);
    let egress: MeshSettings['egress'] | undefined = DEFAULT_MESH.egress;
    const egressField = spec.child('egress');
    if (!egressField.absent && egressField.object({ known: ['mode'] })) {
      const v = egressField.child('mode').string({ required: true, oneOf: ['Passthrough', 'RegistryOnly'] });
      egress = v === 'Passthrough' ? 'passthrough' : v === 'RegistryOnly' ? 'registryOnly' : undefined;
    }
    if (trustDomain === undefined || authorization === undefined || certificateLifetimeMs === undefined || mtls === undefined || egress === undefined) return undefined;
    return { trustDomain, authorization, certificateLifetimeMs, mtls, egress };
  },
};
