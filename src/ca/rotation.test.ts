import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertificateAuthority, LEAF_BACKDATE_MS } from './authority.ts';
import { DEFAULT_RENEWAL_POLICY, nearestExpiry, renewalDecision, rotationProgress, scheduledRenewal, unitJitter, type RenewableCertificate } from './rotation.ts';
import { opensslIntermediate, opensslRoot, tempDir } from './testkit.ts';

const H = 3600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const cert = (serial: string, over: Partial<RenewableCertificate> = {}): RenewableCertificate => ({
  serial,
  notBefore: T0,
  notAfter: T0 + 24 * H,
  issuerFingerprint: 'ACTIVE',
  ...over,
});

describe('scheduledRenewal', () => {
  it('is deterministic per serial and within 2/3 ± 5 % of the lifetime', () => {
    for (const serial of ['01', 'AB', 'CAFE', '7F00FF', 'DEADBEEF']) {
      const at = scheduledRenewal(cert(serial));
      expect(at).toBe(scheduledRenewal(cert(serial)));
      const fraction = (at - T0) / (24 * H);
      expect(fraction).toBeGreaterThanOrEqual(2 / 3 - 0.05);
      expect(fraction).toBeLessThanOrEqual(2 / 3 + 0.05);
    }
  });

  it('spreads certificates issued together', () => {
    const times = new Set(Array.from({ length: 100 }, (_, i) => scheduledRenewal(cert(i.toString(16)))));
    expect(times.size).toBeGreaterThan(95);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(1.5 * H);
  });

  it('counts the lifetime from issuance, not from the backdated notBefore', () => {
    const noJitter = { ...DEFAULT_RENEWAL_POLICY, jitterFraction: 0 };
    // A 10-minute leaf issued at T0, backdated 5 minutes: due 400 s after issuance,
    // not at 2/3 of the 15 minutes from notBefore (50 % of the requested lifetime).
    const c = cert('01', { notBefore: T0 - LEAF_BACKDATE_MS, issuedAt: T0, notAfter: T0 + 600_000 });
    expect(scheduledRenewal(c, noJitter)).toBe(T0 + 400_000);
    // Without an issuance time (a certificate from elsewhere), notBefore is the start.
    expect(scheduledRenewal(cert('01', { notAfter: T0 + 600_000 }), noJitter)).toBe(T0 + 400_000);
  });

  it('unitJitter stays in [0, 1)', () => {
    for (let i = 0; i < 200; i++) {
      const u = unitJitter(String(i));
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
  });
});

describe('renewalDecision', () => {
  const noJitter = { ...DEFAULT_RENEWAL_POLICY, jitterFraction: 0 };
  const cases: { name: string; cert: RenewableCertificate; now: number; rotationStartedAt?: number; renew: boolean; reason: string }[] = [
    { name: 'fresh certificate', cert: cert('01'), now: T0 + H, renew: false, reason: 'valid' },
    { name: 'just before 2/3', cert: cert('01'), now: T0 + 16 * H - 1, renew: false, reason: 'valid' },
    { name: 'at 2/3', cert: cert('01'), now: T0 + 16 * H, renew: true, reason: 'due' },
    { name: 'expired', cert: cert('01'), now: T0 + 25 * H, renew: true, reason: 'expired' },
    { name: 'old root, rotation just started', cert: cert('01', { issuerFingerprint: 'OLD' }), now: T0 + H, rotationStartedAt: T0 + H, renew: false, reason: 'valid' },
    { name: 'old root, at the end of the grace', cert: cert('01', { issuerFingerprint: 'OLD' }), now: T0 + H + 60_000 - 1, rotationStartedAt: T0 + H, renew: false, reason: 'valid' },
    { name: 'old root, past its normal schedule but inside the grace: waits', cert: cert('01', { issuerFingerprint: 'OLD' }), now: T0 + 17 * H, rotationStartedAt: T0 + 17 * H - 1000, renew: false, reason: 'valid' },
    { name: 'old root, after the grace and the spread window', cert: cert('01', { issuerFingerprint: 'OLD' }), now: T0 + H + 120_000, rotationStartedAt: T0 + H, renew: true, reason: 'root-rotated' },
    { name: 'old root, expired inside the grace: renewed', cert: cert('01', { issuerFingerprint: 'OLD' }), now: T0 + 24 * H, rotationStartedAt: T0 + 24 * H - 1000, renew: true, reason: 'expired' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = renewalDecision(c.cert, { now: c.now, activeRootFingerprint: 'ACTIVE', rotationStartedAt: c.rotationStartedAt, policy: noJitter });
      expect({ renew: d.renew, reason: d.reason }).toEqual({ renew: c.renew, reason: c.reason });
    });
  }

  it('old-root leaves move to the new root only after the grace, spread over the window by serial', () => {
    const policy = { ...DEFAULT_RENEWAL_POLICY, rotationGraceMs: 30_000, rotationSpreadMs: 90_000 };
    const start = T0 + H;
    const at = Array.from({ length: 200 }, (_, i) => renewalDecision(cert(i.toString(16), { issuerFingerprint: 'OLD' }), { now: start, activeRootFingerprint: 'ACTIVE', rotationStartedAt: start, policy }).renewAt);
    expect(Math.min(...at)).toBeGreaterThanOrEqual(start + 30_000);
    expect(Math.max(...at)).toBeLessThan(start + 120_000);
    expect(Math.max(...at) - Math.min(...at)).toBeGreaterThan(80_000);
  });
});

