/**
 * Which certificate each identity currently holds, and the listing that
 * `trellis certs` and `GET /api/v1/certificates` show. The listing is built
 * from summaries only, so no code path from here can reach a private key.
 */
import type { CertificateSummary, IssuedCertificate } from './issued.ts';
import type { TrustedRoot } from './root.ts';

/**
 * The latest certificate per identity (per SPIFFE ID; the server certificate
 * under its own key). Older certificates of an identity are forgotten when a
 * new one is recorded: the SDS secret of an identity is always the latest.
 */
export class CertificateInventory {
  readonly #latest = new Map<string, IssuedCertificate>();
  #generation = 0;

  /** Counts changes: the leaf store writes only when it moved (leaf-store.ts). */
  get generation(): number {
    return this.#generation;
  }

  static keyOf(cert: Pick<CertificateSummary, 'kind' | 'spiffeId'>): string {
    return cert.kind === 'server' ? 'server' : (cert.spiffeId ?? '');
  }

  record(cert: IssuedCertificate): void {
    this.#latest.set(CertificateInventory.keyOf(cert), cert);
    this.#generation++;
  }

  latest(spiffeId: string): IssuedCertificate | undefined {
    return this.#latest.get(spiffeId);
  }

  server(): IssuedCertificate | undefined {
    return this.#latest.get('server');
  }

  /** Forgets an identity (its workloads are gone). */
  forget(spiffeId: string): boolean {
    const gone = this.#latest.delete(spiffeId);
    if (gone) this.#generation++;
    return gone;
  }

  all(): IssuedCertificate[] {
    return [...this.#latest.values()];
  }

  summaries(): CertificateSummary[] {
    return this.all().map((c) => c.summary());
  }
}

export type RootState = 'active' | 'retiring';

export interface RootListing {
  state: RootState;
  /** The CA that signs (signed) leaves: the root itself, or an operator's intermediate. */
  fingerprint: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  /** When that CA is an intermediate: the root it chains to (the one in the trust bundle). */
  root?: { fingerprint: string; subject: string; notAfter: string };
}

export interface CertificateListingEntry {
  kind: CertificateSummary['kind'];
  spiffeId: string | null;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** Seconds until notAfter (negative once expired). */
  expiresInSeconds: number;
  issuer: { fingerprint: string; state: RootState | 'unknown' };
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
}

export interface CertificateListing {
  roots: RootListing[];
  certificates: CertificateListingEntry[];
}

type ListedCa = Pick<TrustedRoot, 'fingerprint' | 'subject' | 'notBefore' | 'notAfter'> & { anchor?: Pick<TrustedRoot, 'fingerprint' | 'subject' | 'notAfter'> };

export interface ListingInput {
  active: ListedCa;
  retiring?: ListedCa;
  certificates: readonly CertificateSummary[];
  now: number;
}

/**
 * The JSON of /api/v1/certificates: roots first (active, then retiring),
 * then one entry per identity sorted by SPIFFE ID, the server certificate last.
 */
export function certificateListing(input: ListingInput): CertificateListing {
  const roots: RootListing[] = [rootListing('active', input.active)];
  if (input.retiring) roots.push(rootListing('retiring', input.retiring));
  const stateOf = (fp: string): RootState | 'unknown' =>
    fp === input.active.fingerprint ? 'active' : fp === input.retiring?.fingerprint ? 'retiring' : 'unknown';
  const certificates = input.certificates
    .toSorted((a, b) => compareEntries(a, b))
    .map((c): CertificateListingEntry => ({
      kind: c.kind,
      spiffeId: c.spiffeId ?? null,
      serial: c.serial,
      notBefore: new Date(c.notBefore).toISOString(),
      notAfter: new Date(c.notAfter).toISOString(),
      expiresInSeconds: Math.floor((c.notAfter - input.now) / 1000),
      issuer: { fingerprint: c.issuerFingerprint, state: stateOf(c.issuerFingerprint) },
      ...(c.kind === 'server' ? { dnsNames: c.dnsNames, ipAddresses: c.ipAddresses } : {}),
    }));
  return { roots, certificates };
}

/** Workloads by SPIFFE ID (code-point order, stable across locales), the server last. */
function compareEntries(a: CertificateSummary, b: CertificateSummary): number {
  if (a.kind !== b.kind) return a.kind === 'server' ? 1 : -1;
  const x = a.spiffeId ?? '';
  const y = b.spiffeId ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

function rootListing(state: RootState, r: ListedCa): RootListing {
  const a = r.anchor;
  return {
    state,
    fingerprint: r.fingerprint,
    subject: r.subject,
    notBefore: new Date(r.notBefore).toISOString(),
    notAfter: new Date(r.notAfter).toISOString(),
    ...(a && a.fingerprint !== r.fingerprint ? { root: { fingerprint: a.fingerprint, subject: a.subject, notAfter: new Date(a.notAfter).toISOString() } } : {}),
  };
}

/** The plain-text table `trellis certs` prints. */
export function formatCertificateListing(listing: CertificateListing): string {
  const lines = listing.roots.map((r) => `${r.root ? 'intermediate' : 'root'} (${r.state})  ${r.fingerprint}  ${r.notBefore} .. ${r.notAfter}  ${r.subject}${r.root ? `  under root ${r.root.subject} (${r.root.fingerprint.slice(0, 23)}…)` : ''}`);
  lines.push('');
  lines.push(['IDENTITY', 'SERIAL', 'NOT BEFORE', 'NOT AFTER', 'ROOT'].join('\t'));
  for (const c of listing.certificates) {
    const who = c.kind === 'server' ? `server (${[...(c.dnsNames ?? []), ...(c.ipAddresses ?? [])].join(',')})` : (c.spiffeId ?? '');
    lines.push([who, c.serial, c.notBefore, c.notAfter, `${c.issuer.state} ${c.issuer.fingerprint.slice(0, 23)}`].join('\t'));
  }
  return `${lines.join('\n')}\n`;
}
