/**
 * Issue 16 bug 11: on a full disk the first start printed a stack trace
 * (`Error: ENOSPC ... at writeFileAtomic`) and left an empty
 * `ca/next.key.tmp-<pid>`. Now: one line that says what could not be
 * written, why, and what to do; exit 1; no temp file left; and once space is
 * freed the next start is a normal first start (not taken for a lost root).
 *
 * A real full disk: a 64 KiB tmpfs, filled, as the state dir. Mounting needs
 * root (CAP_SYS_ADMIN); without it the suite is skipped and says why.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO, serveUntilServing, trellis } from './support.ts';

/** Mounts a 64 KiB tmpfs; the reason when it cannot. */
function mountTinyTmpfs(): { dir: string } | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'needs root to mount a tmpfs' };
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (e) {
    rmdirSync(dir);
    return { skip: `mount -t tmpfs failed (${String((e as { stderr?: Buffer }).stderr ?? e).trim()})` };
  }
}

const mounted = mountTinyTmpfs();
const skip = 'skip' in mounted ? mounted.skip : undefined;
const stateDir = 'dir' in mounted ? mounted.dir : '';
const filler = path.join(stateDir, 'filler');

afterAll(() => {
  if (skip) return;
  execFileSync('umount', [stateDir]);
  rmSync(stateDir, { recursive: true, force: true });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' });
}

const serveArgs = ['serve', '--source', `file:${DEMO}`, '--state-dir', stateDir, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'];

describe.skipIf(skip !== undefined)(`issue 16 bug 11: a full disk on first start${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('exit 1 with one line naming the file, the cause and the fix; no stack trace, no temp file', async () => {
    // Fill the file system: the write that hits the limit fails with ENOSPC.
    expect(() => writeFileSync(filler, Buffer.alloc(128 * 1024))).toThrow(/ENOSPC/);
    const run = await trellis(serveArgs, 20_000);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^trellis serve: cannot write ${stateDir}/ca/next\\.key: no space left on device \\(ENOSPC\\)\\. To fix: free space on that file system .*--state-dir`, 'm'));
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(filesUnder(stateDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(existsSync(path.join(stateDir, 'ca', 'root.crt'))).toBe(false);
  });

  it('trellis bootstrap --out onto the full disk: one line naming the file and the cause; no partial bootstrap left', async () => {
    const out = path.join(stateDir, 'envoy.yaml');
    const otherState = mkdtempSync(path.join(tmpdir(), 'trellis-full-disk-state-'));
    try {
      const run = await trellis(['bootstrap', '--workload', 'demo/frontend', '--source', `file:${DEMO}`, '--state-dir', otherState, '--out', out], 20_000);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`^trellis bootstrap: cannot write --out ${out}: ENOSPC: no space left on device`));
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(otherState, { recursive: true, force: true });
    }
  });

  it('with space freed, the next start is a first start: it creates the root and serves', async () => {
    rmSync(filler);
    const run = await serveUntilServing(serveArgs);
    expect(run.serving, run.output).toBe(true);
    expect(existsSync(path.join(stateDir, 'ca', 'root.crt'))).toBe(true);
  });
});