describe('rotation progress and nearest expiry', () => {
  it('counts leaves per root', () => {
    expect(rotationProgress([cert('1'), cert('2', { issuerFingerprint: 'OLD' })], 'ACTIVE')).toEqual({ total: 2, onActiveRoot: 1, onRetiringRoots: 1, complete: false });
    expect(rotationProgress([cert('1')], 'ACTIVE').complete).toBe(true);
  });

  it('nearest expiry per identity', () => {
    const m = nearestExpiry([
      { spiffeId: 'a', notAfter: 5 },
      { spiffeId: 'a', notAfter: 3 },
      { spiffeId: 'b', notAfter: 9 },
      { spiffeId: undefined, notAfter: 1 },
    ]);
    expect([...m]).toEqual([['a', 3], ['b', 9]]);
  });
});

describe('CertificateAuthority renewal with an injected clock', () => {
  it('a short-lived leaf is renewed at 2/3 of its requested lifetime from issuance (± jitter)', async () => {
    const dir = await tempDir();
    try {
      const issuedAt = Date.parse('2026-02-01T10:00:00Z');
      let now = issuedAt;
      const lifetime = 10 * 60_000;
      const ca = await CertificateAuthority.open({ trustDomain: 'td', stateDir: dir.path, clock: () => now, rootLifetimeMs: 365 * 24 * H, leafLifetimeMs: lifetime });
      const id = { namespace: 'ns', serviceAccount: 'sa' };
      const first = ca.certificateFor(id);
      expect(first.notBefore).toBe(issuedAt - LEAF_BACKDATE_MS); // still backdated for clock skew
      expect(first.notAfter).toBe(issuedAt + lifetime);
      const fraction = (ca.renewalDecision(first).renewAt - issuedAt) / lifetime;
      expect(fraction).toBeGreaterThanOrEqual(2 / 3 - 0.05);
      expect(fraction).toBeLessThanOrEqual(2 / 3 + 0.05);
      now = issuedAt + 0.6 * lifetime; // renewed at ~55 % before the fix
      expect(ca.certificateFor(id)).toBe(first);
      now = issuedAt + 0.72 * lifetime;
      expect(ca.certificateFor(id)).not.toBe(first);
    } finally {
      await dir.cleanup();
    }
  });

  it('root rotation: leaves stay on the old root for the grace, then move spread out; the start survives a restart', async () => {
    const dir = await tempDir();
    try {
      const t0 = Date.parse('2026-02-01T10:00:00Z');
      let now = t0;
      const policy = { rotationGraceMs: 60_000, rotationSpreadMs: 60_000 };
      const open = () => CertificateAuthority.open({ trustDomain: 'td', stateDir: dir.path, clock: () => now, renewalPolicy: policy });
      const ca = await open();
      const oldRoot = ca.activeRoot;
      const ids = Array.from({ length: 20 }, (_, i) => `spiffe://td/ns/ns/sa/sa${i}`);
      const before = new Map(ids.map((id) => [id, ca.certificateFor(id)]));
      const server = ca.issueServerCertificate();
      now = t0 + 1000;
      const newRoot = await ca.beginRootRotation();
      expect(ca.rotationStartedAt).toBe(t0 + 1000);
      const rootOf = (pem: string) => (new X509Certificate(pem).verify(new X509Certificate(newRoot.certificatePem).publicKey) ? 'new' : 'old');

      now = t0 + 30_000; // inside the grace
      for (const id of ids) expect(ca.certificateFor(id)).toBe(before.get(id));
      const joined = ca.certificateFor('spiffe://td/ns/ns/sa/late'); // a workload first seen now
      expect(rootOf(joined.certificatePem)).toBe('old');
      expect(joined.issuerFingerprint).toBe(oldRoot.fingerprint);

      // A restart mid-rotation: same start, same grace, same serving root.
      const restarted = await open();
      expect(restarted.rotationStartedAt).toBe(t0 + 1000);
      expect(restarted.inRotationGrace()).toBe(true);
      expect(restarted.servingRoot.fingerprint).toBe(oldRoot.fingerprint);
      expect(restarted.serverCertificateDue(server)).toBe(false);
      expect(rootOf(restarted.issueServerCertificate().certificatePem)).toBe('old');

      now = t0 + 1000 + 60_000 + 30_000; // half way through the spread window
      const moved = ids.filter((id) => ca.certificateFor(id) !== before.get(id));
      expect(moved.length).toBeGreaterThan(0);
      expect(moved.length).toBeLessThan(ids.length);
      for (const id of moved) expect(rootOf(ca.inventory.latest(id)!.certificatePem)).toBe('new');
      now = t0 + 1000 + 120_000;
      for (const id of ids) expect(ca.certificateFor(id).issuerFingerprint).toBe(newRoot.fingerprint);
      expect(ca.certificateFor('spiffe://td/ns/ns/sa/late').issuerFingerprint).toBe(newRoot.fingerprint);
      // The serving certificate does not hold the rotation back, and moves at finish.
      expect(ca.rotationProgress()).toMatchObject({ complete: true });
      expect(ca.serverCertificateDue(server)).toBe(false);
      await ca.finishRootRotation();
      expect(ca.serverCertificateDue(server)).toBe(true);
      expect(rootOf(ca.issueServerCertificate().certificatePem)).toBe('new');
    } finally {
      await dir.cleanup();
    }
  });
});

