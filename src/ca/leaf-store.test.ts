import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { CertificateAuthority } from './authority.ts';
import { LEAF_REWRITE_GAP_MS, LeafStore, saveIfDue } from './leaf-store.ts';
import { tempDir } from './testkit.ts';

const TD = 'trellis.local';
const ids = ['a', 'b', 'c'].map((sa) => `spiffe://${TD}/ns/shop/sa/${sa}`);
const log = pino({ level: 'silent' });
let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

async function stateDir(): Promise<string> {
  const d = await tempDir('trellis-leaves-');
  cleanups.push(d.cleanup);
  return d.path;
}

/** A CA over `dir` as a new process would open it, with the stored leaves restored. */
async function restart(dir: string, clock?: () => number): Promise<{ ca: CertificateAuthority; store: LeafStore; restored: number }> {
  const ca = await CertificateAuthority.open({ trustDomain: TD, stateDir: dir, logger: log, ...(clock ? { clock } : {}) });
  const store = new LeafStore(dir, log, clock);
  return { ca, store, restored: await store.restore(ca) };
}

describe('issue 14: workload certificates across a restart (leaf-store.ts)', () => {
  it('a restart serves the certificates issued before it and signs none', async () => {
    const dir = await stateDir();
    const first = await restart(dir);
    const before = ids.map((id) => first.ca.certificateFor(id));
    await first.store.save(first.ca.inventory);

    const second = await restart(dir);
    expect(second.restored).toBe(3);
    const generation = second.ca.inventory.generation;
    const after = ids.map((id) => second.ca.certificateFor(id));
    // Without the store every identity was signed again at each start (10,000 at once after a restart).
    expect(after.map((c) => c.serial)).toEqual(before.map((c) => c.serial));
    expect(after.map((c) => c.privateKeyPem)).toEqual(before.map((c) => c.privateKeyPem));
    expect(second.ca.inventory.generation).toBe(generation);
    expect((await stat(second.store.file)).mode & 0o777).toBe(0o600);
  });

  it('does not restore leaves that are expired or of a root no longer in use', async () => {
    const dir = await stateDir();
    const t0 = Date.now();
    const first = await restart(dir, () => t0);
    first.ca.certificateFor(ids[0]!);
    first.ca.issue(ids[1]!, 120_000); // expires 2 minutes later
    await first.store.save(first.ca.inventory);

    // 10 minutes later: the short one expired; the long one is restored and kept.
    const later = await restart(dir, () => t0 + 600_000);
    expect(later.restored).toBe(1);
    expect(later.ca.certificateFor(ids[0]!).serial).toBe(first.ca.inventory.latest(ids[0]!)!.serial);

    // The same file under another root (a lost CA replaced with --new-ca): nothing is trusted from it.
    const other = await stateDir();
    await mkdir(path.join(other, 'leaves'), { recursive: true });
    await writeFile(path.join(other, 'leaves', 'workloads.json'), await readFile(first.store.file, 'utf8'));
    expect((await restart(other)).restored).toBe(0);
  });

  it('an unreadable file is ignored: those identities are issued again, nothing throws', async () => {
    const dir = await stateDir();
    await mkdir(path.join(dir, 'leaves'), { recursive: true });
    for (const text of ['{not json', JSON.stringify({ format: 'other', leaves: [] }), JSON.stringify({ format: 'trellis-workload-leaves/v1', leaves: [{ spiffeId: 1 }, null] })]) {
      await writeFile(path.join(dir, 'leaves', 'workloads.json'), text);
      const r = await restart(dir);
      expect(r.restored).toBe(0);
      expect(r.ca.certificateFor(ids[0]!).spiffeId).toBe(ids[0]);
    }
  });

  it('writes back only identities still in use, so one that left the mesh is not kept (and renewed) forever', async () => {
    const dir = await stateDir();
    const first = await restart(dir);
    for (const id of ids) first.ca.certificateFor(id);
    await first.store.save(first.ca.inventory, (id) => id !== ids[2]);
    const second = await restart(dir);
    expect(second.restored).toBe(2);
    expect(second.ca.inventory.latest(ids[2]!)).toBeUndefined();
  });

  it('the periodic save writes the first change at once, later ones at most every few minutes (renewals trickle in all day)', async () => {
    const dir = await stateDir();
    const { ca, store } = await restart(dir);
    const all = () => true;
    ca.certificateFor(ids[0]!);
    await saveIfDue(store, ca.inventory, all, 1_000);
    ca.certificateFor(ids[1]!);
    expect(saveIfDue(store, ca.inventory, all, 1_000 + LEAF_REWRITE_GAP_MS - 1)).toBeUndefined();
    expect((await restart(dir)).restored).toBe(1);
    await saveIfDue(store, ca.inventory, all, 1_000 + LEAF_REWRITE_GAP_MS);
    expect((await restart(dir)).restored).toBe(2);
  });

  it('writes only when the inventory changed', async () => {
    const dir = await stateDir();
    const { ca, store } = await restart(dir);
    ca.certificateFor(ids[0]!);
    await store.save(ca.inventory);
    const written = (await stat(store.file)).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await store.save(ca.inventory);
    expect((await stat(store.file)).mtimeMs).toBe(written);
    ca.certificateFor(ids[1]!);
    await store.save(ca.inventory);
    expect((await stat(store.file)).mtimeMs).toBeGreaterThan(written);
  });
});
