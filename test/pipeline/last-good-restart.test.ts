/**
 * Issue 16 bug 2: restarted with a broken file, Trellis served a mesh without
 * that file's objects (the frontend lost its recommendation clusters: an
 * outage in strict mode) and /readyz said 200. And bug 3: a vanished source
 * folder counted as "every file deleted", silently.
 *
 * A real `trellis serve` with a state dir on a copy of the demo mesh with its
 * SMI intents (examples/smi: the split is the model's `splits`; strict
 * authorization: the frontend reaches recommendation only through the
 * TrafficTarget in intents.yaml), restarted on the same state dir; sidecars
 * on raw ADS streams. The same cases against real Envoys with traffic are in
 * test/e2e/demo-mesh.test.ts.
 */
import { chmodSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyView } from '../support/mesh-harness.ts';
import { sidecar, startSecure, tempDir, type SecureHarness } from '../security/support.ts';
import { SMI_INTENTS, smiDemoCopy } from '../support/demo-smi.ts';

interface Readyz {
  status: number;
  body: { status: string; reason?: string; degraded: Array<{ condition: string; message: string; file?: string }> };
}

const running: SecureHarness[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fixture(): { mesh: string; state: string; logs: string[] } {
  const mesh = smiDemoCopy();
  const state = tempDir('state');
  dirs.push(mesh, state);
  return { mesh, state, logs: [] };
}

async function serve(f: { mesh: string; state: string; logs: string[] }): Promise<SecureHarness> {
  const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (f.logs.push(chunk.toString()), cb()) });
  const h = await startSecure({ sourceDir: f.mesh, stateDir: f.state, reloadDebounceMs: 20, log: pino({ level: 'info' }, sink) });
  running.push(h);
  return h;
}

async function stop(h: SecureHarness): Promise<void> {
  running.splice(running.indexOf(h), 1);
  await h.close();
}

async function readyz(h: SecureHarness): Promise<Readyz> {
  const res = await fetch(`http://${h.adminAddress}/readyz`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Readyz['body'] };
}

async function frontend(h: SecureHarness): Promise<ProxyView> {
  const p = new ProxyView(h.plaintextClient().sotw(), sidecar('frontend'), 'envoy');
  await p.start();
  return p;
}

const recommendationClusters = (p: ProxyView) => p.names('cds').filter((n) => n.startsWith('recommendation'));
const errorLogs = (logs: string[]) => logs.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 50).map((l) => l.msg);

/** Runs once on the good folder (which persists its last good config), then breaks it as `breakIt` says and restarts. */
async function restartBroken(breakIt: (mesh: string) => void) {
  const f = fixture();
  const first = await serve(f);
  const before = recommendationClusters(await frontend(first));
  expect(before.length).toBeGreaterThan(0);
  await stop(first);
  breakIt(f.mesh);
  const h = await serve(f);
  return { f, h, before, proxy: await frontend(h) };
}

