/**
 * Issue 16 bug 6: without the RE2 checker (the native addon setup.sh builds)
 * Trellis cannot know which regexes Envoy accepts, and it says so instead of
 * guessing with JavaScript's RegExp: `validate` and `serve` exit 1 naming the
 * addon and how to build it, with no stack trace. The real binary.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'trellis.js');
const dir = mkdtempSync(join(tmpdir(), 'trellis-re2-missing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'routes.yaml'), 'apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: r, namespace: demo}\nspec:\n  matches: [{name: api, pathRegex: "/api/.*"}]\n');

function trellis(args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, TRELLIS_RE2_CHECK: join(dir, 'no-such', 're2-check.node') };
    execFile(process.execPath, [BIN, ...args], { cwd: dir, env, timeout: 20_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : (err.signal ?? 'failed')) : 0, stdout, stderr });
    });
  });
}

describe('issue 16 bug 6: no RE2 checker is an operator error, never a silent fallback', () => {
  it.each([
    ['validate', ['validate', dir]],
    ['serve', ['serve', '--source', `file:${dir}`, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0']],
  ])('%s exits 1 naming the addon and the fix', async (_name, args) => {
    const r = await trellis(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('RE2 checker');
    expect(r.stderr).toContain('no-such/re2-check.node');
    expect(r.stderr).toContain('libre2-dev');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
