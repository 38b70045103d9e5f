/**
 * Issue 12, progressive delivery end to end: a Rollout shifts the frontend's
 * calls to recommendation from v1 to v2 with real Envoy sidecars and the demo
 * application, on 127.0.140.x (this suite's range).
 *
 * - A canary that fails half its requests is rolled back automatically
 *   (canary weight 0 on the frontend's Envoy) from a TrafficSplit, its metrics read directly from
 *   the sidecars (no Prometheus).
 * - A healthy canary is promoted to 100 %, the Rollout driving an HTTPRoute
 *   rule (GAMMA) this time, its metrics read through a real Prometheus
 *   (scripts/setup-prometheus.sh); Trellis is restarted mid-rollout
 *   and serves the very route it served before (the progress is persisted
 *   beside the last good config).
 *
 * One Trellis and three sidecars per case; windows of seconds; every request
 * count bounded.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDemo, type RunningDemo } from '../../src/runtime/demo.ts';
import { findPrometheus } from '../../src/runtime/prometheus.ts';
import type { RolloutView } from '../../src/admin/rollouts.ts';
import { trellis } from '../security/support.ts';
import { closeRolloutAgent, drive, rolloutMeshFiles, rolloutYaml, setFailRatio, type RolloutNet } from '../support/rollout-mesh.ts';

const NET = '127.0.140';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Case {
  dir: string;
  meshDir: string;
  demo: RunningDemo;
  net: RolloutNet;
  admin: string;
}

let current: Case | undefined;

async function startCase(name: string, hosts: { trellis: string; frontend: string; v1: string; v2: string }, port: number, prometheus: boolean, routing: 'TrafficSplit' | 'HTTPRoute' = 'TrafficSplit'): Promise<Case> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `trellis-rollout-${name}-`));
  const meshDir = path.join(dir, 'mesh');
  mkdirSync(meshDir);
  const net = { frontend: hosts.frontend, v1: hosts.v1, v2: hosts.v2 };
  for (const [f, text] of Object.entries(rolloutMeshFiles(net, routing))) writeFileSync(path.join(meshDir, f), text);
  const admin = `${hosts.trellis}:${port + 1}`;
  const demo = await startDemo({
    meshDir,
    stateDir: path.join(dir, 'state'),
    xdsAddress: `${hosts.trellis}:${port}`,
    adminAddress: admin,
    logDir: path.join(dir, 'logs'),
    readyTimeoutMs: 60_000,
    ...(prometheus ? { prometheus: { listen: `${hosts.trellis}:${port + 2}`, scrapeIntervalS: 1 } } : {}),
  });
  current = { dir, meshDir, demo, net, admin };
  return current;
}

async function rollout(c: Case): Promise<RolloutView | undefined> {
  const body = (await (await fetch(`http://${c.admin}/api/v1/rollouts`)).json()) as { rollouts: RolloutView[] };
  return body.rollouts.find((r) => r.name === 'recommendation');
}

/** Send traffic in small batches until `done` says so; at most `maxRequests`, at most `maxMs`. */
async function driveUntil(c: Case, done: (r: RolloutView | undefined) => boolean, o: { maxRequests: number; maxMs: number }): Promise<{ sent: number; r: RolloutView | undefined }> {
  const deadline = Date.now() + o.maxMs;
  let sent = 0;
  let r = await rollout(c);
  while (!done(r) && sent < o.maxRequests && Date.now() < deadline) {
    await drive(c.net.frontend, 10);
    sent += 10;
    await sleep(100);
    r = await rollout(c);
  }
  return { sent, r };
}

/** The route configuration the frontend's Envoy holds: its version and the weights its route to recommendation carries. */
async function frontendRoute(c: Case): Promise<{ version: string; weights: Record<string, number> }> {
  type Action = { cluster?: string; weighted_clusters?: { clusters: Array<{ name: string; weight: number | { value: number } }> } };
  type Rc = { virtual_hosts: Array<{ name: string; routes: Array<{ name: string; route?: Action }> }> };
  const view = (await (await fetch(`http://${c.admin}/api/v1/proxies/${encodeURIComponent('demo/frontend')}/config`)).json()) as {
    types: Record<string, Array<{ name: string; version: string; resource: Rc }>>;
  };
  const rds = view.types.rds!.find((r) => r.resource.virtual_hosts.some((v) => v.name === 'recommendation.demo:8080'))!;
  // The catch-all route: `default` under a TrafficSplit, the rule's own under an HTTPRoute (the last one).
  const action = rds.resource.virtual_hosts.find((v) => v.name === 'recommendation.demo:8080')!.routes.at(-1)!.route!;
  // One backend with weight is a plain cluster route; a backend of weight 0 is left out.
  const weights: Record<string, number> = { v1: 0, v2: 0 };
  const clusters = action.weighted_clusters?.clusters ?? [{ name: action.cluster!, weight: 100 }];
  for (const cl of clusters) weights[/recommendation-(v\d)\./.exec(cl.name)![1]!] = typeof cl.weight === 'number' ? cl.weight : cl.weight.value;
  return { version: rds.version, weights };
}

afterEach(async () => {
  await current?.demo.stop();
  if (current) rmSync(current.dir, { recursive: true, force: true });
  current = undefined;
}, 60_000);