describe('issue 15: intermediate rotation under one operator root, with an injected clock', () => {
  it('the bundle stays the one root throughout; leaves keep the old intermediate for the grace, then move spread out carrying the new one; a restart keeps both', async () => {
    const dir = await tempDir();
    try {
      const root = await opensslRoot(dir.path, 'corp-root');
      const first = await opensslIntermediate(dir.path, 'int-1', root, { pathLen: 0 });
      const second = await opensslIntermediate(dir.path, 'int-2', root, { pathLen: 0 });
      const t0 = Date.now(); // the openssl certificates are valid from now
      let now = t0;
      const policy = { rotationGraceMs: 60_000, rotationSpreadMs: 60_000 };
      const stateDir = join(dir.path, 'state');
      const open = () => CertificateAuthority.open({ trustDomain: 'td', stateDir, clock: () => now, renewalPolicy: policy });
      const ca = await CertificateAuthority.open({ trustDomain: 'td', stateDir, clock: () => now, renewalPolicy: policy, operatorRoot: { ...first, chainFile: root.certFile } });
      const rootPem = await readFile(root.certFile, 'utf8');
      const [firstPem, secondPem] = await Promise.all([readFile(first.certFile, 'utf8'), readFile(second.certFile, 'utf8')]);
      const ids = Array.from({ length: 20 }, (_, i) => `spiffe://td/ns/ns/sa/sa${i}`);
      const before = new Map(ids.map((id) => [id, ca.certificateFor(id)]));
      for (const c of before.values()) expect(c.chainPem).toBe(firstPem);

      now = t0 + 1000;
      const next = await ca.beginRootRotation({ ...second });
      expect(next.anchor.fingerprint).toBe(ca.retiringRoot!.anchor.fingerprint);
      expect(ca.trustBundlePem()).toBe(rootPem);
      now = t0 + 30_000; // inside the grace
      for (const id of ids) expect(ca.certificateFor(id)).toBe(before.get(id));
      const restarted = await open();
      expect(restarted.trustBundlePem()).toBe(rootPem);
      expect(restarted.retiringRoot?.fingerprint).toBe(ca.retiringRoot?.fingerprint);
      expect(restarted.servingRoot.fingerprint).toBe(ca.retiringRoot?.fingerprint);

      now = t0 + 1000 + 60_000 + 30_000; // half way through the spread
      const moved = ids.filter((id) => ca.certificateFor(id) !== before.get(id));
      expect(moved.length).toBeGreaterThan(0);
      expect(moved.length).toBeLessThan(ids.length);
      now = t0 + 1000 + 120_000;
      for (const id of ids) {
        const held = ca.certificateFor(id);
        expect(held.issuerFingerprint).toBe(next.fingerprint);
        expect(held.chainPem).toBe(secondPem);
      }
      expect(ca.rotationProgress()).toMatchObject({ complete: true });
      await ca.finishRootRotation();
      expect(ca.trustBundlePem()).toBe(rootPem);
      expect(ca.issueServerCertificate().chainPem).toBe(secondPem);
    } finally {
      await dir.cleanup();
    }
  });
});

describe('CertificateAuthority.certificateFor', () => {
  it('reuses the held certificate until it is due, then renews it', async () => {
    const dir = await tempDir();
    try {
      let now = Date.now();
      const ca = await CertificateAuthority.open({ trustDomain: 'td', stateDir: dir.path, clock: () => now });
      const id = { namespace: 'ns', serviceAccount: 'sa' };
      const first = ca.certificateFor(id);
      expect(ca.certificateFor(id)).toBe(first);
      now = ca.renewalDecision(first).renewAt;
      const second = ca.certificateFor(id);
      expect(second.serial).not.toBe(first.serial);
      expect(ca.inventory.latest(first.spiffeId!)).toBe(second);
    } finally {
      await dir.cleanup();
    }
  });
});