describe('issue 16 bug 2: a restart with a broken file keeps the last good config (persisted in the state dir)', () => {
  const cases: Array<[string, (mesh: string) => void, RegExp]> = [
    ['intents.yaml mis-indented', (m) => edit(path.join(m, 'intents.yaml'), '  service: recommendation\n  backends', '  service: recommendation\n backends'), /intents\.yaml:36: .*same column/],
    [
      // As root, mode 000 does not stop a read: a link to /proc/self/mem is a file no one can read (EIO).
      'intents.yaml unreadable',
      (m) => {
        const file = path.join(m, 'intents.yaml');
        if (process.getuid?.() === 0) {
          unlinkSync(file);
          symlinkSync('/proc/self/mem', file);
        } else chmodSync(file, 0o000);
      },
      /cannot read file/,
    ],
    ['mesh.yaml half-written', (m) => edit(path.join(m, 'mesh.yaml'), /mode: Strict[\s\S]*$/, 'mode: "Str'), /mesh\.yaml:15: .*quote/],
  ];
  for (const [name, breakIt, message] of cases) {
    it(`${name}: the file's persisted objects are served, /readyz 200 names it`, async () => {
      const { h, before, proxy } = await restartBroken(breakIt);
      expect(recommendationClusters(proxy)).toEqual(before);
      expect(h.server.mesh!.model!.mesh).toMatchObject({ trustDomain: 'trellis.local', authorization: 'strict' });
      const r = await readyz(h);
      expect(r.status).toBe(200);
      expect(r.body.status).toBe('degraded');
      const unusable = r.body.degraded.filter((d) => d.condition === 'FileUnusable');
      expect(unusable).toHaveLength(1);
      expect(unusable[0]!.message).toMatch(message);
      expect(unusable[0]!.message).toMatch(/served from the last good version persisted at .*last-good/);
      // The restored objects say so in their status too.
      const restored = h.server.mesh!.statuses.filter((s) => s.servedFromPersisted);
      expect(restored.length).toBeGreaterThan(0);
      for (const s of restored) expect(s.conditions.find((c) => c.type === 'Accepted')).toMatchObject({ status: 'True', message: expect.stringMatching(/served from the last good version persisted at .*\(its file cannot be used\)$/) });
    });
  }

  it('a negative weight: the TrafficSplit is rejected and its persisted version is served, the status says so', async () => {
    const { h, before, proxy } = await restartBroken((m) => writeFileSync(path.join(m, 'intents.yaml'), readFileSync(path.join(m, 'intents.yaml'), 'utf8').replace('weight: 10\n', 'weight: -10\n')));
    expect(recommendationClusters(proxy)).toEqual(before);
    const split = h.server.mesh!.statuses.find((s) => s.kind === 'TrafficSplit' && s.name === 'recommendation')!;
    expect(split.problems.map((p) => [p.field, p.reason])).toEqual([['spec.backends[1].weight', 'OutOfRange']]);
    expect(split.servedFromPersisted).toMatch(/last-good\/[0-9a-f]+\.json$/);
    expect(split.conditions.find((c) => c.type === 'Accepted')!.message).toMatch(/served from the last good version persisted at /);
    const route = h.server.mesh!.model!.splits.get('demo/recommendation')!;
    expect(route.backends.map((b) => b.weight)).toEqual([90, 10]);
    const r = await readyz(h);
    expect(r.body.degraded.map((d) => d.condition)).toEqual(['ServedFromLastGood']);
  });

  it('a deleted file is still a deletion: its objects are not restored', async () => {
    const { h, proxy } = await restartBroken((m) => unlinkSync(path.join(m, 'intents.yaml')));
    expect(recommendationClusters(proxy)).toEqual([]);
    expect(h.server.mesh!.statuses.filter((s) => s.kind === 'TrafficSplit')).toEqual([]);
    expect((await readyz(h)).body).toEqual({ status: 'ready', degraded: [] });
  });

  it('a file deleted while running and written back broken is not brought back from its copy', async () => {
    const f = fixture();
    await stop(await serve(f));
    const h = await serve(f); // started with a copy of intents.yaml
    unlinkSync(path.join(f.mesh, 'intents.yaml'));
    await h.server.mesh!.flush();
    writeFileSync(path.join(f.mesh, 'intents.yaml'), 'kind: [\n');
    await h.server.mesh!.flush();
    expect(h.server.mesh!.model!.splits.size).toBe(0);
    expect((await readyz(h)).body.degraded.map((d) => d.message)).toEqual([expect.stringMatching(/intents\.yaml:\d+: .*the file has no last good objects: none of its objects is served$/)]);
  });

  it('a broken file fixed after the restart is served as written; the copy follows it', async () => {
    const { f, h } = await restartBroken((m) => writeFileSync(path.join(m, 'intents.yaml'), 'kind: [\n'));
    writeFileSync(path.join(f.mesh, 'intents.yaml'), readFileSync(SMI_INTENTS, 'utf8').replace('weight: 90', 'weight: 80').replace('weight: 10', 'weight: 20'));
    await h.server.mesh!.flush();
    expect(h.server.mesh!.model!.splits.get('demo/recommendation')!.backends.map((b) => b.weight)).toEqual([80, 20]);
    expect((await readyz(h)).body.degraded).toEqual([]);
    // Restarted broken again: the copy is now the 80/20 version.
    await stop(h);
    writeFileSync(path.join(f.mesh, 'intents.yaml'), 'kind: [\n');
    const again = await serve(f);
    expect(again.server.mesh!.model!.splits.get('demo/recommendation')!.backends.map((b) => b.weight)).toEqual([80, 20]);
  });
});

