/**
 * Where rollout progress survives a restart, so the first build after it
 * serves the weights the running control plane served (incremental ==
 * fresh across a restart mid-rollout).
 *
 * - A folder (file source) with a state dir: `<state-dir>/rollouts/progress.json`,
 *   beside the last good config (`<state-dir>/last-good/`), written
 *   atomically before a new weight is served.
 * - A cluster: the Rollout's own status (kube-store.ts), written by the leader.
 * - Neither: memory only; a restart starts each rollout over at its first step.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../ca/files.ts';
import { errorMessage } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { RolloutState } from './decide.ts';

export interface ProgressStore {
  /** Where it is kept, for logs and the admin view. */
  readonly where: string;
  load(): Promise<Map<string, RolloutState>>;
  /** Resolves once the states are durable; throws when they cannot be (the controller then does not serve the new weight). */
  save(states: ReadonlyMap<string, RolloutState>): Promise<void>;
}

const FORMAT = 1;

export class FileProgressStore implements ProgressStore {
  readonly file: string;
  constructor(stateDir: string, private readonly log: Logger) {
    this.file = path.join(stateDir, 'rollouts', 'progress.json');
  }

  get where(): string {
    return this.file;
  }

  async load(): Promise<Map<string, RolloutState>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ file: this.file, err: errorMessage(e) }, 'rollout progress cannot be read; every rollout starts over at its first step');
      return new Map();
    }
    try {
      const parsed = JSON.parse(text) as { format?: number; rollouts?: Record<string, RolloutState> };
      if (parsed.format !== FORMAT || typeof parsed.rollouts !== 'object' || parsed.rollouts === null) throw new Error(`format ${String(parsed.format)}, expected ${FORMAT}`);
      // Written before startedMs existed: the step's start stands in.
      return new Map(Object.entries(parsed.rollouts).map(([k, s]) => [k, { ...s, startedMs: s.startedMs ?? s.stepStartedMs }]));
    } catch (e) {
      this.log.warn({ file: this.file, err: errorMessage(e) }, 'rollout progress is not readable JSON of this version; every rollout starts over at its first step');
      return new Map();
    }
  }

  async save(states: ReadonlyMap<string, RolloutState>): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, `${JSON.stringify({ format: FORMAT, rollouts: Object.fromEntries(states) }, null, 1)}\n`, 0o600);
  }
}

export class MemoryProgressStore implements ProgressStore {
  readonly where = 'memory (no state dir: a restart starts every rollout over)';
  private states = new Map<string, RolloutState>();
  async load(): Promise<Map<string, RolloutState>> {
    return new Map(this.states);
  }
  async save(states: ReadonlyMap<string, RolloutState>): Promise<void> {
    this.states = new Map(states);
  }
}
