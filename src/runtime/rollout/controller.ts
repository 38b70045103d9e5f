/**
 * The rollout controller: the effects around the pure state machine
 * (decide.ts). Every tick, for each accepted Rollout whose interval is due,
 * it reads the canary's golden metrics (the control plane's reader: a
 * Prometheus, else the sidecars), decides, and when a weight or phase
 * changed it first makes the progress durable (store.ts), then hands the
 * weights to the mesh, which builds and pushes them like any other change.
 * Each step and decision is a log line and an entry of the Rollout's
 * history (/api/v1/rollouts, `trellis rollout status`, status in a cluster).
 *
 * Reads are bounded by the reader (3 s by default): a slow Prometheus is a
 * hold, never a stuck controller. Ticks never overlap.
 */
import { errorMessage } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { GoldenMetrics } from '../../admin/golden/edges.ts';
import type { GoldenMetricsReader } from '../../admin/golden/reader.ts';
import type { RolloutsAnswer, RolloutView } from '../../admin/rollouts.ts';
import type { MeshModel, MeshRollout } from '../../model/types.ts';
import type { RunningMesh } from '../mesh.ts';
import { canaryAnalysis } from './analysis.ts';
import { decide, progressOf, type Analysis, type RolloutEvent, type RolloutState } from './decide.ts';
import type { ProgressStore } from './store.ts';

export interface RolloutControllerOptions {
  mesh: Pick<RunningMesh, 'model' | 'setRolloutProgress'>;
  store: ProgressStore;
  log: Logger;
  /** Replicas in a cluster: only the leader decides; the others serve what it recorded. Default: always. */
  isLeader?: () => boolean;
  /**
   * A cluster: the states the Rollouts' status records now (written by the
   * leader). Adopted every tick where newer, so a replica that does not
   * decide serves the leader's weights within a tick.
   */
  recorded?: (keys: readonly string[]) => ReadonlyMap<string, RolloutState>;
  /** Longest sleep between ticks (default 1 s); a Rollout's own interval is honoured below it. */
  maxTickMs?: number;
  now?: () => number;
}

export class RolloutController {
  private states = new Map<string, RolloutState>();
  private readonly due = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private reader: GoldenMetricsReader | undefined;
  private readonly listeners: Array<(key: string, state: RolloutState, events: readonly RolloutEvent[]) => void> = [];

  constructor(private readonly o: RolloutControllerOptions) {}

  /** Before the mesh's first build: the weights a restart must serve. */
  async load(): Promise<void> {
    this.states = await this.o.store.load();
    if (this.states.size > 0) {
      this.o.log.info({ rollouts: [...this.states].map(([k, s]) => `${k} ${s.phase} ${s.canaryWeight}%`), store: this.o.store.where }, 'rollout progress restored');
    }
    this.o.mesh.setRolloutProgress(progressOf(this.states));
  }

