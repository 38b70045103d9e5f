/**
 * Issue 12: the rollout state machine, table-driven — start, step on while
 * the gates hold for each pause, promote after the last, roll back at once
 * on a failing gate, hold (no change) when the gates cannot be evaluated.
 */
import { describe, expect, it } from 'vitest';
import { decide, judge, type Analysis, type RolloutState } from './decide.ts';
import { canaryAnalysis } from './analysis.ts';

const R = {
  revision: 'rev1',
  steps: [{ weight: 10, pauseMs: 10_000 }, { weight: 50, pauseMs: 10_000 }],
  analysis: { windowMs: 30_000, intervalMs: 1000, minRequests: 20, successRatePercent: 99, latencyP99Ms: 500 },
};
const ok = (requests = 100, failures = 0, p99: number | null = 20): Analysis => ({ kind: 'measured', requests, successes: requests - failures, p99Ms: p99 });

/** Runs the machine over [ms, analysis] ticks from a first start at 0. */
function run(ticks: Array<[number, Analysis]>, start?: RolloutState): RolloutState {
  let s = decide(R, start, undefined, 0);
  for (const [at, a] of ticks) s = decide(R, s, a, at);
  return s;
}

describe('issue 12: rollout decisions', () => {
  it('starts at the first step', () => {
    const s = run([]);
    expect(s).toMatchObject({ phase: 'Progressing', step: 0, canaryWeight: 10 });
    expect(s.history.map((h) => h.event)).toEqual(['Started']);
  });

  it('gates holding: the next step only once the pause is over, then promoted to 100 after the last', () => {
    expect(run([[5_000, ok()]])).toMatchObject({ step: 0, canaryWeight: 10 });
    expect(run([[5_000, ok()], [10_000, ok()]])).toMatchObject({ step: 1, canaryWeight: 50, stepStartedMs: 10_000 });
    const done = run([[10_000, ok()], [15_000, ok()], [20_000, ok()]]);
    expect(done).toMatchObject({ phase: 'Promoted', canaryWeight: 100 });
    expect(done.history.map((h) => [h.event, h.canaryWeight])).toEqual([['Started', 10], ['StepAdvanced', 50], ['Promoted', 100]]);
    // Final: nothing changes it any more, not even a failing gate.
    expect(decide(R, done, ok(100, 100), 30_000)).toBe(done);
  });

  it.each([
    { name: 'the success rate under the gate', a: ok(100, 2), why: /success rate 98.00 %/ },
    { name: 'p99 over the gate', a: ok(100, 0, 900), why: /p99 900 ms/ },
    { name: 'the success rate fails while latency is not merged yet', a: ok(100, 50, null), why: /success rate 50.00 %/ },
  ])('a failing gate rolls back at once, mid-pause and at any step: $name', ({ a, why }) => {
    const s = run([[10_000, ok()], [11_000, a]]);
    expect(s).toMatchObject({ phase: 'RolledBack', canaryWeight: 0 });
    expect(s.history.at(-1)).toMatchObject({ event: 'RolledBack', canaryWeight: 0, message: expect.stringMatching(why) });
  });

  it.each([
    { name: 'Prometheus down', a: { kind: 'no-data', reason: 'prometheus: no answer within 3000 ms' } as Analysis, why: /no answer within 3000 ms/ },
    { name: 'too few requests', a: ok(5), why: /5 canary request\(s\) in the window, fewer than minRequests 20/ },
    { name: 'latency not measured yet', a: ok(100, 0, null), why: /p99 latency not measured/ },
  ])('cannot evaluate ($name): hold — no weight change, never a promotion, one history entry', ({ a, why }) => {
    const s = run([[5_000, a], [10_000, a], [30_000, a.kind === 'measured' ? { ...a, requests: Math.max(0, a.requests - 1) } : a], [60_000, a]]);
    expect(s).toMatchObject({ phase: 'Progressing', step: 0, canaryWeight: 10, held: expect.stringMatching(why) });
    expect(s.history.map((h) => h.event)).toEqual(['Started', 'Held']);
    // Once the gates can be judged again (and hold), the overdue step advances.
    const resumed = decide(R, s, ok(), 61_000);
    expect(resumed).toMatchObject({ step: 1, canaryWeight: 50 });
    expect(resumed.held).toBeUndefined();
  });

  it('an edited spec (another revision) starts over, from a rolled-back state too', () => {
    const back = run([[1_000, ok(100, 100)]]);
    expect(back.phase).toBe('RolledBack');
    const again = decide({ ...R, revision: 'rev2' }, back, ok(), 2_000);
    expect(again).toMatchObject({ revision: 'rev2', phase: 'Progressing', step: 0, canaryWeight: 10 });
  });

  it('judge: exactly at the gates passes', () => {
    expect(judge(ok(100, 1, 500), R.analysis).verdict).toBe('pass');
  });
});

describe('issue 12: the canary analysis from golden metrics', () => {
  const edge = (service: string, requests: number, successes: number, p99: number | null) => ({
    source: { namespace: 'demo', workload: 'frontend' },
    destination: { namespace: 'demo', service, port: 8080, identities: [] },
    requests, successes, failures: requests - successes, successRate: requests ? successes / requests : null, rps: null,
    latencyMs: p99 === null ? null : { p50: 1, p90: 1, p95: 1, p99 }, tcp: { connections: 0, bytesSent: 0, bytesReceived: 0 },
  });
  it('sums every caller of the canary service, takes the largest p99, ignores other services', () => {
    const m = { status: 'ok' as const, source: 'sidecars' as const, at: '', windowSeconds: 10, edges: [edge('web-v2', 10, 9, 30), edge('web-v2', 20, 20, 80), edge('web-v1', 100, 0, 999)] };
    expect(canaryAnalysis(m, { namespace: 'demo', service: 'web-v2' }, { asked: 10, sinceStart: 60 })).toEqual({ kind: 'measured', requests: 30, successes: 29, p99Ms: 80 });
  });
  it('no data, or no requests to the canary: no-data with the reason', () => {
    expect(canaryAnalysis({ status: 'no-data', source: 'prometheus', at: '', reason: 'connection refused' }, { namespace: 'demo', service: 'web-v2' }, { asked: 10, sinceStart: 60 })).toEqual({ kind: 'no-data', reason: 'prometheus: connection refused' });
    expect(canaryAnalysis({ status: 'ok', source: 'sidecars', at: '', windowSeconds: 10, edges: [] }, { namespace: 'demo', service: 'web-v2' }, { asked: 10, sinceStart: 60 }).kind).toBe('no-data');
  });
  it('a read that reaches back before the rollout started (the first direct read, one after a pause) is no data, not an old failure', () => {
    const edges = [edge('web-v2', 100, 0, 30)];
    const at = (windowSeconds: number | null, sinceStart: number) => canaryAnalysis({ status: 'ok', source: 'sidecars', at: '', windowSeconds, edges }, { namespace: 'demo', service: 'web-v2' }, { asked: 10, sinceStart });
    for (const [w, since] of [[null, 60], [200, 300], [10, 4]] as const) expect(at(w, since)).toMatchObject({ kind: 'no-data', reason: expect.stringMatching(/since the rollout started/) });
    expect(at(10.4, 11).kind).toBe('measured');
  });
});
