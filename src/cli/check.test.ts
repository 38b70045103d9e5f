/**
 * Issue 13 `trellis check`: the verdicts that the test against a real API
 * server cannot provoke (its clock is this machine's; its root is fresh).
 */
import { describe, expect, it } from 'vitest';
import { newCaSecret, rootOfSecret } from './ca-secret.ts';
import { clockSkew } from './check.ts';

describe('issue 13: trellis check verdicts', () => {
  it('clock skew: within 30 s passes; beyond, × says which way and to use NTP', () => {
    expect(clockSkew(2_000)).toMatchObject({ ok: true });
    expect(clockSkew(-95_000)).toMatchObject({ ok: false, fact: "this machine's clock is 95 s ahead of the API server's" });
    expect(clockSkew(95_000).fact).toContain('behind');
    expect(clockSkew(undefined).ok).toBe(false);
  });

  it('CA Secret: a missing key and an expired root are named', () => {
    const secret = newCaSecret('trellis-system', 'cluster.local', Date.now());
    const data = { ...(secret.data as Record<string, string>) };
    delete data['token-signing.key'];
    expect(rootOfSecret({ ...secret, data })).toBe('missing token-signing.key');
    expect(rootOfSecret(secret, Date.now() + 11 * 365 * 24 * 3600_000)).toMatch(/expired/);
    expect(typeof rootOfSecret(secret)).toBe('object');
  });
});