afterAll(() => closeRolloutAgent());

describe('issue 12: progressive delivery with real sidecars', () => {
  it('a canary that fails half its requests is rolled back automatically to weight 0 (metrics read from the sidecars)', async () => {
    const c = await startCase('back', { trellis: `${NET}.1`, frontend: `${NET}.2`, v1: `${NET}.3`, v2: `${NET}.4` }, 18740, false);
    await setFailRatio(c.net.v2, 0.5);
    writeFileSync(path.join(c.meshDir, 'rollout.yaml'), rolloutYaml({
      steps: '[{weight: 50, pause: 30s}, {weight: 100, pause: 30s}]',
      analysis: '{window: 5s, interval: 500ms, minRequests: 10, successRate: 95}',
    }));
    const { sent, r } = await driveUntil(c, (x) => x?.phase === 'RolledBack', { maxRequests: 1500, maxMs: 60_000 });
    console.log(`[e2e] rollout: rolled back after ${sent} requests: ${r?.history.map((h) => `${h.event} ${h.canaryWeight}%`).join(', ')}`);
    expect(r, JSON.stringify(r)).toMatchObject({ phase: 'RolledBack', canaryWeight: 0 });
    expect(r!.history.map((h) => h.event)).toContain('Started');
    expect(r!.history.at(-1)).toMatchObject({ event: 'RolledBack', canaryWeight: 0, message: expect.stringMatching(/success rate \d+\.\d+ % \(gate ≥ 95 %\)/) });

    // The frontend's Envoy now holds weight 0 for v2: every request goes to v1.
    let route = await frontendRoute(c);
    for (let i = 0; i < 50 && route.weights.v2 !== 0; i++) {
      await sleep(100);
      route = await frontendRoute(c);
    }
    expect(route.weights).toEqual({ v1: 100, v2: 0 });
    const after = await drive(c.net.frontend, 40);
    expect(after).toEqual({ v1: 40, v2: 0, failed: 0 });

    // The operator's view: `trellis rollout status`.
    const cli = await trellis(['rollout', 'status', '--admin', c.admin]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/demo\s+recommendation\s+recommendation\s+recommendation-v1\s+recommendation-v2\s+TrafficSplit\/recommendation\s+RolledBack\s+1\/2\s+0%/);
    expect(cli.stdout).toMatch(/RolledBack\s+0%\s+rolled back from 50 % to 0 %: gate failed: success rate/);
  }, 180_000);

  it('a healthy canary is promoted to 100 % on an HTTPRoute rule (metrics read through Prometheus); a restart mid-rollout serves the same route', async () => {
    findPrometheus(); // names scripts/setup-prometheus.sh when Prometheus is missing
    const c = await startCase('promote', { trellis: `${NET}.11`, frontend: `${NET}.12`, v1: `${NET}.13`, v2: `${NET}.14` }, 18750, true, 'HTTPRoute');
    writeFileSync(path.join(c.meshDir, 'rollout.yaml'), rolloutYaml({
      routing: 'HTTPRoute',
      steps: '[{weight: 30, pause: 3s}, {weight: 60, pause: 12s}]',
      analysis: '{window: 5s, interval: 500ms, minRequests: 5, successRate: 90, latencyP99: 2s}',
    }));
    const first = await driveUntil(c, (x) => x?.step === 2, { maxRequests: 1500, maxMs: 90_000 });
    expect(first.r, JSON.stringify(first.r)).toMatchObject({ phase: 'Progressing', step: 2, canaryWeight: 60 });
    const before = await frontendRoute(c);
    expect(before.weights).toEqual({ v1: 40, v2: 60 });

    // Restart mid-step: the progress comes back from the state dir, and the
    // frontend's Envoy, reconnected, holds the very route version it held.
    await c.demo.restartTrellis();
    const restored = await rollout(c);
    expect(restored).toMatchObject({ phase: 'Progressing', step: 2, canaryWeight: 60 });
    let after = await frontendRoute(c).catch(() => undefined);
    for (let i = 0; i < 100 && !after; i++) {
      await sleep(100);
      after = await frontendRoute(c).catch(() => undefined);
    }
    expect(after).toEqual(before);

    const done = await driveUntil(c, (x) => x?.phase === 'Promoted', { maxRequests: 3000, maxMs: 90_000 });
    console.log(`[e2e] rollout: promoted after ${first.sent + done.sent} requests: ${done.r?.history.map((h) => `${h.event} ${h.canaryWeight}%`).join(', ')}`);
    expect(done.r, JSON.stringify(done.r)).toMatchObject({ phase: 'Promoted', canaryWeight: 100 });
    expect(done.r!.history.map((h) => [h.event, h.canaryWeight])).toEqual(expect.arrayContaining([['Started', 30], ['StepAdvanced', 60], ['Promoted', 100]]));
    expect(c.demo.server.goldenMetrics.source).toBe('prometheus');
    let route = await frontendRoute(c);
    for (let i = 0; i < 50 && route.weights.v2 !== 100; i++) {
      await sleep(100);
      route = await frontendRoute(c);
    }
    expect(route.weights).toEqual({ v1: 0, v2: 100 });
    expect(await drive(c.net.frontend, 40)).toEqual({ v1: 0, v2: 40, failed: 0 });
  }, 300_000);
});
