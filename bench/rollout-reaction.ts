/**
 * `scripts/bench.sh rollout`: issue 12's target "rollback reaction: from the
 * canary's error rate crossing the gate to the canary weight at 0 on every
 * Envoy ≤ analysis window + 2 s", on real Envoy sidecars and the demo
 * application (the e2e's mesh, test/support/rollout-mesh.ts, on 127.0.140.2x).
 *
 * Per run: a Rollout holds recommendation-v2 at 50 % (a long pause) while
 * steady traffic keeps its gates passing over a whole window; then v2 starts
 * failing half its requests (its error rate, 50 %, crosses the 5 % the
 * success-rate gate allows at that instant), and the clock runs until the
 * model serves v2 at weight 0 and every Envoy has ACKed that config. Between
 * runs v2 is healed, a window passes (so the failures leave it), and the
 * Rollout is created again.
 *
 * The windowed success rate falls under the gate about a tenth of a window
 * after the errors start (50 % failures), then one evaluation interval, one
 * read, one build and the push follow. Figures, never assertions.
 *   node --import tsx bench/rollout-reaction.ts [--runs 3] [--window 10] [--prometheus]
 */
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { allInSync, startDemo, type RunningDemo } from '../src/runtime/demo.ts';
import { findPrometheus } from '../src/runtime/prometheus.ts';
import { callFrontend, closeRolloutAgent, rolloutMeshFiles, rolloutYaml, setFailRatio } from '../test/support/rollout-mesh.ts';

const NET = '127.0.140';
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, window: { type: 'string', default: '10' }, prometheus: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
const windowS = Number(values.window);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: "${values.runs}" is not a whole number ≥ 1`);
if (!Number.isInteger(windowS) || windowS < 2) throw new Error(`--window: "${values.window}" is not a whole number of seconds ≥ 2`);
const INTERVAL_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const net = { frontend: `${NET}.22`, v1: `${NET}.23`, v2: `${NET}.24` };
const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-rollout-'));
const meshDir = path.join(dir, 'mesh');
mkdirSync(meshDir);
for (const [f, text] of Object.entries(rolloutMeshFiles(net))) writeFileSync(path.join(meshDir, f), text);
const rolloutFile = path.join(meshDir, 'rollout.yaml');
const ROLLOUT = rolloutYaml({ steps: '[{weight: 50, pause: 1h}]', analysis: `{window: ${windowS}s, interval: ${INTERVAL_MS}ms, minRequests: 10, successRate: 95}` });

if (values.prometheus) findPrometheus();
const watchdog = setTimeout(() => {
  console.error('rollout bench: watchdog (10 min) fired; stopping');
  process.exit(1);
}, 600_000);
watchdog.unref();

/** Steady traffic (about 40 requests per second) until stopped. */
function traffic(): { stop: () => Promise<void> } {
  let on = true;
  const loops = Array.from({ length: 2 }, async () => {
    while (on) {
      await callFrontend(net.frontend);
      await sleep(40);
    }
  });
  return { stop: async () => { on = false; await Promise.all(loops); } };
}

async function until(what: string, cond: () => boolean, timeoutMs: number, stepMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

function canaryWeight(demo: RunningDemo): number | undefined {
  return demo.server.mesh?.model?.rollouts.get('demo/recommendation')?.canaryWeight;
}

let demo: RunningDemo | undefined;
const reactions: number[] = [];
try {
  demo = await startDemo({
    meshDir,
    stateDir: path.join(dir, 'state'),
    xdsAddress: `${NET}.21:18760`,
    adminAddress: `${NET}.21:18761`,
    logDir: path.join(dir, 'logs'),
    readyTimeoutMs: 60_000,
    ...(values.prometheus ? { prometheus: { listen: `${NET}.21:18762`, scrapeIntervalS: 1 } } : {}),
  });
  const d = demo;
  const ids = d.workloads.map((w) => w.key);
  console.log(`rollout bench: demo up in ${(d.readyMs / 1000).toFixed(1)} s; metrics from ${d.server.goldenMetrics.source}; window ${windowS} s, interval ${INTERVAL_MS} ms; ${runs} run(s)`);
  const load = traffic();
  for (let run = 1; run <= runs; run++) {
    await setFailRatio(net.v2, 0);
    writeFileSync(rolloutFile, ROLLOUT);
    await until('the rollout at 50 %', () => canaryWeight(d) === 50, 30_000, 50);
    // A whole window of healthy traffic at 50 %, the gates passing.
    await sleep(windowS * 1000 + 1000);
    const state = d.server.rollouts!.controller.state('demo/recommendation');
    if (state?.phase !== 'Progressing' || state.held) throw new Error(`run ${run}: the rollout is not passing before the errors start: ${JSON.stringify(state)}`);
    await setFailRatio(net.v2, 0.5);
    const t0 = performance.now();
    await until('canary weight 0 in the model', () => canaryWeight(d) === 0, windowS * 1000 + 30_000);
    await until('every Envoy ACKed', () => allInSync(d.server, ids), 30_000);
    const ms = performance.now() - t0;
    reactions.push(ms);
    const last = d.server.rollouts!.controller.state('demo/recommendation')?.history.at(-1);
    console.log(`  run ${run}: ${(ms / 1000).toFixed(2)} s from errors starting to weight 0 ACKed on ${ids.length} Envoys (${last?.message})`);
    // Heal, let the failures leave the window, and start over.
    await setFailRatio(net.v2, 0);
    unlinkSync(rolloutFile);
    await until('the rollout gone', () => d.server.mesh?.model?.rollouts.size === 0, 10_000, 50);
    await sleep(windowS * 1000 + 1500);
  }
  await load.stop();
  const sorted = reactions.toSorted((a, b) => a - b);
  const target = windowS + 2;
  const median = sorted[Math.floor((sorted.length - 1) / 2)]! / 1000;
  const worst = sorted.at(-1)! / 1000;
  console.log(`rollout: rollback reaction (errors start -> canary weight 0 ACKed on every Envoy) median ${median.toFixed(2)} s, max ${worst.toFixed(2)} s over ${runs} run(s); target ≤ window + 2 s = ${target} s: ${worst <= target ? 'met' : 'NOT met'}`);
} finally {
  closeRolloutAgent();
  await demo?.stop();
  rmSync(dir, { recursive: true, force: true });
}
