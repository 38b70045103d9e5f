import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from './authority.ts';
import { DEFAULT_RENEWAL_POLICY, nearestExpiry, renewalDecision, rotationProgress, scheduledRenewal, unitJitter, type RenewableCertificate } from './rotation.ts';
import { tempDir } from './testkit.ts';

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
    { name: 'old root, rotation just started, inside its spread slot', cert: cert('01', { issuerFingerprint: 'OLD' }), now: T0 + H, rotationStartedAt: T0 + H, renew: false, reason: 'valid' },
    { name: 'old root, after the spread window', cert: cert('01', { issuerFingerprint: 'OLD' }), now: T0 + H + 60_001, rotationStartedAt: T0 + H, renew: true, reason: 'root-rotated' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = renewalDecision(c.cert, { now: c.now, activeRootFingerprint: 'ACTIVE', rotationStartedAt: c.rotationStartedAt, policy: noJitter });
      expect({ renew: d.renew, reason: d.reason }).toEqual({ renew: c.renew, reason: c.reason });
    });
  }
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
