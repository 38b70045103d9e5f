/**
 * Issue 16 bug 12: `trellis bootstrap --workload … > envoy.yaml` wrote a
 * broken bootstrap: its first line was a JSON log line ("CA ready"), and
 * Envoy rejected the file. Every command whose stdout is data logs to stderr;
 * its stdout parses as what it claims to be. Logs at debug, so every log
 * line there is would show. The real binary, stdout redirected to a file as a
 * shell does; the real Envoy judges the bootstrap.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { envoyBin } from '../support/venv.ts';
import { DEMO, REPO, sidecar, startSecure, subscribeSds, tokenMetadata, TRELLIS, TRUST_BUNDLE_SECRET, WORKLOAD_CERTIFICATE_SECRET, type SecureHarness } from '../security/support.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-data-stdout-'));
const env = { ...process.env, TRELLIS_LOG_LEVEL: 'debug', TRELLIS_LOG_FORMAT: 'json' };

/** `trellis <args> > <file>`: stdout into a file, as a shell redirect does; stderr captured. */
function trellisTo(file: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const fd = openSync(file, 'w');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TRELLIS, ...args], { cwd: REPO, env, stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Runs a data command; its stdout as a string (exit 0 asserted). */
async function stdoutOf(name: string, args: string[]): Promise<string> {
  const file = path.join(tmp, `${name}.out`);
  const run = await trellisTo(file, args);
  expect(run.code, run.stderr).toBe(0);
  return readFileSync(file, 'utf8');
}

const noLogLines = (out: string) => expect(out.split('\n').filter((l) => l.startsWith('{"level"'))).toEqual([]);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('issue 16 bug 12: commands whose stdout is data log to stderr', () => {
  const stateDir = path.join(tmp, 'state');

  it('trellis bootstrap --workload … > envoy.yaml: Envoy validates the file; the CA logs went to stderr', async () => {
    const file = path.join(tmp, 'envoy.yaml');
    const run = await trellisTo(file, ['bootstrap', '--workload', 'demo/frontend', '--source', `file:${DEMO}`, '--state-dir', stateDir]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('"msg":"CA ready"');
    noLogLines(readFileSync(file, 'utf8'));
    const envoy = await promisify(execFile)(envoyBin(), ['--mode', 'validate', '-c', file, '--disable-hot-restart', '--log-level', 'error'], { timeout: 30_000 }).catch(
      (e: { stdout?: string; stderr?: string; message: string }) => ({ stdout: `${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    expect(envoy.stdout).toMatch(/configuration '.*envoy\.yaml' OK/);
  });

  it('trellis ca rotate: stdout is its one status line, the rotation logs on stderr', async () => {
    const out = await stdoutOf('ca-rotate', ['ca', 'rotate', '--state-dir', stateDir]);
    noLogLines(out);
    expect(out).toMatch(/^root rotation begun: new root [0-9A-F:]+;/);
  });

  it('trellis inject: stdout is the manifests, YAML', async () => {
    const app = path.join(tmp, 'app.yaml');
    writeFileSync(app, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {serviceAccountName: web, containers: [{name: web, image: web:1, ports: [{containerPort: 8080}]}]}\n');
    const out = await stdoutOf('inject', ['inject', '-f', app, '--ca-file', path.join(stateDir, 'ca', 'root.crt')]);
    const docs = parseAllDocuments(out);
    expect(docs.flatMap((d) => d.errors)).toEqual([]);
    expect(docs.map((d) => (d.toJS() as { kind?: string }).kind)).toContain('Deployment');
  });

  it('trellis validate: stdout holds only diagnostics (for the demo, the one warning of a checkout where the demo never ran: the ingress certificate `trellis demo` writes)', async () => {
    expect(await stdoutOf('validate', ['validate', DEMO])).toMatch(/^(?:\S+\/ingress\.yaml:\d+: Gateway demo\/ingress: \S+: warning: Secret "ingress-tls" does not exist in namespace "demo"\n)?$/);
  });

  describe('against a running server', () => {
    let h: SecureHarness;
    beforeAll(async () => {
      h = await startSecure({ plaintextXdsAddress: undefined });
      const s = h.tlsClient().sotw(tokenMetadata(h.token('frontend', 'demo/frontend')));
      await subscribeSds(s, sidecar('frontend'), [WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET]);
    });
    afterAll(async () => {
      await h?.close();
    });

    const json = (s: string): unknown => JSON.parse(s);
    const yaml = (s: string): unknown => parse(s);
    it.each([
      ['status --output json', () => ['status', '--admin', h.adminAddress, '--output', 'json'], json],
      ['config-dump --output json', () => ['config-dump', 'demo/frontend', '--admin', h.adminAddress, '--output', 'json'], json],
      ['config-dump (yaml)', () => ['config-dump', 'demo/frontend', '--admin', h.adminAddress], yaml],
      ['diff --output json', () => ['diff', DEMO, '--admin', h.adminAddress, '--output', 'json'], json],
      ['certs --json', () => ['certs', '--json', '--admin-address', h.adminAddress], json],
    ] as const)('trellis %s: stdout parses', async (name, args, parser) => {
      const out = await stdoutOf(name.replace(/\W+/g, '-'), args());
      noLogLines(out);
      expect(() => parser(out)).not.toThrow();
      expect(out.trim()).not.toBe('');
    });
  });
});
