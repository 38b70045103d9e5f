/**
 * Issue 16 bug 7: after a save that renames over the file (vim, most
 * editors), later edits waited for the 5 s safety resync. Here the resync is
 * 60 s and nothing calls flush(): every edit must be seen through fs events
 * alone — in place, by rename, in nested and new folders, in a folder that
 * was replaced, beside a file written non-stop, and for a single watched file
 * that is a link swapped the way a Kubernetes ConfigMap volume swaps it. The
 * generous 10 s waits are functional, not timing checks: without the fix the
 * edit is never seen before the 60 s resync.
 */
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rootLogger } from '../../log.ts';
import { PathWatcher, type Stamp } from './path-watcher.ts';
import { FileWatcher } from './watch.ts';

const RESYNC_MS = 60_000;
const sa = (name: string) => `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${name}\n  namespace: demo\n`;
const quiet = rootLogger.child({ level: 'silent' });

let dir: string;
const closers: Array<() => Promise<void>> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-bug7-'));
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await rm(dir, { recursive: true, force: true });
});

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not seen without the resync: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How editors save: write a temporary file beside it, rename it over the old one. */
async function renameOver(file: string, text: string): Promise<void> {
  const tmp = join(dir, '.save.tmp');
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** Starts a FileWatcher on `dir` and returns the names it serves now. */
async function watchTree(debounceMs = 20): Promise<() => string[]> {
  let names: string[] = [];
  const watcher = new FileWatcher({ root: dir, debounceMs, pollIntervalMs: RESYNC_MS, logger: quiet, onChange: (s) => (names = s.objects.map((o) => o.metadata.name)) });
  closers.push(() => watcher.close());
  names = (await watcher.start()).objects.map((o) => o.metadata.name);
  return () => names;
}

describe('issue 16 bug 7: every edit is seen through fs events alone, after a save by rename too', () => {
  it('a folder: rename-over, then edits in place and by rename, at the root and in a nested folder', async () => {
    await mkdir(join(dir, 'team', 'deep'), { recursive: true });
    await writeFile(join(dir, 'a.yaml'), sa('a0'));
    await writeFile(join(dir, 'team', 'deep', 'b.yaml'), sa('b0'));
    const served = await watchTree();
    const steps: Array<[string, 'rename' | 'in place', string]> = [
      ['a.yaml', 'rename', 'a1'], ['a.yaml', 'in place', 'a2'], ['a.yaml', 'rename', 'a3'], ['a.yaml', 'in place', 'a4'],
      ['team/deep/b.yaml', 'rename', 'b1'], ['team/deep/b.yaml', 'in place', 'b2'], ['team/deep/b.yaml', 'rename', 'b3'],
    ];
    for (const [file, how, name] of steps) {
      if (how === 'rename') await renameOver(join(dir, file), sa(name));
      else await writeFile(join(dir, file), sa(name));
      await until(() => served().includes(name), `${how} ${file} -> ${name}`);
    }
  });

  it('a new folder, and a folder replaced by another (rm -r d; mv e d), keep being watched', async () => {
    const served = await watchTree();
    await mkdir(join(dir, 'new'));
    await writeFile(join(dir, 'new', 'c.yaml'), sa('c0'));
    await until(() => served().includes('c0'), 'a file in a new folder');
    await renameOver(join(dir, 'new', 'c.yaml'), sa('c1'));
    await until(() => served().includes('c1'), 'rename-over in the new folder');

    await mkdir(join(dir, 'staging'));
    await writeFile(join(dir, 'staging', 'c.yaml'), sa('c2'));
    await rm(join(dir, 'new'), { recursive: true });
    await rename(join(dir, 'staging'), join(dir, 'new'));
    await until(() => served().includes('c2'), 'the replaced folder');
    await writeFile(join(dir, 'new', 'c.yaml'), sa('c3'));
    await until(() => served().includes('c3'), 'an edit in the replaced folder');
    await renameOver(join(dir, 'new', 'c.yaml'), sa('c4'));
    await until(() => served().includes('c4'), 'rename-over in the replaced folder');
  });

  it('a file written non-stop beside the YAML does not hold edits back', async () => {
    await writeFile(join(dir, 'a.yaml'), sa('a0'));
    // The writes come every 10 ms, well inside the 200 ms of quiet a reload waits for.
    const served = await watchTree(200);
    let n = 0;
    const busy = setInterval(() => void writeFile(join(dir, 'trellis.log'), String(n++)).catch(() => undefined), 10);
    try {
      await renameOver(join(dir, 'a.yaml'), sa('a1'));
      await until(() => served().includes('a1'), 'rename-over beside a busy file');
      await writeFile(join(dir, 'a.yaml'), sa('a2'));
      await until(() => served().includes('a2'), 'in place beside a busy file');
    } finally {
      clearInterval(busy);
    }
  });

  it('one file: rename-over, in place, and a link swapped as a ConfigMap volume swaps `..data`', async () => {
    // kubelet's atomic writer: file -> ..data/file, ..data -> ..<timestamp>; an update writes a new
    // timestamped folder and renames a new `..data` link over the old one.
    await mkdir(join(dir, '..v0'));
    await writeFile(join(dir, '..v0', 'r.yaml'), 'v0');
    await symlink('..v0', join(dir, '..data'));
    await symlink('..data/r.yaml', join(dir, 'r.yaml'));
    let text = '';
    let known: Stamp | undefined;
    const file = join(dir, 'r.yaml');
    const watcher: PathWatcher = new PathWatcher({
      path: file, kind: 'file', debounceMs: 20, pollIntervalMs: RESYNC_MS, logger: quiet, failureMessage: 'reload failed',
      reload: async () => {
        const read = await watcher.read(file, known);
        if (read.state === 'read') [known, text] = [read.stamp, read.text];
      },
    });
    closers.push(() => watcher.close());
    await watcher.run();
    await watcher.start();
    expect(text).toBe('v0');

    await mkdir(join(dir, '..v1'));
    await writeFile(join(dir, '..v1', 'r.yaml'), 'v1');
    await symlink('..v1', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await until(() => text === 'v1', 'the ConfigMap swap');
    await writeFile(join(dir, '..v1', 'r.yaml'), 'v2');
    await until(() => text === 'v2', 'an edit of the link target in place');
    await rm(file);
    await renameOver(file, 'v3');
    await until(() => text === 'v3', 'rename-over of the link by a plain file');
    await writeFile(file, 'v4');
    await until(() => text === 'v4', 'in place');
    await renameOver(file, 'v5');
    await until(() => text === 'v5', 'rename-over again');
  });
});
