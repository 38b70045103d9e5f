// The state dir after a crash at each step of a root change: load() must end
// in a state where every root that signed a live leaf is still trusted.
import { readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaError } from './errors.ts';
import { generateRoot } from './root.ts';
import { FileCaStore } from './store.ts';
import { tempDir } from './testkit.ts';

let dir: { path: string; cleanup: () => Promise<void> };
let n = 0;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(() => dir.cleanup());

const OLD = generateRoot({ trustDomain: 'td', now: Date.now() });
const NEW = generateRoot({ trustDomain: 'td', now: Date.now() });

async function storeWithOldRoot(): Promise<FileCaStore> {
  const store = new FileCaStore(join(dir.path, `s${++n}`));
  await store.initialize(OLD);
  return store;
}

interface CrashCase {
  name: string;
  /** Files as a crash left them, written on top of a store holding OLD. */
  crash: (caDir: string) => Promise<void>;
  expect: { active: 'old' | 'new'; retiring: 'old' | undefined };
}

const cases: CrashCase[] = [
  {
    name: 'crash while staging the key: rotation undone',
    crash: async (d) => writeFile(join(d, 'next.key'), NEW.keyPem, { mode: 0o600 }),
    expect: { active: 'old', retiring: undefined },
  },
  {
    name: 'crash after staging, before retiring.crt: rotation completed, old root kept',
    crash: async (d) => {
      await writeFile(join(d, 'next.key'), NEW.keyPem, { mode: 0o600 });
      await writeFile(join(d, 'next.crt'), NEW.certificatePem);
    },
    expect: { active: 'new', retiring: 'old' },
  },
  {
    name: 'crash after rotation.json and retiring.key, before retiring.crt: rotation completed, old root and key kept',
    crash: async (d) => {
      await writeFile(join(d, 'next.key'), NEW.keyPem, { mode: 0o600 });
      await writeFile(join(d, 'next.crt'), NEW.certificatePem);
      await writeFile(join(d, 'rotation.json'), '{"startedAt":"2026-01-01T00:00:00.000Z"}');
      await writeFile(join(d, 'retiring.key'), OLD.keyPem, { mode: 0o600 });
    },
    expect: { active: 'new', retiring: 'old' },
  },
  {
    name: 'crash between the two commit renames: rotation completed',
    crash: async (d) => {
      await writeFile(join(d, 'next.crt'), NEW.certificatePem);
      await writeFile(join(d, 'rotation.json'), '{"startedAt":"2026-01-01T00:00:00.000Z"}');
      await writeFile(join(d, 'retiring.key'), OLD.keyPem, { mode: 0o600 });
      await writeFile(join(d, 'retiring.crt'), OLD.certificatePem);
      await writeFile(join(d, 'next.key'), NEW.keyPem, { mode: 0o600 });
      await rename(join(d, 'next.key'), join(d, 'root.key'));
    },
    expect: { active: 'new', retiring: 'old' },
  },
  {
    name: 'leftover temp file from an interrupted write: ignored and removed',
    crash: async (d) => writeFile(join(d, 'root.crt.tmp-123'), 'partial'),
    expect: { active: 'old', retiring: undefined },
  },
  {
    name: 'crash while finishing, after retiring.crt was deleted: the leftover key and start are removed',
    crash: async (d) => {
      await writeFile(join(d, 'retiring.key'), NEW.keyPem, { mode: 0o600 });
      await writeFile(join(d, 'rotation.json'), '{"startedAt":"2026-01-01T00:00:00.000Z"}');
    },
    expect: { active: 'old', retiring: undefined },
  },
];

describe('FileCaStore recovers from a crash at any step', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const store = await storeWithOldRoot();
      await c.crash(store.dir);
      const loaded = await store.load();
      const pem = (which: 'old' | 'new'): string => (which === 'old' ? OLD : NEW).certificatePem;
      expect(loaded?.active.certificatePem).toBe(pem(c.expect.active));
      expect(loaded?.active.keyPem).toBe((c.expect.active === 'old' ? OLD : NEW).keyPem);
      expect(loaded?.retiringPem).toBe(c.expect.retiring && pem(c.expect.retiring));
      // The retiring root's key comes with it (the xDS serving certificate needs it), and a start time.
      expect(loaded?.retiringKeyPem).toBe(c.expect.retiring && OLD.keyPem);
      expect(loaded?.rotationStartedAt === undefined).toBe(c.expect.retiring === undefined);
      const files = await readdir(store.dir);
      expect(files.filter((f) => f.startsWith('next') || f.includes('.tmp-'))).toEqual([]);
      if (!c.expect.retiring) expect(files.filter((f) => f.startsWith('retiring') || f === 'rotation.json')).toEqual([]);
    });
  }

  it('a completed rotation and its finish', async () => {
    const store = await storeWithOldRoot();
    const startedAt = Date.parse('2026-03-01T12:00:00Z');
    await store.beginRotation(NEW, startedAt);
    expect(await readFile(join(store.dir, 'retiring.crt'), 'utf8')).toBe(OLD.certificatePem);
    expect((await stat(join(store.dir, 'retiring.key'))).mode & 0o777).toBe(0o600);
    const during = await new FileCaStore(join(store.dir, '..')).load(); // a restart mid-rotation
    expect(during).toMatchObject({ retiringPem: OLD.certificatePem, retiringKeyPem: OLD.keyPem, rotationStartedAt: startedAt });
    await expect(store.beginRotation(OLD, startedAt)).rejects.toMatchObject({ code: 'rotation-state' });
    await store.finishRotation();
    const loaded = await store.load();
    expect(loaded?.active.certificatePem).toBe(NEW.certificatePem);
    expect(loaded?.retiringPem).toBeUndefined();
    expect(loaded?.retiringKeyPem).toBeUndefined();
    expect(loaded?.rotationStartedAt).toBeUndefined();
    expect((await readdir(store.dir)).sort()).toEqual(['root.crt', 'root.key']);
    await expect(store.finishRotation()).rejects.toBeInstanceOf(CaError);
  });

  it('a rotation begun before the start was recorded: the start is when retiring.crt was written', async () => {
    const store = await storeWithOldRoot();
    await store.beginRotation(NEW, Date.now());
    await rename(join(store.dir, 'rotation.json'), join(store.dir, '..', 'aside.json'));
    const loaded = await store.load();
    expect(loaded?.rotationStartedAt).toBe((await stat(join(store.dir, 'retiring.crt'))).mtimeMs);
  });

  it('a malformed rotation.json is a corrupt state dir, with the fix', async () => {
    const store = await storeWithOldRoot();
    await store.beginRotation(NEW, Date.now());
    await writeFile(join(store.dir, 'rotation.json'), '{"startedAt": "yesterday"}');
    await expect(store.load()).rejects.toMatchObject({ code: 'corrupt-state', fix: expect.stringContaining('startedAt') });
  });

  it('an empty state dir has no roots', async () => {
    expect(await new FileCaStore(join(dir.path, 'empty')).load()).toBeUndefined();
  });
});
