/**
 * Issue 16 bug 10: restarted with its ca/ directory gone, Trellis made a new
 * root without a word, /readyz said 200, and no Envoy bootstrapped before
 * could reconnect. Now `trellis serve` on a state dir that held a root
 * refuses (exit 1, what and how to fix, never listening) unless the operator
 * asks for a new root with --new-ca. The real binary, as an operator runs it.
 */
import { X509Certificate } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../src/ca/authority.ts';
import { WorkloadTokens } from '../../src/ca/token.ts';
import { trustAnchorPath } from '../../src/ca/trust-history.ts';
import { envoyBin } from '../support/venv.ts';
import { DEMO, quietLog, serveUntilServing, startSecure, tempDir, trellis, TRUST_DOMAIN } from './support.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A state dir as `trellis serve` and `trellis bootstrap` leave it (root, marker, token key), then its ca/ deleted. */
async function stateDirWithLostCa(opts: { legacy?: boolean } = {}): Promise<{ dir: string; oldRoot: string }> {
  const dir = tempDir('lost-ca');
  dirs.push(dir);
  const ca = await CertificateAuthority.open({ trustDomain: TRUST_DOMAIN, stateDir: dir, logger: quietLog() });
  await WorkloadTokens.open({ stateDir: dir, trustDomain: TRUST_DOMAIN });
  // A state dir written before the marker existed: only the token key tells.
  if (opts.legacy) rmSync(trustAnchorPath(dir));
  rmSync(path.join(dir, 'ca'), { recursive: true });
  return { dir, oldRoot: ca.activeRoot.fingerprint };
}

const serveArgs = (stateDir: string, ...extra: string[]) => ['serve', '--source', `file:${DEMO}`, '--state-dir', stateDir, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', ...extra];

describe('issue 16 bug 10: losing the CA directory never forks trust silently', () => {
  it.each<[string, { legacy?: boolean }, RegExp]>([
    ['the marker records the lost root', {}, /trust-anchor\.json records root [0-9A-F:]+ stored on/],
    ['a state dir from before the marker: the token key tells', { legacy: true }, /tokens\/signing\.key exists/],
  ])('%s: serve exits 1 saying what is lost and how to recover, and creates no root', async (_label, opts, evidence) => {
    const { dir, oldRoot } = await stateDirWithLostCa(opts);
    const run = await trellis(serveArgs(dir), 20_000);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^trellis serve: .*\/ca holds no root CA, but this state dir had one/m);
    expect(run.stderr).toMatch(evidence);
    if (!opts.legacy) expect(run.stderr).toContain(oldRoot);
    expect(run.stderr).toMatch(/To fix: restore .*\/ca from a backup .*trellis serve --new-ca/);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(run.stdout + run.stderr).not.toContain('trellis serving');
    expect(existsSync(path.join(dir, 'ca', 'root.crt'))).toBe(false);
  });

  it('trellis bootstrap on the same state dir refuses too (it would otherwise make the new root itself)', async () => {
    const { dir } = await stateDirWithLostCa();
    const run = await trellis(['bootstrap', '--workload', 'demo/frontend', '--source', `file:${DEMO}`, '--state-dir', dir], 20_000);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^trellis bootstrap: .*holds no root CA, but this state dir had one/m);
    expect(run.stdout).toBe('');
  });

  it('with --new-ca it starts on a new root, says so at warn, and records the new root', async () => {
    const { dir, oldRoot } = await stateDirWithLostCa();
    const run = await serveUntilServing(serveArgs(dir, '--new-ca'));
    expect(run.serving, run.output).toBe(true);
    expect(run.output).toMatch(/"level":40,.*created a NEW root CA in place of a lost one/);
    const newRoot = new X509Certificate(readFileSync(path.join(dir, 'ca', 'root.crt'))).fingerprint256;
    expect(newRoot).not.toBe(oldRoot);
    expect(readFileSync(trustAnchorPath(dir), 'utf8')).toContain(newRoot);
  });
});

describe('issue 16 bug 10: a state dir lost as a whole (nothing left to tell) is noticed on the wire', () => {
  it('a real Envoy bootstrapped from the lost root refuses the new one: counted, and a named condition for /readyz', async () => {
    const h = await startSecure({ plaintextXdsAddress: undefined }); // the Trellis restarted on an empty state dir
    const lost = tempDir('lost-whole');
    dirs.push(lost);
    const bootstrap = path.join(lost, 'envoy.yaml');
    const written = await trellis(['bootstrap', '--workload', 'demo/frontend', '--source', `file:${DEMO}`, '--state-dir', lost, '--xds-address', `127.0.0.1:${h.server.xdsPort}`,
      '--admin-address', '127.0.0.1:0', '--outbound-address', '127.0.0.1:0', '--out', bootstrap]);
    expect(written.code, written.stderr).toBe(0);
    const envoy = spawn(envoyBin(), ['-c', bootstrap, '--disable-hot-restart', '--log-level', 'error'], { stdio: 'ignore' });
    try {
      const count = async () => Number(/^trellis_tls_untrusted_root_total (\d+)/m.exec(await h.metrics())?.[1] ?? 0);
      const end = Date.now() + 20_000;
      while ((await count()) === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
      expect(await count()).toBeGreaterThan(0);
      const report = h.server.security!.untrustedRoot.report();
      expect(report?.rejections).toBeGreaterThan(0);
      expect(report?.message).toMatch(/trust a root this Trellis does not hold/);
      // Named in /readyz, which stays 200: any client can send that alert.
      const ready = await fetch(`http://127.0.0.1:${h.server.adminPort}/readyz`);
      const body = (await ready.json()) as { status: string; degraded: Array<{ condition: string }> };
      expect(ready.status).toBe(200);
      expect(body.degraded.map((d) => d.condition)).toContain('UntrustedRoot');
    } finally {
      envoy.kill('SIGKILL');
      await h.close();
    }
  });
});

describe('issue 16 bug 10: ca/ deleted while Trellis runs', () => {
  it('is reported at error at the next check (once), while it serves on from memory', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as { level: number; msg: string }) });
    const h = await startSecure({ plaintextXdsAddress: undefined, renewalCheckMs: 100, log });
    try {
      const lost = () => lines.filter((l) => l.level === 50 && l.msg.includes('the CA directory lost its root while Trellis runs'));
      rmSync(path.join(h.stateDir, 'ca'), { recursive: true });
      const end = Date.now() + 10_000;
      while (lost().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500)); // several more checks
      expect(lost()).toHaveLength(1);
      expect(h.server.security!.ca.trustBundlePem()).toBe(h.rootPem);
    } finally {
      await h.close();
    }
  });
});
