/**
 * Rollouts: the root, stable and canary services exist in the Rollout's
 * namespace; the TrafficSplit or HTTPRoute rule it drives exists, routes the
 * root service and lists both backends (and no other with a positive
 * weight: the steps are percentages of the two); one Rollout per service
 * (the one that held it in the previous build, else the older).
 *
 * Then the driven objects' weights are replaced, before splits and routes
 * are resolved: canary = the progress's weight when it is of this revision,
 * else 0; stable = 100 - canary. Everything downstream (split checks,
 * routes, translation, signatures) sees only the replaced weights, so a
 * fresh build given the same progress serves the very same config as the
 * running one (DESIGN: incremental == fresh).
 */
import { createHash } from 'node:crypto';
import type { MeshRouteSpec } from '../kinds/http-route.ts';
import type { RolloutSpec } from '../kinds/rollout.ts';
import type { TrafficSplitSpec } from '../kinds/traffic-split.ts';
import { didYouMean } from '../suggest.ts';
import type { MeshRollout, ObjectKey, RolloutWeight } from '../types.ts';
import { objectKey, olderFirst, sortedMap, type Book, type Entry } from './book.ts';
import type { Incumbents } from './incumbents.ts';
import { writtenAt } from './incumbents.ts';

export interface RolloutInputs {
  rollouts: readonly Entry<RolloutSpec>[];
  /** Names of the services that resolved, by key. */
  services: ReadonlyMap<ObjectKey, { namespace: string; name: string }>;
  splits: readonly Entry<TrafficSplitSpec>[];
  httpRoutes: readonly Entry<MeshRouteSpec>[];
  progress: ReadonlyMap<ObjectKey, RolloutWeight> | undefined;
}

export interface ResolvedRollouts {
  rollouts: Map<ObjectKey, MeshRollout>;
  /** The TrafficSplits and HTTPRoutes, with the weights of the driven ones replaced. */
  splits: Entry<TrafficSplitSpec>[];
  httpRoutes: Entry<MeshRouteSpec>[];
}

/**
 * The spec's digest: what a recorded progress must match to apply. In a
 * cluster the object's uid is in it too, so a Rollout deleted and created
 * again starts over even when its spec is the same.
 */
export function rolloutRevision(spec: RolloutSpec, uid?: string): string {
  return createHash('sha256').update(JSON.stringify(uid === undefined ? spec : [spec, uid])).digest('base64url').slice(0, 12);
}

export function resolveRollouts(inputs: RolloutInputs, book: Book, incumbents: Incumbents): ResolvedRollouts {
  const { services } = inputs;
  const candidates: { e: Entry<RolloutSpec>; rollout: MeshRollout }[] = [];
  for (const e of inputs.rollouts.toSorted(olderFirst)) {
    const ns = e.namespace;
    const names = [...services.values()].filter((s) => s.namespace === ns).map((s) => s.name);
    const need = (field: string, name: string, what: string): boolean => {
      if (services.has(objectKey(ns, name))) return true;
      book.error(e, field, 'RefNotFound', `service "${name}" does not exist in namespace "${ns}" (or is invalid).${didYouMean(name, names)} Expected ${what}`);
      return false;
    };
    const ok = [
      need('spec.service', e.spec.service, 'the root service clients call'),
      need('spec.stable', e.spec.stable, 'the backend service of the current version'),
      need('spec.canary', e.spec.canary, 'the backend service of the new version'),
    ].every(Boolean);
    checkTarget(e, inputs, book);
    if (!ok || book.rejected(e)) continue;
    const revision = rolloutRevision(e.spec, e.obj.origin.source === 'kubernetes' ? e.obj.origin.uid : undefined);
    const recorded = inputs.progress?.get(e.key);
    const canaryWeight = recorded && recorded.revision === revision ? Math.min(100, Math.max(0, Math.round(recorded.canaryWeight))) : 0;
    candidates.push({
      e,
      rollout: {
        key: e.key, namespace: ns, name: e.name,
        service: objectKey(ns, e.spec.service), stable: objectKey(ns, e.spec.stable), canary: objectKey(ns, e.spec.canary),
        target: e.spec.target, steps: e.spec.steps, analysis: e.spec.analysis, revision, canaryWeight,
      },
    });
  }
  // One Rollout per service: two would drive the same weights against each other.
  const held = candidates.filter((c) => incumbents.held(c.e));
  const ordered = [...held, ...candidates.filter((c) => !held.includes(c))];
  const owner = new Map<ObjectKey, Entry<RolloutSpec>>();
  const accepted: MeshRollout[] = [];
  for (const { e, rollout } of ordered) {
    const first = owner.get(rollout.service);
    if (first) {
      book.error(e, 'spec.service', 'Conflict', `Rollout "${first.name}"${writtenAt(first)} already rolls out service "${e.spec.service}" and only one may; delete one, or wait for "${first.name}" to finish and delete it`);
      continue;
    }
    owner.set(rollout.service, e);
    accepted.push(rollout);
  }
  const byTarget = new Map(accepted.map((r) => [`${r.target.kind}/${objectKey(r.namespace, r.target.name)}`, r]));
  return {
    rollouts: sortedMap(accepted.map((r) => [r.key, r])),
    splits: inputs.splits.map((s) => withSplitWeights(s, byTarget.get(`TrafficSplit/${s.key}`))),
    httpRoutes: inputs.httpRoutes.map((r) => withRouteWeights(r, byTarget.get(`HTTPRoute/${r.key}`))),
  };
}

