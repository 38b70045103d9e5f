import { mkdir, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileWatcher, type FileSourceSnapshot, type FileWatcherOptions } from './watch.ts';

const sa = (name: string, extra = '') => `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${name}\n  namespace: demo\n${extra}`;

let dir: string;
let watcher: FileWatcher | undefined;
let snapshots: FileSourceSnapshot[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-watch-'));
  snapshots = [];
});
afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(opts: Partial<FileWatcherOptions> = {}): Promise<FileSourceSnapshot> {
  watcher = new FileWatcher({ root: dir, debounceMs: 100, onChange: (s) => snapshots.push(s), ...opts });
  return watcher.start();
}

async function waitFor<T>(get: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for the watcher');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const names = (s: FileSourceSnapshot | undefined) => s?.objects.map((o) => o.metadata.name);
const last = () => snapshots.at(-1);

describe('FileWatcher', () => {
  it('loads a directory recursively on start', async () => {
    await mkdir(join(dir, 'nested', '.hidden'), { recursive: true });
    await writeFile(join(dir, 'a.yaml'), sa('a'));
    await writeFile(join(dir, 'nested', 'b.yml'), `${sa('b')}---\n${sa('c')}`);
    await writeFile(join(dir, 'nested', '.hidden', 'x.yaml'), sa('hidden'));
    await writeFile(join(dir, 'notes.txt'), 'not yaml');
    const first = await start();
    expect(names(first)).toEqual(['a', 'b', 'c']);
    expect(first.objects.every((o) => o.metadata.generation === 1)).toBe(true);
    expect(snapshots).toHaveLength(0);
  });

  it('debounces a burst of writes into one reload', async () => {
    await start();
    for (const n of ['a', 'b', 'c']) {
      await writeFile(join(dir, `${n}.yaml`), sa(n));
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor(() => names(last())?.length === 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(snapshots).toHaveLength(1);
    expect(names(last())).toEqual(['a', 'b', 'c']);
  });

  it('keeps the last good objects of a half-written file and reports where it broke', async () => {
    await writeFile(join(dir, 'a.yaml'), sa('a'));
    await start();
    await writeFile(join(dir, 'a.yaml'), 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: [a\n');
    const broken = await waitFor(() => (last()?.errors.length ? last() : undefined));
    expect(names(broken)).toEqual(['a']);
    expect(broken.errors[0]).toMatchObject({ file: join(dir, 'a.yaml'), line: 5 });
    expect(broken.changedFiles).toEqual([join(dir, 'a.yaml')]);

    await writeFile(join(dir, 'a.yaml'), sa('a2'));
    const fixed = await waitFor(() => (names(last())?.[0] === 'a2' ? last() : undefined));
    expect(fixed.errors).toEqual([]);
  });

  it('issue 14: an edit of a many-document file reports the line of the whole file and keeps the last good objects; the fix re-reads only its document', async () => {
    const file = join(dir, 'many.yaml');
    const docs = (b: string, c: string) => [sa('a'), b, c].join('---\n');
    await writeFile(file, docs(sa('b'), sa('c')));
    const first = await start();
    // b grows two lines, c breaks: c's error is at its line in the file (after the longer b).
    await writeFile(file, docs(sa('b', 'labels:\n  app: b\n'), 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: [c\n'));
    const broken = await waitFor(() => (last()?.errors.length ? last() : undefined));
    expect(broken.errors[0]).toMatchObject({ file, line: 19, document: 3 });
    expect(names(broken)).toEqual(['a', 'b', 'c']);
    await writeFile(file, docs(sa('b', 'labels:\n  app: b\n'), sa('c2')));
    const fixed = await waitFor(() => (names(last())?.[2] === 'c2' ? last() : undefined));
    expect(fixed.errors).toEqual([]);
    expect(fixed.objects.map((o) => [o.metadata.name, o.origin.source === 'file' && o.origin.line, o.metadata.generation])).toEqual([['a', 1, 1], ['b', 7, 2], ['c2', 15, 1]]);
    expect(fixed.objects[0], 'a, unchanged, neither parsed nor numbered again').toBe(first.objects[0]);
  });

  it('drops the objects of a deleted file', async () => {
    await writeFile(join(dir, 'a.yaml'), sa('a'));
    await writeFile(join(dir, 'b.yaml'), sa('b'));
    await start();
    await rm(join(dir, 'a.yaml'));
    const after = await waitFor(() => (names(last())?.length === 1 ? last() : undefined));
    expect(names(after)).toEqual(['b']);
    expect(after.changedFiles).toEqual([join(dir, 'a.yaml')]);
  });

  it('holds the objects of a file truncated mid-write until it settles', async () => {
    await writeFile(join(dir, 'a.yaml'), sa('a'));
    await start({ settleMs: 600 });
    await truncate(join(dir, 'a.yaml'), 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(snapshots).toHaveLength(0); // still serving "a"
    const emptied = await waitFor(() => (names(last())?.length === 0 ? last() : undefined));
    expect(emptied.errors).toEqual([]);
  });

  it('bumps generation only when an object changes', async () => {
    await writeFile(join(dir, 'a.yaml'), sa('a'));
    await writeFile(join(dir, 'b.yaml'), sa('b'));
    await start();
    await writeFile(join(dir, 'a.yaml'), sa('a', 'automountServiceAccountToken: false\n'));
    const changed = await waitFor(() => last());
    expect(changed.objects.map((o) => [o.metadata.name, o.metadata.generation])).toEqual([['a', 2], ['b', 1]]);
  });

  it('sees every save by rename (as editors save) and files in a new subdirectory, without the resync', async () => {
    await writeFile(join(dir, 'a.yaml'), sa('a0'));
    await start({ pollIntervalMs: 60_000 });
    for (const version of ['a1', 'a2', 'a3']) {
      await writeFile(join(dir, '.a.yaml.tmp'), sa(version));
      await rename(join(dir, '.a.yaml.tmp'), join(dir, 'a.yaml'));
      await waitFor(() => names(last())?.[0] === version);
    }
    // Seen by the reload the new directory causes; from then on the directory is watched too.
    await mkdir(join(dir, 'team'));
    await writeFile(join(dir, 'team', 'b.yaml'), sa('b'));
    await waitFor(() => names(last())?.length === 2);
    await writeFile(join(dir, 'team', '.b.yaml.tmp'), sa('b2'));
    await rename(join(dir, 'team', '.b.yaml.tmp'), join(dir, 'team', 'b.yaml'));
    await waitFor(() => names(last())?.[1] === 'b2');
  });

  it('polls when asked to, and survives a consumer that throws', async () => {
    let calls = 0;
    watcher = new FileWatcher({
      root: dir,
      mode: 'poll',
      pollIntervalMs: 50,
      onChange: (s) => {
        calls++;
        snapshots.push(s);
        if (calls === 1) throw new Error('consumer bug');
      },
    });
    await watcher.start();
    await writeFile(join(dir, 'a.yaml'), sa('a'));
    await waitFor(() => calls === 1);
    await writeFile(join(dir, 'b.yaml'), sa('b'));
    await waitFor(() => names(last())?.length === 2);
  });
  it('issue 16 bug 3: a vanished root keeps every object and says so; a root made anew is read again (its new watch: test/pipeline/last-good-restart.test.ts)', async () => {
    await mkdir(join(dir, 'mesh'));
    await writeFile(join(dir, 'mesh', 'a.yaml'), sa('a'));
    const root = join(dir, 'mesh');
    await start({ root, pollIntervalMs: 50, debounceMs: 20 });
    await rm(root, { recursive: true });
    const gone = await waitFor(() => last()?.rootMissing);
    expect(gone).toMatchObject({ root, message: expect.stringMatching(/ENOENT/) });
    expect(names(last())).toEqual(['a']);
    await mkdir(root);
    await writeFile(join(root, 'b.yaml'), sa('b'));
    await waitFor(() => !last()?.rootMissing && names(last())?.join() === 'b');
  });
});