  /** Decide from now on, reading the canaries' golden metrics from `reader`. */
  start(reader: GoldenMetricsReader): void {
    this.reader = reader;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Called after each decision that changed something (status writer, tests). */
  onChange(listener: (key: string, state: RolloutState, events: readonly RolloutEvent[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * States recorded elsewhere (a cluster's Rollout status, written by the
   * leader): each newer than ours (by its last history entry) replaces ours,
   * so a replica, or this one after a restart, serves what the leader
   * decided. Called before a build of the objects that carried them: sets
   * the build's progress without building again.
   */
  adoptNewer(recorded: ReadonlyMap<string, RolloutState>, rebuild = true): void {
    const before = weightsKey(this.states);
    for (const [key, theirs] of recorded) {
      const ours = this.states.get(key);
      if (!ours || lastAt(theirs) > lastAt(ours)) this.states.set(key, theirs);
    }
    if (weightsKey(this.states) !== before) this.o.mesh.setRolloutProgress(progressOf(this.states), { cause: 'rollout status' }, rebuild);
  }

  state(key: string): RolloutState | undefined {
    return this.states.get(key);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().catch((e: unknown) => this.o.log.error({ err: errorMessage(e) }, 'a rollout tick failed (a Trellis bug); weights are unchanged'));
      void this.running.then(() => this.schedule(this.sleepMs()));
    }, ms);
    this.timer.unref();
  }

  private sleepMs(): number {
    const intervals = [...(this.o.mesh.model?.rollouts.values() ?? [])].map((r) => r.analysis.intervalMs);
    return Math.min(this.o.maxTickMs ?? 1000, ...intervals);
  }

  /** One pass over the Rollouts (tests call it directly). */
  async tick(): Promise<void> {
    const model = this.o.mesh.model;
    const reader = this.reader;
    if (!model) return;
    if (this.o.recorded) this.adoptNewer(this.o.recorded([...model.rollouts.keys()]));
    if (!reader || (this.o.isLeader && !this.o.isLeader())) return;
    const now = this.o.now?.() ?? Date.now();
    const next = new Map([...this.states].filter(([k]) => model.rollouts.has(k)));
    let durable = next.size !== this.states.size;
    const reads = new Map<number, Promise<GoldenMetrics>>();
    const read = (s: number) => {
      let p = reads.get(s);
      if (!p) reads.set(s, (p = reader.read({ windowSeconds: s })));
      return p;
    };
    const happened: Array<[string, RolloutState, RolloutEvent[]]> = [];
    for (const r of model.rollouts.values()) {
      const before = next.get(r.key);
      const judging = before?.revision === r.revision && before.phase === 'Progressing';
      if (judging && (this.due.get(r.key) ?? 0) > now) continue;
      let analysis: Analysis | undefined;
      if (judging) {
        // Never before this revision started: earlier requests are another run's. Prometheus
        // answers the window asked; a direct read counts from the sidecars' read about a window
        // ago, so it asks the full window and is judged once that read is after the start.
        const sinceStart = (now - before.startedMs) / 1000;
        const full = Math.max(1, Math.round(r.analysis.windowMs / 1000));
        const asked = reader.source === 'sidecars' ? full : Math.min(full, Math.floor(sinceStart));
        const [ns, canary] = splitKey(r.canary);
        analysis = asked < 1
          ? { kind: 'no-data', reason: 'the rollout started less than a second ago' }
          : canaryAnalysis(await read(asked), { namespace: ns, service: canary }, { asked, sinceStart });
      }
      this.due.set(r.key, now + r.analysis.intervalMs);
      const after = decide(r, before, analysis, now);
      if (after === before) continue;
      next.set(r.key, after);
      const events = after.history.filter((e) => !before?.history.includes(e));
      if (events.length > 0 || after.canaryWeight !== before?.canaryWeight || after.phase !== before?.phase) durable = true;
      if (events.length > 0) happened.push([r.key, after, events]);
    }
    if (durable) {
      try {
        await this.o.store.save(next);
      } catch (e) {
        // Serving a weight a restart would not is worse than waiting: the next tick decides again.
        this.o.log.error({ store: this.o.store.where, err: errorMessage(e) }, 'rollout progress cannot be saved; the weights stay as they are until it can');
        return;
      }
    }
    const weightsMoved = weightsKey(next) !== weightsKey(this.states);
    this.states = next;
    for (const [key, state, events] of happened) {
      for (const e of events) this.o.log.info({ rollout: key, event: e.event, canaryWeight: e.canaryWeight, phase: state.phase }, `rollout ${key}: ${e.message}`);
    }
    if (weightsMoved) this.o.mesh.setRolloutProgress(progressOf(next), { rollouts: happened.map(([k, s]) => `${k} ${s.phase} ${s.canaryWeight}%`) });
    for (const [key, state, events] of happened) for (const l of this.listeners) l(key, state, events);
  }

  /** The Rollout's `Progressing` condition (status in a cluster, beside Accepted and Programmed). */
  condition(key: string): { type: string; status: 'True' | 'False' | 'Unknown'; reason: string; message: string } | undefined {
    const v = rolloutViews(this.o.mesh.model, this.states).find((r) => `${r.namespace}/${r.name}` === key);
    if (!v) return undefined;
    const last = v.history.at(-1)?.message ?? 'not started yet';
    switch (v.phase) {
      case 'Pending': return { type: 'Progressing', status: 'Unknown', reason: 'Pending', message: 'accepted; the controller has not started it yet (canary at 0 %)' };
      case 'Promoted': return { type: 'Progressing', status: 'False', reason: 'Promoted', message: last };
      case 'RolledBack': return { type: 'Progressing', status: 'False', reason: 'RolledBack', message: last };
      default: return v.held
        ? { type: 'Progressing', status: 'True', reason: 'Held', message: `step ${v.step} of ${v.steps}, canary at ${v.canaryWeight} %, holding: ${v.held}` }
        // Not the last analysis: its counts move every evaluation, and status is written when it changes.
        : { type: 'Progressing', status: 'True', reason: 'Step', message: `step ${v.step} of ${v.steps}, canary at ${v.canaryWeight} %: ${last}` };
    }
  }

  answer(deciding = true): RolloutsAnswer {
    return { progressStore: this.o.store.where, deciding, rollouts: rolloutViews(this.o.mesh.model, this.states) };
  }
}

function lastAt(s: RolloutState): string {
  return s.history.at(-1)?.at ?? '';
}

/** What the model is built from, as text: equal texts, equal weights served. */
function weightsKey(states: ReadonlyMap<string, RolloutState>): string {
  return JSON.stringify([...progressOf(states)].toSorted(([a], [b]) => (a < b ? -1 : 1)));
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** The admin's view of each accepted Rollout: its recorded state when of this revision, else Pending. */
export function rolloutViews(model: MeshModel | undefined, states: ReadonlyMap<string, RolloutState>): RolloutView[] {
  return [...(model?.rollouts.values() ?? [])].map((r) => view(r, states.get(r.key)));
}

function view(r: MeshRollout, s: RolloutState | undefined): RolloutView {
  const current = s?.revision === r.revision ? s : undefined;
  const drives = `${r.target.kind}/${r.target.name}${r.target.rule !== undefined ? ` rule ${r.target.rule}` : ''}`;
  return {
    namespace: r.namespace, name: r.name, service: splitKey(r.service)[1], stable: splitKey(r.stable)[1], canary: splitKey(r.canary)[1], drives,
    phase: current?.phase ?? 'Pending', step: current ? current.step + 1 : null, steps: r.steps.length, canaryWeight: r.canaryWeight, revision: r.revision,
    ...(current ? { stepStartedAt: new Date(current.stepStartedMs).toISOString() } : {}),
    ...(current?.held ? { held: current.held } : {}),
    ...(current?.lastAnalysis ? { lastAnalysis: current.lastAnalysis } : {}),
    history: current?.history ?? [],
  };
}