describe('issue 16 bug 3: a vanished source folder keeps the last config, says so, and resumes', () => {
  it('gone while running: nothing withdrawn, an error logged, /readyz degraded; back: edits apply again', async () => {
    const f = fixture();
    const h = await serve(f);
    const proxy = await frontend(h);
    const clusters = proxy.names('cds');
    const generation = h.server.mesh!.generation;
    renameSync(f.mesh, `${f.mesh}.away`);
    await h.server.mesh!.flush();
    expect(await proxy.silentFor(300)).toBe(true);
    expect(proxy.names('cds')).toEqual(clusters);
    expect(h.server.mesh!.generation).toBe(generation + 1); // the same objects, published with the condition
    expect(errorLogs(f.logs)).toEqual([expect.stringMatching(/^the source folder .* cannot be read \(ENOENT: .*\): every file keeps its last objects and the last config stays served until it is back$/)]);
    const r = await readyz(h);
    expect(r.status).toBe(200);
    expect(r.body.degraded.map((d) => d.condition)).toEqual(['SourceRootMissing']);
    expect(r.body.degraded[0]!.message).toMatch(/ENOENT/);
    const metrics = await h.metrics();
    expect(metrics).toMatch(/^trellis_degraded\{condition="SourceRootMissing"\} 1$/m);
    expect(metrics).toMatch(/^trellis_degraded\{condition="FileUnusable"\} 0$/m);
    expect(metrics).toMatch(/^trellis_ready 1$/m);

    // Back as a new directory (a new inode: the old watch is dead), then edited.
    renameSync(`${f.mesh}.away`, `${f.mesh}.old`);
    dirs.push(`${f.mesh}.old`);
    demoCopyInto(f.mesh);
    await h.server.mesh!.flush();
    expect((await readyz(h)).body.degraded).toEqual([]);
    writeFileSync(path.join(f.mesh, 'intents.yaml'), readFileSync(path.join(f.mesh, 'intents.yaml'), 'utf8').replace('weight: 90', 'weight: 70').replace('weight: 10', 'weight: 30'));
    // No flush: the watch on the new directory must see it.
    await until(() => h.server.mesh!.model!.splits.get('demo/recommendation')!.backends[0]!.weight === 70, 3000);
  });

  it('gone at start: the persisted last good config is served, /readyz degraded; without one, 503', async () => {
    const f = fixture();
    await stop(await serve(f));
    renameSync(f.mesh, `${f.mesh}.away`);
    dirs.push(`${f.mesh}.away`);
    const h = await serve(f);
    expect(recommendationClusters(await frontend(h)).length).toBeGreaterThan(0);
    const r = await readyz(h);
    expect([r.status, r.body.degraded.map((d) => d.condition)]).toEqual([200, ['SourceRootMissing']]);
    await stop(h);

    const empty = fixture();
    rmSync(empty.mesh, { recursive: true });
    const cold = await serve(empty);
    const notReady = await readyz(cold);
    expect(notReady.status).toBe(503);
    expect(notReady.body.reason).toMatch(/cannot be read .* no last good config of it is persisted/);
    expect(await cold.metrics()).toMatch(/^trellis_ready 0$/m);
  });
});

function edit(file: string, from: string | RegExp, to: string): void {
  const text = readFileSync(file, 'utf8');
  const next = text.replace(from, to);
  if (next === text) throw new Error(`fixture: ${from} not found in ${file}`);
  writeFileSync(file, next);
}

function demoCopyInto(dir: string): void {
  const copy = smiDemoCopy();
  renameSync(copy, dir);
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
