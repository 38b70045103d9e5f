/**
 * Logs for people and for machines (src/log.ts): a rejected intent reads
 * `file:line: Kind ns/name: field: message` on a terminal and in the demo,
 * other entries one `LEVEL component: message (k=v)` line; `serve` with its
 * stdout piped keeps JSON lines.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanLine, logDiagnostic, logFormatFor } from '../../src/log.ts';
import { formatProblem, type Problem } from '../../src/model/index.ts';
import { repoRoot } from '../support/venv.ts';

/** A pino logger like the root one (same base), whose entries come out as human lines. */
function humanLogger(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: pino({ base: { app: 'trellis' } }, { write: (l: string) => lines.push(humanLine(l)) }), lines };
}

describe('the human log format', () => {
  it('a rejected intent is its `file:line: Kind ns/name: field: message` line, nothing else', () => {
    const p: Problem = { severity: 'error', reason: 'InvalidType', file: 'mesh/intents.yaml', line: 38, kind: 'TrafficSplit', namespace: 'demo', name: 'recommendation', field: 'spec.backends[1].weight', message: 'expected a whole number' };
    const { log, lines } = humanLogger();
    logDiagnostic(log.child({ component: 'pipeline' }), formatProblem(p), { file: p.file, line: p.line, reason: p.reason });
    expect(lines).toEqual(['mesh/intents.yaml:38: TrafficSplit demo/recommendation: spec.backends[1].weight: expected a whole number\n']);
  });

  it('a warning is one line: level, component, message, then its fields (no JSON braces)', () => {
    const { log, lines } = humanLogger();
    log.child({ component: 'file-source' }).warn({ file: '/m/a.yaml', err: new Error('EMFILE\ntoo many'), retry: { inMs: 50 } }, 'fs.watch failed; falling back to polling');
    expect(lines).toEqual(['WARN file-source: fs.watch failed; falling back to polling (file=/m/a.yaml, err=EMFILE too many, retry.inMs=50)\n']);
    expect(lines[0]).not.toMatch(/[{}]/);
  });

  it('the format: TRELLIS_LOG_FORMAT wins; else the demo is human, serve is human on a terminal and JSON otherwise', () => {
    expect(logFormatFor('demo', {}, false)).toBe('human');
    expect(logFormatFor('serve', {}, true)).toBe('human');
    expect(logFormatFor('serve', {}, false)).toBe('json');
    expect(logFormatFor('serve', { TRELLIS_LOG_FORMAT: 'human' }, false)).toBe('human');
    expect(logFormatFor('demo', { TRELLIS_LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(logFormatFor('serve', { TRELLIS_LOG_FORMAT: 'xml' }, false)).toBe('json');
  });
});

describe('trellis serve logs a bad intent and a broken file', () => {
  let tmp: string;
  let mesh: string;
  let intentLine: number;

  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'trellis-logfmt-'));
    mesh = path.join(tmp, 'mesh');
    cpSync(path.join(repoRoot, 'examples/demo'), mesh, { recursive: true });
    const intents = path.join(mesh, 'intents.yaml');
    const text = readFileSync(intents, 'utf8').replace('weight: 10', 'weight: ten');
    writeFileSync(intents, text);
    intentLine = text.split('\n').findIndex((l) => l.includes('weight: ten')) + 1;
    writeFileSync(path.join(mesh, 'broken.yaml'), 'kind: [\n');
  });

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** Run serve until `done(stdout)` holds (at most 30 s), then stop it. */
  function serveUntil(env: Record<string, string>, done: (stdout: string) => boolean): Promise<{ stdout: string; code: number | null }> {
    const { TRELLIS_LOG_FORMAT: _ignored, ...clean } = process.env;
    const child = spawn(process.execPath, ['bin/trellis.js', 'serve', '--source', `file:${mesh}`, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--state-dir', path.join(tmp, 'state')], {
      cwd: repoRoot,
      env: { ...clean, TRELLIS_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    return new Promise((resolve) => {
      const stop = () => child.kill('SIGTERM');
      const timer = setTimeout(stop, 30_000);
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
        if (done(stdout)) stop();
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ stdout, code });
      });
    });
  }

  const intentPrefix = () => `${mesh}/intents.yaml:${intentLine}: HTTPRoute demo/recommendation: spec.rules[1].backendRefs[1].weight: `;

  it('TRELLIS_LOG_FORMAT=human: each is its `file:line: …` line', async () => {
    const { stdout } = await serveUntil({ TRELLIS_LOG_FORMAT: 'human' }, (out) => out.includes(intentPrefix()));
    const lines = stdout.split('\n');
    expect(lines.filter((l) => l.startsWith(intentPrefix()))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith(`${mesh}/broken.yaml:`)).map((l) => l.slice(mesh.length).replace(/: YAML syntax: .*/, ''))).toEqual(['/broken.yaml:2: document 1: -']);
    expect(stdout).not.toContain('{"level"');
  }, 40_000);

  it('stdout piped, no override: JSON lines, the same text in msg and where in `diagnostic`', async () => {
    const { stdout } = await serveUntil({}, (out) => out.includes('HTTPRoute demo/recommendation'));
    const entries = stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { level: number; msg: string; diagnostic?: { file: string; line: number; reason?: string } });
    const intent = entries.find((e) => e.msg.startsWith(intentPrefix()));
    expect(intent).toMatchObject({ level: 50, diagnostic: { file: `${mesh}/intents.yaml`, line: intentLine, reason: 'InvalidType' } });
  }, 40_000);
});
