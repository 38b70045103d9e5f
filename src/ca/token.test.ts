// Workload tokens: the happy path and every way to abuse one.
import { generateKeyPairSync, sign } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_METADATA_KEY, type IdentityResult } from '../identity/verifier.ts';
import { WorkloadTokens } from './token.ts';
import { tokenKeyPath } from './token-key.ts';
import { tempDir } from './testkit.ts';

const NOW = Date.parse('2026-05-01T00:00:00Z');
const WEB = 'spiffe://cluster.local/ns/demo/sa/web';
const NODE = 'web-7d9f.demo';
let clock = NOW;
let dir: { path: string; cleanup: () => Promise<void> };
let tokens: WorkloadTokens;

beforeAll(async () => {
  dir = await tempDir();
  tokens = await WorkloadTokens.open({ stateDir: dir.path, trustDomain: 'cluster.local', clock: () => clock, leewayMs: 0 });
});
afterAll(() => dir.cleanup());

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
function parts(token: string): [string, string, string] {
  return token.split('.') as [string, string, string];
}
function resign(token: string, mutate: (claims: Record<string, unknown>) => void): string {
  // Re-signing with a key of our own: a forger who edits claims cannot keep the signature.
  const [h, p] = parts(token);
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  mutate(claims);
  const input = `${h}.${b64(claims)}`;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

type Reason = Extract<IdentityResult, { ok: false }>['reason'];
interface AbuseCase {
  name: string;
  token: () => string | undefined;
  nodeId?: string;
  reason: Reason;
}

const good = (): string => tokens.issue({ spiffeId: WEB, nodeId: NODE, ttlMs: 3600_000 });

const abuse: AbuseCase[] = [
  { name: 'no token', token: () => undefined, reason: 'missing' },
  { name: 'empty token', token: () => '', reason: 'missing' },
  { name: 'two parts', token: () => parts(good()).slice(0, 2).join('.'), reason: 'malformed' },
  { name: 'not base64url', token: () => 'a.b$.c', reason: 'malformed' },
  { name: 'payload not JSON', token: () => `${parts(good())[0]}.${Buffer.from('nope').toString('base64url')}.${parts(good())[2]}`, reason: 'malformed' },
  { name: 'oversized', token: () => `${'a'.repeat(9000)}.b.c`, reason: 'malformed' },
  { name: 'alg none', token: () => `${b64({ alg: 'none', typ: 'JWT' })}.${parts(good())[1]}.AA`, reason: 'forged' },
  { name: 'alg HS256', token: () => `${b64({ alg: 'HS256', kid: tokens.keyId })}.${parts(good())[1]}.${parts(good())[2]}`, reason: 'forged' },
  { name: 'claims edited (subject swapped to another identity)', token: () => {
    const [h, , s] = parts(good());
    return `${h}.${b64({ ...JSON.parse(Buffer.from(parts(good())[1], 'base64url').toString()), sub: 'spiffe://cluster.local/ns/demo/sa/admin' })}.${s}`;
  }, reason: 'forged' },
  { name: 'signed by another key under our key id', token: () => resign(good(), (c) => (c.exp = 9e9)), reason: 'forged' },
  { name: 'signature truncated', token: () => good().slice(0, -10), reason: 'forged' },
  { name: 'token from another Trellis installation', token: () => otherInstallation.issue({ spiffeId: WEB, nodeId: NODE }), reason: 'forged' },
  { name: 'expired', token: () => tokens.issue({ spiffeId: WEB, nodeId: NODE, ttlMs: -1000 }), reason: 'expired' },
  { name: 'bound to another node', token: good, nodeId: 'api-1.demo', reason: 'mismatch' },
  { name: 'prefix bound, node outside the prefix', token: () => tokens.issue({ spiffeId: WEB, nodePrefix: 'web-' }), nodeId: 'api-web-1', reason: 'mismatch' },
  { name: 'other trust domain', token: () => otherDomain.issue({ spiffeId: 'spiffe://other.example/ns/demo/sa/web', nodeId: NODE }), reason: 'mismatch' },
];

let otherInstallation: WorkloadTokens;
let otherDomain: WorkloadTokens;
beforeAll(async () => {
  const other = await tempDir();
  otherInstallation = await WorkloadTokens.open({ stateDir: other.path, trustDomain: 'cluster.local', clock: () => clock });
  // Same signing key as `tokens`, different trust domain: only the claim check can tell.
  otherDomain = await WorkloadTokens.open({ stateDir: dir.path, trustDomain: 'other.example', clock: () => clock });
  await other.cleanup();
});

describe('WorkloadTokens', () => {
  it('a token verifies for its node and yields the identity', async () => {
    const r = await tokens.verify({ [TOKEN_METADATA_KEY]: good() }, NODE);
    expect(r).toEqual({ ok: true, identity: { spiffeId: WEB } });
  });

  it('a prefix-bound token verifies for every node under the prefix', async () => {
    const t = tokens.issue({ spiffeId: WEB, nodePrefix: 'web-' });
    for (const node of ['web-1', 'web-abc.demo']) expect((await tokens.verify({ [TOKEN_METADATA_KEY]: t }, node)).ok).toBe(true);
  });

  it('the signing key persists with mode 0600 and is reused', async () => {
    expect((await stat(tokenKeyPath(dir.path))).mode & 0o777).toBe(0o600);
    const again = await WorkloadTokens.open({ stateDir: dir.path, trustDomain: 'cluster.local', clock: () => clock });
    expect(again.keyId).toBe(tokens.keyId);
    expect(again.check(good(), NODE).ok).toBe(true);
  });

  it('expiry is judged by the clock at verification time', () => {
    const t = good();
    clock = NOW + 3600_000;
    try {
      expect(tokens.check(t, NODE)).toMatchObject({ ok: false, reason: 'expired' });
    } finally {
      clock = NOW;
    }
  });

  it('refuses to issue an unbound token', () => {
    expect(() => tokens.issue({ spiffeId: WEB })).toThrow();
    expect(() => tokens.issue({ spiffeId: WEB, nodeId: 'a', nodePrefix: 'b' })).toThrow();
  });

  for (const c of abuse) {
    it(`abuse: ${c.name} → ${c.reason}`, async () => {
      const token = c.token();
      const metadata: Record<string, string> = token === undefined ? {} : { [TOKEN_METADATA_KEY]: token };
      const r = await tokens.verify(metadata, c.nodeId ?? NODE);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBe(c.reason);
        expect(r.message.length).toBeGreaterThan(5);
      }
    });
  }
});
