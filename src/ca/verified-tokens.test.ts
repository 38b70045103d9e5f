// Issue 14: a token's signature is checked once per signing key, also across
// restarts, and nothing else about the token is skipped.
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { WorkloadTokens } from './token.ts';
import { MAX_VERIFIED_TOKENS, VerifiedTokens, verifiedTokensPath } from './verified-tokens.ts';
import { tempDir } from './testkit.ts';

const NOW = Date.parse('2026-05-01T00:00:00Z');
const WEB = 'spiffe://cluster.local/ns/demo/sa/web';
const NODE = 'web-7d9f.demo';
const log = pino({ level: 'silent' });
let clock = NOW;
let dir: { path: string; cleanup: () => Promise<void> };

const open = () => WorkloadTokens.open({ stateDir: dir.path, trustDomain: 'cluster.local', clock: () => clock, leewayMs: 0 });
/** A restart: a new WorkloadTokens on the same state dir, with what the previous run saved. */
async function restart(previous: WorkloadTokens): Promise<WorkloadTokens> {
  await previous.verified.save(verifiedTokensPath(dir.path), log);
  const next = await open();
  await next.verified.restore(verifiedTokensPath(dir.path), log);
  return next;
}

beforeEach(async () => {
  clock = NOW;
  dir = await tempDir();
});
afterEach(() => dir.cleanup());

