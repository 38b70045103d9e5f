/**
 * The status Trellis writes on each intent (TrafficSplit, HTTPRouteGroup,
 * TrafficTarget, TrafficPolicy, MeshConfig), in the metav1.Condition shape:
 *
 * - Accepted and ResolvedRefs: the model's verdict (model/status.ts), with the
 *   same messages `trellis validate` prints;
 * - Programmed: whether the proxies connected to this control plane run the
 *   config built from it — "programmed on N of M proxies", and for the others
 *   which rejected it (NACK) and why. Counted over every connected proxy: a
 *   proxy is programmed when it has ACKed the current version of every type
 *   it subscribes to.
 *
 * Pure: the clock comes in as `now`. lastTransitionTime moves only when a
 * condition's status changes, as the Kubernetes API conventions require.
 */
import type { Condition, ObjectStatus } from '../../model/index.ts';

export interface ProgrammedSummary {
  /** Connected proxies (nodes). */
  proxies: number;
  /** Of those, how many hold the current config, all types ACKed. */
  programmed: number;
  /** Proxies whose last answer for some type was a NACK of the current config. */
  rejected: { node: string; type: string; message: string }[];
}

export interface KubeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface IntentStatusBody {
  observedGeneration?: number;
  conditions: KubeCondition[];
}

/** metav1.Condition.message's limit. */
const MAX_MESSAGE = 32_768;
const MAX_REJECTIONS_LISTED = 5;

export function programmedCondition(s: ObjectStatus, p: ProgrammedSummary): Omit<KubeCondition, 'lastTransitionTime' | 'observedGeneration'> {
  const accepted = s.conditions.some((c) => c.type === 'Accepted' && c.status === 'True');
  if (!accepted && s.servedGeneration === undefined) {
    return { type: 'Programmed', status: 'False', reason: 'NotAccepted', message: 'not programmed: this object is not accepted (see Accepted)' };
  }
  const which = accepted ? '' : ` (generation ${s.servedGeneration}, the last accepted one)`;
  if (p.proxies === 0) return { type: 'Programmed', status: 'Unknown', reason: 'NoProxies', message: `no proxies are connected${which}` };
  const counted = `programmed on ${p.programmed} of ${p.proxies} proxies${which}`;
  if (p.programmed === p.proxies) return { type: 'Programmed', status: 'True', reason: 'Programmed', message: counted };
  if (p.rejected.length === 0) return { type: 'Programmed', status: 'False', reason: 'Pending', message: `${counted}; the others have not acknowledged it yet` };
  const listed = p.rejected.slice(0, MAX_REJECTIONS_LISTED).map((r) => `${r.node} rejected ${r.type}: ${r.message}`);
  const more = p.rejected.length > MAX_REJECTIONS_LISTED ? `; and ${p.rejected.length - MAX_REJECTIONS_LISTED} more` : '';
  return { type: 'Programmed', status: 'False', reason: 'Rejected', message: `${counted}; ${listed.join('; ')}${more}` };
}

/** A condition the runtime adds beside the model's (a Rollout's progress: runtime/rollout/). */
export type ExtraCondition = Omit<KubeCondition, 'lastTransitionTime' | 'observedGeneration'>;

export function intentStatus(s: ObjectStatus, programmed: ProgrammedSummary, previous: readonly KubeCondition[] | undefined, now: string, extra: readonly ExtraCondition[] = []): IntentStatusBody {
  const generation = s.generation;
  const fromModel = s.conditions.map((c: Condition) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message }));
  const conditions = [...fromModel, programmedCondition(s, programmed), ...extra].map((c): KubeCondition => {
    const prev = previous?.find((p) => p.type === c.type);
    return {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message.length > MAX_MESSAGE ? `${c.message.slice(0, MAX_MESSAGE - 1)}…` : c.message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now,
    };
  });
  return { ...(generation !== undefined ? { observedGeneration: generation } : {}), conditions };
}

/** Equal but for lastTransitionTime (which follows from the rest). */
export function sameStatus(a: IntentStatusBody | undefined, b: IntentStatusBody | undefined): boolean {
  const strip = (s: IntentStatusBody | undefined) =>
    s ? JSON.stringify({ g: s.observedGeneration, c: s.conditions.map(({ lastTransitionTime: _t, ...c }) => c) }) : '';
  return strip(a) === strip(b);
}

/** Reads a stored status back, tolerating anything (another writer, an older Trellis). */
export function parseStoredStatus(status: unknown): IntentStatusBody | undefined {
  if (!status || typeof status !== 'object') return undefined;
  const s = status as Record<string, unknown>;
  if (!Array.isArray(s.conditions)) return undefined;
  const conditions = s.conditions.filter((c): c is KubeCondition => !!c && typeof c === 'object' && typeof (c as KubeCondition).type === 'string');
  return { ...(typeof s.observedGeneration === 'number' ? { observedGeneration: s.observedGeneration } : {}), conditions };
}
