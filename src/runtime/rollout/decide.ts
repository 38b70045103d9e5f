/**
 * The rollout state machine, pure: (rollout, state, analysis, now) -> state.
 * The controller (controller.ts) does the effects: reading metrics, serving
 * the weight, persisting, logging and writing status.
 *
 *   (none, or another revision) --> Progressing at steps[0]      "Started"
 *   Progressing, a gate fails    --> RolledBack, canary 0        at once, whatever the step
 *   Progressing, cannot evaluate --> unchanged weight, `held`    Prometheus down or slow, too few requests
 *   Progressing, gates hold and the step's pause is over
 *                                --> the next step, or Promoted (canary 100) after the last
 *   Promoted, RolledBack         --> final for this revision (an edited spec starts over)
 *
 * A step advances at the first evaluation that passes once its pause is over:
 * a hold never promotes (docs/intents.md: hold, not promote).
 */
import type { MeshRollout } from '../../model/types.ts';

export type RolloutPhase = 'Pending' | 'Progressing' | 'Promoted' | 'RolledBack';
export type RolloutEventType = 'Started' | 'StepAdvanced' | 'Promoted' | 'RolledBack' | 'Held';

export interface RolloutEvent {
  at: string;
  event: RolloutEventType;
  canaryWeight: number;
  message: string;
}

export interface RolloutState {
  revision: string;
  phase: Exclude<RolloutPhase, 'Pending'>;
  /** Index in the rollout's steps. */
  step: number;
  canaryWeight: number;
  /** When this revision started: the analysis never counts requests from before (another run's, a rolled-back canary's). */
  startedMs: number;
  stepStartedMs: number;
  /** Why the gates cannot be evaluated now; absent when they can. */
  held?: string;
  /** The last evaluation, in words. */
  lastAnalysis?: string;
  /** Every step and decision, oldest first, at most HISTORY_MAX. */
  history: RolloutEvent[];
}

/** What the canary's golden metrics say over the window, or why nothing can be said. */
export type Analysis =
  | { kind: 'measured'; requests: number; successes: number; p99Ms: number | null }
  | { kind: 'no-data'; reason: string };

export type Verdict = { verdict: 'pass' | 'fail'; summary: string } | { verdict: 'hold'; reason: string };

export const HISTORY_MAX = 50;

type Gates = MeshRollout['analysis'];

const pct = (n: number) => `${(Math.floor(n * 100) / 100).toFixed(2)} %`;

/** The gates on one analysis. A failing gate wins over one that cannot be judged: a rollback must not wait for latency. */
export function judge(a: Analysis, gates: Gates): Verdict {
  if (a.kind === 'no-data') return { verdict: 'hold', reason: `no metrics: ${a.reason}` };
  if (a.requests < gates.minRequests) return { verdict: 'hold', reason: `${a.requests} canary request(s) in the window, fewer than minRequests ${gates.minRequests}` };
  const parts: string[] = [`${a.requests} requests`];
  const fails: string[] = [];
  let unknown: string | undefined;
  if (gates.successRatePercent !== undefined) {
    const rate = (a.successes / a.requests) * 100;
    const text = `success rate ${pct(rate)} (gate ≥ ${gates.successRatePercent} %)`;
    parts.push(text);
    if (rate < gates.successRatePercent) fails.push(text);
  }
  if (gates.latencyP99Ms !== undefined) {
    if (a.p99Ms === null) unknown = 'p99 latency not measured yet (Envoy merges histograms every 5 s)';
    else {
      const text = `p99 ${Math.round(a.p99Ms)} ms (gate ≤ ${gates.latencyP99Ms} ms)`;
      parts.push(text);
      if (a.p99Ms > gates.latencyP99Ms) fails.push(text);
    }
  }
  if (fails.length > 0) return { verdict: 'fail', summary: `gate failed: ${fails.join('; ')} over ${a.requests} requests` };
  if (unknown) return { verdict: 'hold', reason: unknown };
  return { verdict: 'pass', summary: parts.join(', ') };
}

function sameReason(a: string, b: string): boolean {
  const shape = (s: string) => s.replace(/\d+(\.\d+)?/g, '#');
  return shape(a) === shape(b);
}

function event(state: RolloutState, type: RolloutEventType, nowMs: number, message: string): RolloutEvent[] {
  return [...state.history, { at: new Date(nowMs).toISOString(), event: type, canaryWeight: state.canaryWeight, message }].slice(-HISTORY_MAX);
}

/** The next state; the same object when nothing changed. `analysis` is ignored where no decision needs it. */
export function decide(r: Pick<MeshRollout, 'revision' | 'steps' | 'analysis'>, state: RolloutState | undefined, analysis: Analysis | undefined, nowMs: number): RolloutState {
  if (!state || state.revision !== r.revision) {
    const first = r.steps[0]!;
    const started: RolloutState = { revision: r.revision, phase: 'Progressing', step: 0, canaryWeight: first.weight, startedMs: nowMs, stepStartedMs: nowMs, history: [] };
    const why = state ? 'the spec changed, so the rollout starts over' : 'a new rollout';
    return { ...started, history: event(started, 'Started', nowMs, `${why}: step 1 of ${r.steps.length}, canary at ${first.weight} % for ${first.pauseMs / 1000} s`) };
  }
  if (state.phase !== 'Progressing' || !analysis) return state;
  const v = judge(analysis, r.analysis);
  if (v.verdict === 'hold') {
    if (state.held === v.reason) return state;
    const held = { ...state, held: v.reason, lastAnalysis: `held: ${v.reason}` };
    // One history entry per reason, not per evaluation (nor per count the reason quotes).
    if (state.held !== undefined && sameReason(state.held, v.reason)) return held;
    return { ...held, history: event(held, 'Held', nowMs, `holding at ${state.canaryWeight} % (no weight change, no promotion): ${v.reason}`) };
  }
  if (v.verdict === 'fail') {
    const back: RolloutState = { ...state, phase: 'RolledBack', canaryWeight: 0, stepStartedMs: nowMs, lastAnalysis: v.summary };
    delete back.held;
    return { ...back, history: event(back, 'RolledBack', nowMs, `rolled back from ${state.canaryWeight} % to 0 %: ${v.summary}`) };
  }
  const passing = { ...state, lastAnalysis: v.summary };
  delete passing.held;
  const step = r.steps[state.step]!;
  if (nowMs - state.stepStartedMs < step.pauseMs) return state.held === undefined && state.lastAnalysis === v.summary ? state : passing;
  const next = r.steps[state.step + 1];
  if (!next) {
    const promoted: RolloutState = { ...passing, phase: 'Promoted', canaryWeight: 100, stepStartedMs: nowMs };
    return { ...promoted, history: event(promoted, 'Promoted', nowMs, `promoted to 100 % after ${r.steps.length} step(s): ${v.summary}`) };
  }
  const advanced: RolloutState = { ...passing, step: state.step + 1, canaryWeight: next.weight, stepStartedMs: nowMs };
  return { ...advanced, history: event(advanced, 'StepAdvanced', nowMs, `step ${state.step + 2} of ${r.steps.length}: canary ${state.canaryWeight} % -> ${next.weight} % for ${next.pauseMs / 1000} s; gates held: ${v.summary}`) };
}

/** The canary's weight as the model should serve it: the progress a build takes (BuildOptions.rolloutProgress). */
export function progressOf(states: ReadonlyMap<string, RolloutState>): Map<string, { revision: string; canaryWeight: number }> {
  return new Map([...states].map(([k, s]) => [k, { revision: s.revision, canaryWeight: s.canaryWeight }]));
}
