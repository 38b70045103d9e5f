/**
 * trellis.io/v1alpha1 Rollout: progressive delivery of one service's canary
 * (docs/intents.md "Rollout"). It names the root service, its stable and
 * canary backend services, the TrafficSplit or HTTPRoute rule whose weights
 * it drives (by reference: that object keeps its matches, ports and filters),
 * the weight steps with their pauses, and the analysis gates read from the
 * golden metrics of the canary backend (success rate, p99 latency, a
 * minimum request count over a window).
 *
 * While a Rollout drives an object, Trellis owns the weights of its stable and
 * canary backends: they come from the rollout's progress (a model input,
 * resolve/rollouts.ts), never from the object, so the folder or the cluster
 * is never rewritten and a GitOps tool re-applying the object cannot fight
 * the controller. Cross-object checks are in resolve/rollouts.ts.
 */
import type { Field } from '../field.ts';
import { describe } from '../field.ts';
import type { KindSpec } from './kind.ts';

export const ROLLOUT_TARGET_KINDS = ['TrafficSplit', 'HTTPRoute'] as const;
export type RolloutTargetKind = (typeof ROLLOUT_TARGET_KINDS)[number];

export interface RolloutStep {
  /** The canary's share of requests, percent (1–100). */
  weight: number;
  /** How long the gates must hold at this weight before the next step. */
  pauseMs: number;
}

export interface RolloutAnalysis {
  /** Golden metrics are counted over this window (default 60 s). */
  windowMs: number;
  /** How often the gates are evaluated (default 5 s). */
  intervalMs: number;
  /** Fewer canary requests in the window than this: the gates cannot be evaluated, the rollout holds. */
  minRequests: number;
  /** Percent (0–100): the canary's success rate must be at least this. */
  successRatePercent?: number;
  /** The canary's p99 latency must be at most this. */
  latencyP99Ms?: number;
}

export interface RolloutSpec {
  service: string;
  stable: string;
  canary: string;
  target: { kind: RolloutTargetKind; name: string; rule?: string };
  steps: RolloutStep[];
  analysis: RolloutAnalysis;
}

export const ROLLOUT_DEFAULTS = { windowMs: 60_000, intervalMs: 5_000, minRequests: 20 } as const;

const SPEC_FIELDS = ['service', 'stable', 'canary', 'trafficRef', 'steps', 'analysis'] as const;
const ANALYSIS_FIELDS = ['window', 'interval', 'minRequests', 'successRate', 'latencyP99'] as const;
const DAY_MS = 86_400_000;

/** A percentage written as a number (99, 99.5): 0–100. */
function percent(f: Field): number | undefined {
  if (f.absent) return undefined;
  const v = f.value;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    const hint = typeof v === 'string' && /^\d+(\.\d+)?%$/.test(v) ? `; write it without "%": ${v.slice(0, -1)}` : '';
    f.report('InvalidType', `expected a percentage as a number such as 99 or 99.5, got ${describe(v)}${hint}`);
    return undefined;
  }
  if (v < 0 || v > 100) {
    f.report('OutOfRange', `${v} % can never be met: a success rate is between 0 and 100 %; expected a number from 0 to 100`);
    return undefined;
  }
  return v;
}

function decodeSteps(f: Field): RolloutStep[] {
  const steps: RolloutStep[] = [];
  let last = 0;
  for (const s of f.list({ required: true, minItems: 1, expected: 'a list of steps such as [{weight: 10, pause: 30s}, {weight: 50, pause: 30s}]' })) {
    if (!s.object({ known: ['weight', 'pause'], expected: 'a step such as {weight: 10, pause: 30s}' })) continue;
    const weight = s.child('weight').integer({ required: true, min: 1, max: 100, expected: "the canary's percent of requests at this step, 1 to 100" });
    const pauseMs = s.child('pause').duration({ required: true, minMs: 0, maxMs: DAY_MS });
    if (weight !== undefined && weight <= last) {
      s.child('weight').report('InvalidValue', `${weight} is not more than the step before (${last}); each step must give the canary a larger share`);
      continue;
    }
    if (weight === undefined || pauseMs === undefined) continue;
    last = weight;
    steps.push({ weight, pauseMs });
  }
  return steps;
}

