// The certificate listing, and that no listing, log line or dump carries a key.
import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from './authority.ts';
import { certificateListing, formatCertificateListing } from './inventory.ts';
import { tempDir } from './testkit.ts';

const NOW = Date.now();
let dir: { path: string; cleanup: () => Promise<void> };
let ca: CertificateAuthority;

beforeAll(async () => {
  dir = await tempDir();
  ca = await CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir: dir.path, clock: () => NOW });
});
afterAll(() => dir.cleanup());

describe('certificate listing', () => {
  it('one entry per identity, sorted, latest certificate only, server last', () => {
    ca.issue({ namespace: 'b', serviceAccount: 'x' });
    const a1 = ca.issue({ namespace: 'a', serviceAccount: 'x' });
    const a2 = ca.issue({ namespace: 'a', serviceAccount: 'x' });
    ca.issueServerCertificate();
    const listing = ca.listing();
    expect(listing.roots).toEqual([
      { state: 'active', fingerprint: ca.activeRoot.fingerprint, subject: ca.activeRoot.subject, notBefore: new Date(ca.activeRoot.notBefore).toISOString(), notAfter: new Date(ca.activeRoot.notAfter).toISOString() },
    ]);
    expect(listing.certificates.map((c) => c.spiffeId ?? c.kind)).toEqual(['spiffe://cluster.local/ns/a/sa/x', 'spiffe://cluster.local/ns/b/sa/x', 'server']);
    const a = listing.certificates[0]!;
    expect(a.serial).toBe(a2.serial);
    expect(a.serial).not.toBe(a1.serial);
    expect(a).toMatchObject({ kind: 'workload', issuer: { fingerprint: ca.activeRoot.fingerprint, state: 'active' }, notAfter: new Date(a2.notAfter).toISOString() });
    expect(a.expiresInSeconds).toBe(Math.floor((a2.notAfter - NOW) / 1000));
  });

  it('marks leaves of a retiring root', () => {
    const listing = certificateListing({
      active: { fingerprint: 'NEW', subject: 'n', notBefore: 0, notAfter: 1 },
      retiring: { fingerprint: 'OLD', subject: 'o', notBefore: 0, notAfter: 1 },
      certificates: [{ kind: 'workload', spiffeId: 's', serial: '01', notBefore: 0, notAfter: 1000, issuerFingerprint: 'OLD', dnsNames: [], ipAddresses: [] }],
      now: 0,
    });
    expect(listing.roots.map((r) => r.state)).toEqual(['active', 'retiring']);
    expect(listing.certificates[0]!.issuer.state).toBe('retiring');
    expect(formatCertificateListing(listing)).toContain('retiring');
  });
});

describe('the private key never leaks', () => {
  it('not through JSON, util.inspect, the listing, the text table or a pino log line', () => {
    const cert = ca.issue({ namespace: 'demo', serviceAccount: 'secret-holder' });
    const keyBody = cert.privateKeyPem.split('\n')[1]!;
    expect(keyBody.length).toBeGreaterThan(20);
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }));
    log.info({ cert }, 'issued');
    log.info({ certs: ca.inventory.all() }, 'inventory');
    const outputs = [JSON.stringify(cert), inspect(cert, { depth: 5 }), JSON.stringify(ca.listing()), formatCertificateListing(ca.listing()), ...lines];
    for (const out of outputs) {
      expect(out).not.toContain(keyBody);
      expect(out).not.toContain('PRIVATE KEY');
    }
    expect(JSON.stringify(cert)).toContain(cert.serial);
  });
});
