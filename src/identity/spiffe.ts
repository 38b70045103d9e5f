/**
 * SPIFFE IDs as Trellis uses them: `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`
 * (DESIGN.md, Identity). The format is a contract: sidecars match peers on it,
 * and a workload's certificate secret is owned by it (only a stream that
 * proved the identity receives it; the secret's name is the same for all).
 *
 * Spec: https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md
 * (§2.1 trust domain: lowercase letters, digits, `.`, `-`, `_`; §2.2 path
 * segments: letters, digits, `.`, `-`, `_`, never `.` or `..`).
 */

export interface WorkloadIdentity {
  namespace: string;
  serviceAccount: string;
}

const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

export function isValidTrustDomain(trustDomain: string): boolean {
  return TRUST_DOMAIN.test(trustDomain);
}

function isValidSegment(segment: string): boolean {
  return SEGMENT.test(segment) && segment !== '.' && segment !== '..';
}

/**
 * The SPIFFE ID of a workload. Throws on names that cannot form one: the
 * model validates operator input first, so reaching this with a bad name is
 * a bug, not an operator mistake.
 */
export function spiffeIdOf(trustDomain: string, identity: WorkloadIdentity): string {
  if (!isValidTrustDomain(trustDomain)) throw new Error(`invalid SPIFFE trust domain ${JSON.stringify(trustDomain)}`);
  for (const part of [identity.namespace, identity.serviceAccount]) {
    if (!isValidSegment(part)) throw new Error(`invalid SPIFFE path segment ${JSON.stringify(part)}`);
  }
  return formatSpiffeId(trustDomain, identity.namespace, identity.serviceAccount);
}

/**
 * The one place the SPIFFE ID format is written. Unchecked: callers either
 * validated the parts (spiffeIdOf; the model, whose names are DNS labels) or
 * name a fixed identity (the control plane's).
 */
export function formatSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** SPIFFE ID of the control plane itself, carried by its xDS serving certificate. */
export function controlPlaneSpiffeId(trustDomain: string): string {
  return formatSpiffeId(trustDomain, 'trellis-system', 'trellis');
}

export interface ParsedSpiffeId extends WorkloadIdentity {
  trustDomain: string;
}

/** The parts of a Trellis workload SPIFFE ID, or undefined if `id` is not one. */
export function parseSpiffeId(id: string): ParsedSpiffeId | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(id);
  if (!m) return undefined;
  const [, trustDomain = '', namespace = '', serviceAccount = ''] = m;
  if (!isValidTrustDomain(trustDomain) || !isValidSegment(namespace) || !isValidSegment(serviceAccount)) return undefined;
  return { trustDomain, namespace, serviceAccount };
}
