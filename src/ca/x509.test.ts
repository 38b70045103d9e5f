// Certificates judged by OpenSSL, not by our own parser.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, LEAF_BACKDATE_MS } from './authority.ts';
import { openssl, tempDir, writeFiles } from './testkit.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3600_000;

let dir: { path: string; cleanup: () => Promise<void> };
let ca: CertificateAuthority;
let rootFile: string;

beforeAll(async () => {
  dir = await tempDir();
  // Fake clock for the CA only: OpenSSL checks validity against the real one,
  // so tests that verify chains use certificates valid now too (see below).
  ca = await CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir: join(dir.path, 'state') });
  rootFile = (await writeFiles(dir.path, { 'root.pem': ca.trustBundlePem() }))['root.pem']!;
});
afterAll(() => dir.cleanup());

async function x509Text(pem: string, name: string, args: string[]): Promise<string> {
  const file = (await writeFiles(dir.path, { [name]: pem }))[name]!;
  const r = await openssl(['x509', '-in', file, '-noout', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe('certificates checked with openssl', () => {
  it('root: self-signed, CA:TRUE, keyCertSign, P-256, ten years', async () => {
    const text = await x509Text(ca.trustBundlePem(), 'root-check.pem', ['-text']);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toContain('NIST CURVE: P-256');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    const years = (ca.activeRoot.notAfter - ca.activeRoot.notBefore) / (365 * 24 * HOUR);
    expect(years).toBeGreaterThan(9.99);
    const verify = await openssl(['verify', '-CAfile', rootFile, rootFile]);
    expect(verify.stdout).toContain(': OK');
  });

  const leafCases: { name: string; lifetimeMs?: number; expectHours: number }[] = [
    { name: 'default lifetime is 24 h', expectHours: 24 },
    { name: 'configured lifetime of 1 h', lifetimeMs: HOUR, expectHours: 1 },
  ];
  for (const c of leafCases) {
    it(`workload leaf: ${c.name}`, async () => {
      const leaf = ca.issue({ namespace: 'demo', serviceAccount: 'web' }, c.lifetimeMs);
      const file = (await writeFiles(dir.path, { 'leaf.pem': leaf.certificatePem }))['leaf.pem']!;
      for (const purpose of ['sslserver', 'sslclient']) {
        const v = await openssl(['verify', '-purpose', purpose, '-CAfile', rootFile, file]);
        expect(v.stdout + v.stderr).toContain(': OK');
      }
      const text = await x509Text(leaf.certificatePem, 'leaf-text.pem', ['-text']);
      expect(text).toMatch(/Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/demo\/sa\/web\s/);
      expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(/Key Usage: critical\s+Digital Signature\s/);
      expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
      expect(text).toContain('Subject Key Identifier');
      expect(text).toContain('Authority Key Identifier');
      expect(text).toContain('NIST CURVE: P-256');
      const dates = await x509Text(leaf.certificatePem, 'leaf-dates.pem', ['-startdate', '-enddate']);
      const start = Date.parse(/notBefore=(.*)/.exec(dates)![1]!);
      const end = Date.parse(/notAfter=(.*)/.exec(dates)![1]!);
      expect(start).toBe(leaf.notBefore);
      expect(end).toBe(leaf.notAfter);
      // Backdated by LEAF_BACKDATE_MS for clock skew, rounded to X.509's seconds.
      expect(Math.abs(end - start - (c.expectHours * HOUR + LEAF_BACKDATE_MS))).toBeLessThanOrEqual(2000);
      const serial = await x509Text(leaf.certificatePem, 'leaf-serial.pem', ['-serial']);
      expect(serial.trim()).toBe(`serial=${leaf.serial}`);
    });
  }

  it('server certificate: DNS and IP SANs, serverAuth, verifies for the configured name', async () => {
    const cert = ca.issueServerCertificate({ dnsNames: ['trellis.trellis-system.svc'], ipAddresses: ['10.0.0.7'] });
    const text = await x509Text(cert.certificatePem, 'server.pem', ['-text']);
    expect(text).toMatch(/DNS:localhost, DNS:trellis\.trellis-system\.svc, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10\.0\.0\.7/);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication\s/);
    const file = join(dir.path, 'server.pem');
    for (const [flag, value] of [['-verify_hostname', 'trellis.trellis-system.svc'], ['-verify_ip', '127.0.0.1']]) {
      const v = await openssl(['verify', '-purpose', 'sslserver', flag!, value!, '-CAfile', rootFile, file]);
      expect(v.stdout + v.stderr).toContain(': OK');
    }
  });

  it('serials are random and distinct', () => {
    const serials = new Set(Array.from({ length: 50 }, () => ca.issue({ namespace: 'a', serviceAccount: 'b' }).serial));
    expect(serials.size).toBe(50);
  });

  it('a leaf never outlives its root', async () => {
    const shortDir = await tempDir();
    try {
      const clock = (): number => NOW;
      const short = await CertificateAuthority.open({ trustDomain: 'td', stateDir: shortDir.path, rootLifetimeMs: 2 * HOUR, clock });
      const leaf = short.issue({ namespace: 'a', serviceAccount: 'b' }, 24 * HOUR);
      expect(leaf.notAfter).toBeLessThanOrEqual(short.activeRoot.notAfter);
      expect(leaf.notBefore).toBeGreaterThanOrEqual(short.activeRoot.notBefore);
    } finally {
      await shortDir.cleanup();
    }
  });
});
