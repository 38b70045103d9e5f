/**
 * trellis.io/v1alpha1 MeshConfig (cluster-scoped, one per mesh): the trust
 * domain of every SPIFFE ID, whether calls need a TrafficTarget, and how long
 * workload certificates live; access logs and tracing (telemetry-settings.ts).
 * See docs/intents.md.
 */
import type { MeshSettings } from '../types.ts';
import type { KindSpec } from './kind.ts';
import { decodeAccessLog, decodeTracing } from './telemetry-settings.ts';

export type MeshConfigSpec = Omit<MeshSettings, 'source'>;

export const DEFAULT_MESH: MeshSettings = {
  trustDomain: 'cluster.local',
  authorization: 'permissive',
  certificateLifetimeMs: 24 * 3_600_000,
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
    if (!spec.object({ required: true, known: ['trustDomain', 'authorization', 'certificates', 'accessLog', 'tracing'] })) return undefined;
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
    const accessLog = spec.child('accessLog').absent ? undefined : decodeAccessLog(spec.child('accessLog'));
    const tracing = spec.child('tracing').absent ? undefined : decodeTracing(spec.child('tracing'));
    if (!spec.child('accessLog').absent && !accessLog) return undefined;
    if (!spec.child('tracing').absent && !tracing) return undefined;
    if (trustDomain === undefined || authorization === undefined || certificateLifetimeMs === undefined) return undefined;
    return { trustDomain, authorization, certificateLifetimeMs, ...(accessLog ? { accessLog } : {}), ...(tracing ? { tracing } : {}) };
  },
};
