/**
 * When to renew a certificate: pure functions of the certificate, the clock
 * reading and a policy, so every decision is testable without waiting.
 *
 * Renewal at about two thirds of the lifetime leaves a third (8 h of a 24 h
 * leaf) to deliver the new one before the old expires, even across a
 * control-plane outage. The lifetime counts from issuance, not from
 * notBefore: leaves are backdated a few minutes for clock skew, and counting
 * that backdate renewed short-lived leaves at about half their life. Jitter spreads renewals of certificates issued
 * together (e.g. every workload after a restart) so they do not all renew in
 * the same second; it is derived from the serial, so a given certificate
 * always renews at the same moment, whichever replica computes it.
 */
import { createHash } from 'node:crypto';

export interface RenewalPolicy {
  /** Fraction of the lifetime after which a certificate is renewed. */
  renewAtFraction: number;
  /** Renewal moves by up to ± this fraction of the lifetime. */
  jitterFraction: number;
  /**
   * Once a root rotation begins, no leaf moves to the new root for this long:
   * the two-root trust bundle must reach every proxy first, or a proxy that
   * gets its push late rejects peers already on the new root.
   */
  rotationGraceMs: number;
  /**
   * After the grace, leaves from the old root are renewed within this window
   * (each at a moment fixed by its serial), not all at once.
   */
  rotationSpreadMs: number;
}

export const DEFAULT_RENEWAL_POLICY: RenewalPolicy = {
  renewAtFraction: 2 / 3,
  jitterFraction: 0.05,
  rotationGraceMs: 60_000,
  rotationSpreadMs: 60_000,
};

/** What a renewal decision needs to know about a certificate. */
export interface RenewableCertificate {
  serial: string;
  notBefore: number;
  notAfter: number;
  issuerFingerprint: string;
  /** When the CA signed it (notBefore is backdated); notBefore if unknown. */
  issuedAt?: number;
}

/** A number in [0, 1) fixed by `seed`: the first 32 bits of its SHA-256. */
export function unitJitter(seed: string): number {
  return createHash('sha256').update(seed).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * The moment a certificate is due for renewal on its normal schedule: the
 * fraction of its lifetime from issuance (the requested lifetime, unless the
 * root's expiry cut it short), moved by the jitter.
 */
/**
 * A certificate's jitter, kept with it: every SDS answer asks whether its
 * certificate is due (ca/authority.ts certificateFor), 10,000 of them in a
 * restart, and a SHA-256 per question (plus one per identity every renewal
 * check) was ~0.4 s of the server's CPU in that restart. Keyed by the object and checked against its serial,
 * so a caller's plain object that changes its serial gets a fresh value.
 */
const jitters = new WeakMap<RenewableCertificate, { serial: string; jitter: number }>();
function jitterOf(cert: RenewableCertificate): number {
  let j = jitters.get(cert);
  if (j?.serial !== cert.serial) jitters.set(cert, (j = { serial: cert.serial, jitter: unitJitter(cert.serial) }));
  return j.jitter;
}

export function scheduledRenewal(cert: RenewableCertificate, policy: RenewalPolicy = DEFAULT_RENEWAL_POLICY): number {
  const start = cert.issuedAt ?? cert.notBefore;
  const lifetime = cert.notAfter - start;
  const offset = policy.renewAtFraction + (2 * jitterOf(cert) - 1) * policy.jitterFraction;
  const at = start + Math.round(lifetime * Math.min(Math.max(offset, 0), 1));
  return Math.min(at, cert.notAfter);
}

export type RenewalReason = 'valid' | 'due' | 'expired' | 'root-rotated';

export interface RenewalContext {
  now: number;
  /** Fingerprint of the root that signs new leaves. */
  activeRootFingerprint: string;
  /** When the current root rotation began, if one is in progress. */
  rotationStartedAt?: number;
  policy?: RenewalPolicy;
}

export interface RenewalDecision {
  renew: boolean;
  reason: RenewalReason;
  /** When the certificate is (or was) due; a timer for the next check. */
  renewAt: number;
}

export function renewalDecision(cert: RenewableCertificate, ctx: RenewalContext): RenewalDecision {
  const policy = ctx.policy ?? DEFAULT_RENEWAL_POLICY;
  const scheduled = scheduledRenewal(cert, policy);
  if (ctx.now >= cert.notAfter) return { renew: true, reason: 'expired', renewAt: scheduled };
  if (cert.issuerFingerprint !== ctx.activeRootFingerprint) {
    // Signed by a root that is retiring: still trusted (the bundle overlaps),
    // so replace it soon, but not before the grace (the two-root bundle must
    // reach every proxy before any peer holds a new-root leaf), then spread
    // over the window rather than all at once. A certificate whose normal
    // schedule falls inside the grace waits for its end: it has a third of
    // its life left.
    const graceEnd = rotationGraceEnd(ctx.rotationStartedAt ?? ctx.now, policy);
    const slot = graceEnd + Math.round(jitterOf(cert) * policy.rotationSpreadMs);
    const renewAt = Math.max(graceEnd, Math.min(scheduled, slot));
    return { renew: ctx.now >= renewAt, reason: ctx.now >= renewAt ? 'root-rotated' : 'valid', renewAt };
  }
  return { renew: ctx.now >= scheduled, reason: ctx.now >= scheduled ? 'due' : 'valid', renewAt: scheduled };
}

/** Until this moment after a rotation began, no leaf is signed by or renewed onto the new root. */
export function rotationGraceEnd(rotationStartedAt: number, policy: RenewalPolicy = DEFAULT_RENEWAL_POLICY): number {
  return rotationStartedAt + policy.rotationGraceMs;
}

export interface RotationProgress {
  total: number;
  onActiveRoot: number;
  onRetiringRoots: number;
  /** True when no current leaf depends on a retiring root: finishing is safe. */
  complete: boolean;
}

/** How far a root rotation has come, over the latest certificate of each identity. */
export function rotationProgress(certs: readonly Pick<RenewableCertificate, 'issuerFingerprint'>[], activeRootFingerprint: string): RotationProgress {
  const onActiveRoot = certs.filter((c) => c.issuerFingerprint === activeRootFingerprint).length;
  const onRetiringRoots = certs.length - onActiveRoot;
  return { total: certs.length, onActiveRoot, onRetiringRoots, complete: onRetiringRoots === 0 };
}

/** The earliest expiry per identity: the value of the nearest-expiry metric. */
export function nearestExpiry(certs: readonly { spiffeId: string | undefined; notAfter: number }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of certs) {
    if (c.spiffeId === undefined) continue;
    const prev = out.get(c.spiffeId);
    if (prev === undefined || c.notAfter < prev) out.set(c.spiffeId, c.notAfter);
  }
  return out;
}
