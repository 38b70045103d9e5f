/**
 * GET /api/v1/rollouts (and /api/v1/rollouts/{namespace}/{name}): every
 * accepted Rollout with its phase, step, the canary weight served now, why it
 * holds, the last analysis and its history of steps and decisions — what
 * `trellis rollout status` prints. The runtime's controller supplies the
 * views; the admin only serves them.
 */
import { HttpError, type AdminServer } from './http.ts';

export type RolloutPhaseView = 'Pending' | 'Progressing' | 'Promoted' | 'RolledBack';

export interface RolloutHistoryView {
  at: string;
  event: 'Started' | 'StepAdvanced' | 'Promoted' | 'RolledBack' | 'Held';
  canaryWeight: number;
  message: string;
}

export interface RolloutView {
  namespace: string;
  name: string;
  service: string;
  stable: string;
  canary: string;
  /** `TrafficSplit/web`, `HTTPRoute/web rule main`. */
  drives: string;
  phase: RolloutPhaseView;
  /** 1-based; null while Pending. */
  step: number | null;
  steps: number;
  canaryWeight: number;
  revision: string;
  stepStartedAt?: string;
  /** Why the gates cannot be evaluated now (no weight change meanwhile). */
  held?: string;
  lastAnalysis?: string;
  history: RolloutHistoryView[];
}

export interface RolloutsAnswer {
  /** Where progress is kept (a state file, the Rollouts' status, memory). */
  progressStore: string;
  /** False on a replica that is not the leader: it serves the leader's weights and decides nothing. */
  deciding: boolean;
  rollouts: RolloutView[];
}

export function registerRolloutRoutes(admin: AdminServer, answer: () => RolloutsAnswer): void {
  admin.route('/api/v1/rollouts', () => answer());
  admin.route('/api/v1/rollouts/:namespace/:name', ({ namespace, name }) => {
    const r = answer().rollouts.find((x) => x.namespace === namespace && x.name === name);
    if (!r) throw new HttpError(404, `no accepted Rollout ${namespace}/${name} (see /api/v1/intents for rejected ones)`);
    return r;
  });
}