describe('issue 14: verified workload tokens', () => {
  it('a token presented again is not signature-checked again', async () => {
    const tokens = await open();
    const t = tokens.issue({ spiffeId: WEB, nodeId: NODE, ttlMs: 3600_000 });
    expect(tokens.check(t, NODE)).toEqual({ ok: true, identity: { spiffeId: WEB } });
    expect(tokens.check(t, NODE)).toEqual({ ok: true, identity: { spiffeId: WEB } });
    expect(tokens.signatureChecks).toBe(1);
  });

  it('after a restart, the tokens the previous run checked are not checked again', async () => {
    const first = await open();
    const ts = ['a', 'b', 'c'].map((n) => first.issue({ spiffeId: WEB, nodeId: `${n}.demo`, ttlMs: 3600_000 }));
    ts.forEach((t, i) => expect(first.check(t, `${'abc'[i]}.demo`).ok).toBe(true));
    const file = verifiedTokensPath(dir.path);
    const second = await restart(first);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    ts.forEach((t, i) => expect(second.check(t, `${'abc'[i]}.demo`)).toEqual({ ok: true, identity: { spiffeId: WEB } }));
    expect(second.signatureChecks).toBe(0);
    // A token the previous run never saw is checked.
    expect(second.check(second.issue({ spiffeId: WEB, nodeId: NODE }), NODE).ok).toBe(true);
    expect(second.signatureChecks).toBe(1);
  });

  it('a checked token is still refused for another node, once expired, or for a different trust domain', async () => {
    const tokens = await open();
    const t = tokens.issue({ spiffeId: WEB, nodeId: NODE, ttlMs: 3600_000 });
    expect(tokens.check(t, NODE).ok).toBe(true);
    const again = await restart(tokens);
    expect(again.check(t, 'api-1.demo')).toMatchObject({ ok: false, reason: 'mismatch' });
    clock = NOW + 1800_000;
    expect(again.check(t, NODE).ok).toBe(true);
    clock = NOW + 3600_000;
    expect(again.check(t, NODE)).toMatchObject({ ok: false, reason: 'expired' });
    const otherDomain = await WorkloadTokens.open({ stateDir: dir.path, trustDomain: 'other.example', clock: () => NOW });
    await otherDomain.verified.restore(verifiedTokensPath(dir.path), log);
    expect(otherDomain.check(t, NODE)).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('a token edited after it was checked is checked again and refused', async () => {
    const tokens = await open();
    const t = tokens.issue({ spiffeId: WEB, nodeId: NODE, ttlMs: 3600_000 });
    expect(tokens.check(t, NODE).ok).toBe(true);
    const [h, p, s] = t.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const edited = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'spiffe://cluster.local/ns/demo/sa/admin' })).toString('base64url')}.${s}`;
    expect(tokens.check(edited, NODE)).toMatchObject({ ok: false, reason: 'forged' });
    expect(tokens.signatureChecks).toBe(2);
  });

  it('entries made under a replaced signing key match nothing: its tokens are refused', async () => {
    const before = await open();
    const t = before.issue({ spiffeId: WEB, nodeId: NODE, ttlMs: 3600_000 });
    expect(before.check(t, NODE).ok).toBe(true);
    await before.verified.save(verifiedTokensPath(dir.path), log);
    // The operator replaces the leaked signing key (docs: delete it, Trellis makes a new one).
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const after = new WorkloadTokens({ signingKey: privateKey, trustDomain: 'cluster.local', clock: () => clock });
    expect(await after.verified.restore(verifiedTokensPath(dir.path), log)).toBe(1);
    expect(after.check(t, NODE)).toMatchObject({ ok: false, reason: 'forged' });
  });

  it('an entry written without the signing key admits no forged token', async () => {
    const tokens = await open();
    const t = tokens.issue({ spiffeId: WEB, nodeId: NODE, ttlMs: 3600_000 });
    // A forger signs claims of their choosing with their own key under our key id, then writes the
    // file with the entry a MAC under their key (or a plain hash) would give: neither matches ours.
    const [h, p] = t.split('.') as [string, string, string];
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = `${h}.${p}.${sign('sha256', Buffer.from(`${h}.${p}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    const theirs = new VerifiedTokens(privateKey);
    await writeFile(verifiedTokensPath(dir.path), JSON.stringify({ format: 'trellis-verified-tokens/v1', entries: [[theirs.mac(forged), NOW + 3600_000]] }), { mode: 0o600 });
    const restarted = await open();
    expect(await restarted.verified.restore(verifiedTokensPath(dir.path), log)).toBe(1);
    expect(restarted.check(forged, NODE)).toMatchObject({ ok: false, reason: 'forged' });
  });

  it('an unreadable file is ignored: every token is checked again', async () => {
    const tokens = await open();
    await writeFile(verifiedTokensPath(dir.path), '{"format": "something else"', { mode: 0o600 });
    expect(await tokens.verified.restore(verifiedTokensPath(dir.path), log)).toBe(0);
    const t = tokens.issue({ spiffeId: WEB, nodeId: NODE });
    expect(tokens.check(t, NODE).ok).toBe(true);
    expect(tokens.signatureChecks).toBe(1);
  });

  it('a store that cannot be written warns once a minute, not at every save, and writes once it can', async () => {
    const lines: string[] = [];
    const warnLog = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const tokens = await open();
    // A file where the store's folder should be: every write fails, as on a full or read-only disk.
    await writeFile(`${dir.path}/blocked`, '');
    const file = `${dir.path}/blocked/verified.json`;
    tokens.verified.add('a', NOW + 3600_000);
    await tokens.verified.save(file, warnLog);
    tokens.verified.add('b', NOW + 3600_000);
    await tokens.verified.save(file, warnLog);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ file });
    clock = NOW + 61_000;
    await tokens.verified.save(verifiedTokensPath(dir.path), warnLog);
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(await readFile(verifiedTokensPath(dir.path), 'utf8')) as { entries: Array<[string, number]> };
    expect(doc.entries.map((e) => e[0])).toEqual(['a', 'b']);
  });

  it('expired entries are dropped when saved; the set is bounded, the oldest going first', async () => {
    const tokens = await open();
    tokens.verified.add('old', NOW + 1000);
    tokens.verified.add('new', NOW + 3600_000);
    clock = NOW + 2000;
    await tokens.verified.save(verifiedTokensPath(dir.path), log);
    const doc = JSON.parse(await readFile(verifiedTokensPath(dir.path), 'utf8')) as { entries: Array<[string, number]> };
    expect(doc.entries.map((e) => e[0])).toEqual(['new']);

    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const small = new VerifiedTokens(privateKey, { maxEntries: 2 });
    for (const m of ['a', 'b', 'c']) small.add(m, NOW + 3600_000);
    expect([small.has('a'), small.has('b'), small.has('c'), small.size]).toEqual([false, true, true, 2]);
    expect(MAX_VERIFIED_TOKENS).toBeGreaterThanOrEqual(10_000);
  });
});
