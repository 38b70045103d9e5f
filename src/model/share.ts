/**
 * A new model that reuses the previous model's object for every entity whose
 * content did not change (issue 14: one TrafficPolicy edit on the 1,000 ×
 * 1,000 mesh rebuilt 1,000 services and 1,000 workloads as new objects, and
 * everything that reads the model once per object — signature digests
 * (translate/signature.ts), content keys of the translation memo
 * (translate/memo.ts) — serialized and hashed all of them again).
 *
 * Sharing is by content, so the model is the one a fresh build gives: an
 * entity is replaced only by a previous one that is equal field by field, in
 * the same key order (so even its JSON is the same), and model objects are
 * plain data that nobody mutates (types.ts). What a memo per model object
 * reads beside the object must be unchanged too (a service's splits). A whole entity is shared or
 * none of it, so identities within one entity (a port whose cluster policy
 * is its own policy object) stay as the build made them. A map all of whose
 * entries are shared is itself the previous map.
 */
import type { MeshModel } from './types.ts';

export function shareUnchanged(next: MeshModel, previous: MeshModel | undefined): MeshModel {
  if (!previous) return next;
  const splits = shareMap(next.splits, previous.splits);
  return {
    ...next,
    mesh: same(next.mesh, previous.mesh) ? previous.mesh : next.mesh,
    // A service's digest covers the splits rooted at it, read by key (translate/signature.ts
    // serviceDigest, once per service object): a service is shared only with the very splits it was read with.
    services: shareMap(next.services, previous.services, (s) => s.splits.every((k) => splits.get(k) === previous.splits.get(k))),
    workloads: shareMap(next.workloads, previous.workloads),
    identities: shareMap(next.identities, previous.identities),
    routeGroups: shareMap(next.routeGroups, previous.routeGroups),
    splits,
    accessRules: shareMap(next.accessRules, previous.accessRules),
    accessByDestination: shareMap(next.accessByDestination, previous.accessByDestination),
    policies: shareMap(next.policies, previous.policies),
    authentications: shareMap(next.authentications, previous.authentications),
    namespaces: same(next.namespaces, previous.namespaces) ? previous.namespaces : next.namespaces,
    externalServices: shareMap(next.externalServices, previous.externalServices),
    gateways: shareMap(next.gateways, previous.gateways),
    rollouts: shareMap(next.rollouts, previous.rollouts),
  };
}

/** `also`: what else must hold for an equal entity to be shared (what a per-object memo reads beside it). */
function shareMap<V>(next: ReadonlyMap<string, V>, previous: ReadonlyMap<string, V>, also: (value: V) => boolean = () => true): ReadonlyMap<string, V> {
  const out = new Map<string, V>();
  let all = next.size === previous.size;
  const before = previous.keys();
  for (const [key, value] of next) {
    const old = previous.get(key);
    const shared = old !== undefined && same(value, old) && also(value);
    out.set(key, shared ? old : value);
    // The previous map itself only with the same keys in the same order (iteration order is content too).
    if (!shared || before.next().value !== key) all = false;
  }
  return all ? previous : out;
}

/**
 * Equal as plain data, key order included. Anything else (a Map, a class
 * instance, NaN) is unequal unless identical: never shared, always safe.
 */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i] || !same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
