/**
 * Rollout progress in a cluster: the Rollout's own status (phase, revision,
 * step, canaryWeight, stepStartedAt, held, lastAnalysis, history), written
 * by the leader with a merge patch of the status subresource (beside the
 * conditions the status writer keeps there). Every replica, and a restarted
 * Trellis, reads it back from the objects it watches (`recordedStates`)
 * before building them, so all serve the weights the leader decided.
 */
import type { Logger } from '../../log.ts';
import type { SourceObject } from '../../model/object.ts';
import { objectPath, resourceOf } from '../../sources/kubernetes/resources.ts';
import type { KubeMesh } from '../kube-mesh.ts';
import type { RolloutEvent, RolloutState } from './decide.ts';
import type { ProgressStore } from './store.ts';

const ROLLOUT = resourceOf('trellis.io/v1alpha1', 'Rollout')!;
const PHASES = new Set(['Progressing', 'Promoted', 'RolledBack']);

/** The status fields Trellis writes for a state. */
export function statusOf(s: RolloutState): Record<string, unknown> {
  return {
    phase: s.phase, revision: s.revision, step: s.step, canaryWeight: s.canaryWeight,
    startedAt: new Date(s.startedMs).toISOString(),
    stepStartedAt: new Date(s.stepStartedMs).toISOString(),
    held: s.held ?? null, lastAnalysis: s.lastAnalysis ?? null, history: s.history,
  };
}

/** `namespace/name` of the Rollouts among `objects`. */
export function rolloutKeys(objects: readonly SourceObject[]): string[] {
  return objects.filter((o) => o.kind === 'Rollout' && o.apiVersion === ROLLOUT.apiVersion).map((o) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`);
}

/**
 * The states recorded in the status of the Rollouts `keys` names, as the
 * watch cache holds them (`stored`: the source strips status from the
 * objects the model reads, since Trellis writes it); anything unreadable is
 * left out (that rollout starts over).
 */
export function recordedStates(keys: readonly string[], stored: (kind: string, namespace: string, name: string, apiVersion: string) => Record<string, unknown> | undefined): Map<string, RolloutState> {
  const out = new Map<string, RolloutState>();
  for (const key of keys) {
    const [ns, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    const st = stored('Rollout', ns, name, ROLLOUT.apiVersion)?.status as Record<string, unknown> | undefined;
    if (!st || typeof st !== 'object' || !PHASES.has(st.phase as string) || typeof st.revision !== 'string' || typeof st.canaryWeight !== 'number' || typeof st.step !== 'number') continue;
    const stepStarted = Date.parse(String(st.stepStartedAt));
    const started = Date.parse(String(st.startedAt));
    const history = Array.isArray(st.history) ? (st.history as RolloutEvent[]).filter((h) => h && typeof h.at === 'string' && typeof h.event === 'string') : [];
    out.set(key, {
      revision: st.revision, phase: st.phase as RolloutState['phase'], step: st.step, canaryWeight: st.canaryWeight,
      startedMs: Number.isFinite(started) ? started : 0,
      stepStartedMs: Number.isFinite(stepStarted) ? stepStarted : 0,
      ...(typeof st.held === 'string' ? { held: st.held } : {}),
      ...(typeof st.lastAnalysis === 'string' ? { lastAnalysis: st.lastAnalysis } : {}),
      history,
    });
  }
  return out;
}

export class KubeProgressStore implements ProgressStore {
  readonly where = 'the status of each Rollout (written by the leader)';
  private saved = new Map<string, string>();

  constructor(private readonly kube: KubeMesh, private readonly log: Logger) {}

  /** Nothing is listed yet at start: states arrive with the objects (recordedStates, adopted before each build). */
  async load(): Promise<Map<string, RolloutState>> {
    return new Map();
  }

  async save(states: ReadonlyMap<string, RolloutState>): Promise<void> {
    for (const [key, s] of states) {
      const body = statusOf(s);
      const text = JSON.stringify(body);
      if (this.saved.get(key) === text) continue;
      const [ns, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
      await this.kube.source.rest.patch(`${objectPath(ROLLOUT, ns, name)}/status`, { status: body }, 'merge');
      this.saved.set(key, text);
      this.log.debug({ rollout: key, phase: s.phase, canaryWeight: s.canaryWeight }, 'rollout status written');
    }
  }
}
