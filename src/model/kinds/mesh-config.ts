/**
 * trellis.io/v1alpha1 MeshConfig (cluster-scoped, one per mesh): the trust
 * domain of every SPIFFE ID, whether calls need a TrafficTarget, and how long
 * workload certificates live; access logs and tracing (telemetry-settings.ts).
 * See docs/intents.md.
 */
import type { Field } from '../field.ts';
import type { MeshSettings, RateLimitService } from '../types.ts';
import type { KindSpec } from './kind.ts';
import { decodeAccessLog, decodeTracing } from './telemetry-settings.ts';
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
    if (!spec.object({ required: true, known: ['trustDomain', 'authorization', 'certificates', 'rateLimitService', 'accessLog', 'tracing', 'mtls', 'egress'] })) return undefined;
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
    const rls = spec.child('rateLimitService');
    const rateLimitService = rls.absent ? undefined : decodeRateLimitService(rls);
    const accessLog = spec.child('accessLog').absent ? undefined : decodeAccessLog(spec.child('accessLog'));
    const tracing = spec.child('tracing').absent ? undefined : decodeTracing(spec.child('tracing'));
    if (!spec.child('accessLog').absent && !accessLog) return undefined;
    if (!spec.child('tracing').absent && !tracing) return undefined;
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
    if (!rls.absent && rateLimitService === undefined) return undefined;
    return {
      trustDomain,
      authorization,
      certificateLifetimeMs,
      mtls,
      egress,
      ...(rateLimitService ? { rateLimitService } : {}),
      ...(accessLog ? { accessLog } : {}),
      ...(tracing ? { tracing } : {}),
    };
  },
};

/** `host:port` (a DNS name or IPv4 address; IPv6 in brackets). */
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{1,5})$/;

/**
 * Where sidecars ask for global rate limits (issue 15): Envoy's rate limit
 * service protocol, e.g. github.com/envoyproxy/ratelimit's gRPC port.
 */
function decodeRateLimitService(f: Field): RateLimitService | undefined {
  if (!f.object({ known: ['address', 'domain', 'failureMode', 'timeout'] })) return undefined;
  const address = f.child('address').string({ required: true, pattern: HOST_PORT, expected: 'host:port of the rate limit service\'s gRPC port, e.g. ratelimit.trellis-system.svc.cluster.local:8081' });
  const m = address === undefined ? undefined : HOST_PORT.exec(address);
  const port = m ? Number(m[3]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) {
    f.child('address').report('OutOfRange', `port ${port} is out of range; expected 1-65535`);
    return undefined;
  }
  // envoyproxy/ratelimit's config keys its descriptors by domain; the same on both sides.
  const domain = f.child('domain').absent ? 'trellis' : f.child('domain').string({ pattern: /^[A-Za-z0-9_.-]{1,64}$/, expected: 'a domain name for the rate limit service\'s config: letters, digits, "_", "." and "-"' });
  const failureMode = f.child('failureMode').absent ? 'Allow' : f.child('failureMode').string({ oneOf: ['Allow', 'Deny'] });
  const timeoutMs = f.child('timeout').absent ? 100 : f.child('timeout').duration({ minMs: 1, maxMs: 60_000 });
  if (!m || port === undefined || domain === undefined || failureMode === undefined || timeoutMs === undefined) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port, domain, failClosed: failureMode === 'Deny', timeoutMs };
}