function decodeAnalysis(f: Field): RolloutAnalysis | undefined {
  if (!f.object({ required: true, known: ANALYSIS_FIELDS, expected: 'a mapping such as {window: 30s, minRequests: 20, successRate: 99, latencyP99: 500ms}' })) return undefined;
  const window = f.child('window');
  const interval = f.child('interval');
  const windowMs = window.absent ? ROLLOUT_DEFAULTS.windowMs : window.duration({ minMs: 1000, maxMs: DAY_MS });
  const intervalMs = interval.absent ? ROLLOUT_DEFAULTS.intervalMs : interval.duration({ minMs: 100, maxMs: 3_600_000 });
  const min = f.child('minRequests');
  const minRequests = min.absent ? ROLLOUT_DEFAULTS.minRequests : min.integer({ min: 1, max: 1_000_000_000, expected: 'the fewest canary requests in the window that the gates are judged on' });
  const successRatePercent = percent(f.child('successRate'));
  const latency = f.child('latencyP99');
  const latencyP99Ms = latency.absent ? undefined : latency.duration({ minMs: 1, maxMs: 3_600_000 });
  if (f.child('successRate').absent && latency.absent) {
    f.report('Required', 'no gate: set successRate (percent) or latencyP99 (a duration), or both; a rollout without a gate could never roll back');
  }
  if (windowMs === undefined || intervalMs === undefined || minRequests === undefined) return undefined;
  if (intervalMs > windowMs) interval.report('OutOfRange', `the gates are evaluated every ${interval.value} but counted over a window of ${window.value ?? '60s'}; the interval must not be longer than the window`);
  return { windowMs, intervalMs, minRequests, ...(successRatePercent !== undefined ? { successRatePercent } : {}), ...(latencyP99Ms !== undefined ? { latencyP99Ms } : {}) };
}

export const rolloutKind: KindSpec<RolloutSpec> = {
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'Rollout',
  namespaced: true,
  topLevel: ['spec', 'status'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: SPEC_FIELDS })) return undefined;
    const service = spec.child('service').string({ required: true, expected: 'the name of the root service clients call, in this namespace' });
    const stable = spec.child('stable').string({ required: true, expected: 'the backend service that serves the current version' });
    const canary = spec.child('canary').string({ required: true, expected: 'the backend service that serves the new version' });
    if (stable !== undefined && stable === canary) spec.child('canary').report('InvalidValue', `the canary is the stable service "${stable}"; name the service of the new version`);
    const ref = spec.child('trafficRef');
    let target: RolloutSpec['target'] | undefined;
    if (ref.object({ required: true, known: ['kind', 'name', 'rule'], expected: 'a mapping such as {kind: TrafficSplit, name: web} or {kind: HTTPRoute, name: web, rule: canary}' })) {
      const kind = ref.child('kind').string({ required: true, oneOf: ROLLOUT_TARGET_KINDS }) as RolloutTargetKind | undefined;
      const name = ref.child('name').string({ required: true, expected: 'the name of the TrafficSplit or HTTPRoute whose weights this rollout drives, in this namespace' });
      const ruleField = ref.child('rule');
      let rule: string | undefined;
      if (!ruleField.absent) {
        if (kind === 'TrafficSplit') ruleField.report('InvalidValue', 'a TrafficSplit has no rules; leave rule out');
        rule = typeof ruleField.value === 'number' ? String(ruleField.integer({ min: 0, max: 15 })) : ruleField.string({ expected: "an HTTPRoute rule's name, or its index" });
      }
      if (kind !== undefined && name !== undefined) target = { kind, name, ...(rule !== undefined && rule !== 'undefined' ? { rule } : {}) };
    }
    const steps = decodeSteps(spec.child('steps'));
    const analysis = decodeAnalysis(spec.child('analysis'));
    if (service === undefined || stable === undefined || canary === undefined || target === undefined || analysis === undefined) return undefined;
    return { service, stable, canary, target, steps, analysis };
  },
};