/** The driven object exists, routes the root service and lists both backends (and none other with weight). */
function checkTarget(e: Entry<RolloutSpec>, inputs: RolloutInputs, book: Book): void {
  const { kind, name, rule } = e.spec.target;
  const { stable, canary, service } = e.spec;
  const key = objectKey(e.namespace, name);
  const list = (kind === 'TrafficSplit' ? inputs.splits : inputs.httpRoutes) as readonly Entry<unknown>[];
  const target = list.find((t) => t.key === key);
  if (!target) {
    const names = list.filter((t) => t.namespace === e.namespace).map((t) => t.name);
    book.error(e, 'spec.trafficRef.name', 'RefNotFound', `${kind} "${name}" does not exist in namespace "${e.namespace}" (or cannot be read).${didYouMean(name, names)} Expected the ${kind} whose weights this rollout drives`);
    return;
  }
  let backends: readonly { name: string; weight: number }[];
  if (kind === 'TrafficSplit') {
    const split = target.spec as TrafficSplitSpec;
    if (split.service !== service) {
      book.error(e, 'spec.trafficRef.name', 'InvalidValue', `TrafficSplit "${name}" splits service "${split.service}", not "${service}"; name the split of "${service}"`);
      return;
    }
    backends = split.backends.map((b) => ({ name: b.service, weight: b.weight }));
  } else {
    const route = target.spec as MeshRouteSpec;
    if (!route.parentRefs.some((p) => (p.group === '' || p.group === 'core') && p.kind === 'Service' && p.name === service && p.namespace === e.namespace)) {
      book.error(e, 'spec.trafficRef.name', 'InvalidValue', `HTTPRoute "${name}" has no parentRef naming service "${service}"; name the route attached to "${service}"`);
      return;
    }
    const rules = route.rules;
    const picked = rule === undefined ? (rules.length === 1 ? rules[0] : undefined) : rules.find((r) => r.name === rule);
    if (!picked) {
      const field = rule === undefined ? 'spec.trafficRef' : 'spec.trafficRef.rule';
      const why = rule === undefined ? `HTTPRoute "${name}" has ${rules.length} rules; say which one this rollout drives with rule (a rule's name, or its index)` : `HTTPRoute "${name}" has no rule "${rule}"; expected one of: ${rules.map((r) => r.name).join(', ')}`;
      book.error(e, field, rule === undefined ? 'Required' : 'RefNotFound', why);
      return;
    }
    backends = picked.backends.filter((b) => (b.group === '' || b.group === 'core') && b.kind === 'Service' && b.namespace === e.namespace).map((b) => ({ name: b.name, weight: b.weight }));
    const foreign = picked.backends.filter((b) => b.namespace !== e.namespace && b.weight > 0);
    if (foreign.length > 0) backends = [...backends, ...foreign.map((b) => ({ name: `${b.namespace}/${b.name}`, weight: b.weight }))];
  }
  const what = kind === 'TrafficSplit' ? `TrafficSplit "${name}"` : `HTTPRoute "${name}" rule "${rule ?? '0'}"`;
  for (const [field, svc] of [['spec.stable', stable], ['spec.canary', canary]] as const) {
    if (!backends.some((b) => b.name === svc)) book.error(e, field, 'RefNotFound', `${what} has no backend "${svc}"; add it (any weight: the rollout sets it) or name one of: ${backends.map((b) => b.name).join(', ')}`);
  }
  const others = backends.filter((b) => b.name !== stable && b.name !== canary && b.weight > 0);
  if (others.length > 0) {
    book.error(e, 'spec.trafficRef', 'InvalidValue', `${what} also sends requests to ${others.map((b) => `"${b.name}"`).join(', ')}; a rollout's steps are percentages of its stable and canary backends alone. Set the others' weight to 0 or remove them`);
  }
}

function withSplitWeights(s: Entry<TrafficSplitSpec>, r: MeshRollout | undefined): Entry<TrafficSplitSpec> {
  if (!r) return s;
  const weightOf = (service: string, weight: number) => (objectKey(s.namespace, service) === r.canary ? r.canaryWeight : objectKey(s.namespace, service) === r.stable ? 100 - r.canaryWeight : weight);
  return { ...s, spec: { ...s.spec, backends: s.spec.backends.map((b) => ({ ...b, weight: weightOf(b.service, b.weight) })) } };
}

function withRouteWeights(e: Entry<MeshRouteSpec>, r: MeshRollout | undefined): Entry<MeshRouteSpec> {
  if (!r) return e;
  const rules = e.spec.rules;
  const driven = r.target.rule === undefined ? rules[0] : rules.find((x) => x.name === r.target.rule);
  const weightOf = (ns: string, name: string, weight: number) => (objectKey(ns, name) === r.canary ? r.canaryWeight : objectKey(ns, name) === r.stable ? 100 - r.canaryWeight : weight);
  return {
    ...e,
    spec: { ...e.spec, rules: rules.map((x) => (x !== driven ? x : { ...x, backends: x.backends.map((b) => ({ ...b, weight: weightOf(b.namespace, b.name, b.weight) })) })) },
  };
}
