/** Issue 16 bug 2: the file source's last good objects, persisted in the state dir. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseYamlFile } from '../sources/file/parse.ts';
import { LastGoodStore } from './last-good-store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const state = mkdtempSync(path.join(tmpdir(), 'trellis-last-good-'));
  dirs.push(state);
  const logs: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (logs.push(JSON.parse(chunk.toString())), cb()) });
  const log = pino({ level: 'info' }, sink);
  return { state, logs, store: () => new LastGoodStore(state, log) };
}

const yaml = (name: string, weight: number) => `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: ${name}, namespace: demo}
spec:
  service: web
  backends:
  - {service: web-v1, weight: ${weight}}
`;
const objects = (file: string, text: string) => parseYamlFile(file, text).objects;

describe('issue 16 bug 2: LastGoodStore', () => {
  it('round-trips each file’s objects, marked with where they were persisted; only changed files are written', async () => {
    const { state, store } = setup();
    const a = store();
    a.save(new Map([['/mesh/a.yaml', objects('/mesh/a.yaml', yaml('one', 90))], ['/mesh/b.yaml', objects('/mesh/b.yaml', `\n\n${yaml('two', 10)}`)]]));
    await a.idle();
    expect(readdirSync(path.join(state, 'last-good')).filter((n) => n.endsWith('.json'))).toHaveLength(2);

    const loaded = await store().load();
    expect([...loaded.keys()].sort()).toEqual(['/mesh/a.yaml', '/mesh/b.yaml']);
    const two = loaded.get('/mesh/b.yaml')![0]!;
    expect(two.metadata).toEqual({ name: 'two', namespace: 'demo', labels: {}, annotations: {} });
    expect((two.raw.spec as { backends: Array<{ weight: number }> }).backends[0]!.weight).toBe(10);
    expect(two.origin).toMatchObject({ source: 'file', file: '/mesh/b.yaml', line: 3, persistedAt: a.pathOf('/mesh/b.yaml') });

    // Unchanged b is not rewritten; a file no longer named is removed (a deletion stays a deletion).
    const bPath = a.pathOf('/mesh/b.yaml');
    const written = statSync(bPath).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    const b = store();
    await b.load();
    b.save(new Map([['/mesh/b.yaml', [...loaded.get('/mesh/b.yaml')!]]]));
    await b.idle();
    expect(readdirSync(path.join(state, 'last-good'))).toEqual([path.basename(bPath)]);
    expect(statSync(bPath).mtimeMs).toBe(written);
  });

  it('a copy that cannot be read is logged and skipped, not fatal', async () => {
    const { state, logs, store } = setup();
    const s = store();
    s.save(new Map([['/mesh/a.yaml', objects('/mesh/a.yaml', yaml('one', 90))]]));
    await s.idle();
    writeFileSync(s.pathOf('/mesh/a.yaml'), '{"format": 1, "file": "/mesh/a.yaml", "obj');
    writeFileSync(path.join(state, 'last-good', 'stray.json'), '{"format": 1, "file": "/mesh/stray.yaml", "objects": []}');
    expect((await store().load()).size).toBe(0);
    expect(logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual(['a persisted last good copy cannot be read; it is ignored (and replaced at the next publish)']);
  });

  it('a write that fails is reported once (failure set, error logged) and cleared by the next that succeeds', async () => {
    const { state, logs, store } = setup();
    writeFileSync(path.join(state, 'last-good'), 'a file where the directory should be');
    const s = store();
    s.save(new Map([['/mesh/a.yaml', objects('/mesh/a.yaml', yaml('one', 90))]]));
    await s.idle();
    s.save(new Map([['/mesh/a.yaml', objects('/mesh/a.yaml', yaml('one', 80))]]));
    await s.idle();
    expect(s.failure?.message).toMatch(/EEXIST|ENOTDIR/);
    expect(logs.filter((l) => l.level >= 50)).toHaveLength(1);
    rmSync(path.join(state, 'last-good'));
    s.save(new Map([['/mesh/a.yaml', objects('/mesh/a.yaml', yaml('one', 70))]]));
    await s.idle();
    expect(s.failure).toBeUndefined();
    expect(readFileSync(s.pathOf('/mesh/a.yaml'), 'utf8')).toContain('"weight":70');
  });
});
