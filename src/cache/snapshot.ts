/**
 * A snapshot is the complete config one proxy (or a group of identical
 * proxies) should hold: per type, a set of versioned resources. Snapshots are
 * immutable; a change makes a new one that shares every unchanged TypeSet, so
 * streams can tell "nothing changed for this type" by identity.
 */
import { createHash } from 'node:crypto';
import { PUSH_ORDER, SHORT_NAMES, TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';
import type { VersionedResource } from './resource.ts';

/**
 * Per set, the comparisons made against it, by the set compared from. Both
 * levels are weak, and a result holds names only, never a set: an entry lives
 * while both its sets do (while some stream still holds `from` as what it
 * was sent), and the memo keeps no set alive. Holding `from` itself, as this
 * memo once did, chained every set to its predecessor, so every set since
 * start stayed reachable with its encoded bytes (issue 16 bug 1). Several
 * `from`s per set, because a slow stream still at an older set and the fast
 * ones at the previous set flush against the same current set; each pair is
 * compared once.
 */
const changedMemo = new WeakMap<TypeSet, WeakMap<TypeSet, ReadonlySet<string>>>();

export class TypeSet {
  /** SotW version_info: a hash over (name, version) pairs, so equal sets have equal versions. */
  readonly version: string;
  /** When the content of this set was produced; change-to-ACK latency counts from here. */
  readonly createdAt: number;

  constructor(
    readonly typeUrl: ResourceTypeUrl,
    readonly items: ReadonlyMap<string, VersionedResource>,
    createdAt: number = Date.now(),
  ) {
    const h = createHash('sha256');
    for (const name of [...items.keys()].sort()) h.update(name).update('\0').update(items.get(name)!.version).update('\n');
    this.version = items.size === 0 ? 'empty' : h.digest('base64url').slice(0, 22);
    this.createdAt = createdAt;
  }

  get(name: string): VersionedResource | undefined {
    return this.items.get(name);
  }

  /**
   * Names whose resource differs between `from` and this set (changed, added
   * or removed), memoized on the pair so that a thousand streams moving from
   * `from` to this set pay for the comparison once (XDS_RULES 26: work
   * proportional to what changed, not to the number of streams).
   */
  changedSince(from: TypeSet): ReadonlySet<string> {
    let byFrom = changedMemo.get(this);
    const memo = byFrom?.get(from);
    if (memo) return memo;
    const names = new Set<string>();
    for (const [name, r] of this.items) if (from.items.get(name) !== r) names.add(name);
    for (const name of from.items.keys()) if (!this.items.has(name)) names.add(name);
    if (!byFrom) changedMemo.set(this, (byFrom = new WeakMap()));
    byFrom.set(from, names);
    return names;
  }

  static of(typeUrl: ResourceTypeUrl, resources: Iterable<VersionedResource>, createdAt?: number): TypeSet {
    const items = new Map<string, VersionedResource>();
    for (const r of resources) {
      if (r.typeUrl !== typeUrl) throw new Error(`TypeSet ${typeUrl} got a ${r.typeUrl}`);
      // XDS_RULES 6: no name twice in one response, so none twice in one set.
      if (items.has(r.name)) throw new Error(`duplicate ${SHORT_NAMES[typeUrl]} resource name "${r.name}"`);
      items.set(r.name, r);
    }
    return new TypeSet(typeUrl, items, createdAt);
  }

  /** A copy with some resources replaced or removed; shares unchanged entries. */
  with(changes: { upsert?: Iterable<VersionedResource>; remove?: Iterable<string> }, createdAt?: number): TypeSet {
    const items = new Map(this.items);
    for (const name of changes.remove ?? []) items.delete(name);
    for (const r of changes.upsert ?? []) items.set(r.name, r);
    return new TypeSet(this.typeUrl, items, createdAt);
  }
}

export const EMPTY_SETS: ReadonlyMap<ResourceTypeUrl, TypeSet> = new Map(
  PUSH_ORDER.map((t) => [t, new TypeSet(t, new Map(), 0)]),
);

export class Snapshot {
  readonly types: ReadonlyMap<ResourceTypeUrl, TypeSet>;

  constructor(types: Partial<Record<ResourceTypeUrl, TypeSet>> | ReadonlyMap<ResourceTypeUrl, TypeSet>) {
    const m = new Map<ResourceTypeUrl, TypeSet>();
    for (const t of PUSH_ORDER) {
      const given = types instanceof Map ? types.get(t) : (types as Partial<Record<ResourceTypeUrl, TypeSet>>)[t];
      m.set(t, given ?? EMPTY_SETS.get(t)!);
    }
    this.types = m;
  }

  get(typeUrl: ResourceTypeUrl): TypeSet {
    return this.types.get(typeUrl)!;
  }

  withType(set: TypeSet): Snapshot {
    const m = new Map(this.types);
    m.set(set.typeUrl, set);
    return new Snapshot(m);
  }

  static empty(): Snapshot {
    return new Snapshot({});
  }
}

export interface ConsistencyProblem {
  typeUrl: ResourceTypeUrl;
  name: string;
  message: string;
}

/**
 * Checked before a snapshot is served (go-control-plane's Snapshot.Consistent):
 * every endpoint set belongs to an EDS cluster and every route configuration
 * to a listener that names it; every cluster a route names exists. A snapshot
 * that fails is not served; the previous one stays.
 */
export interface ConsistencyOptions {
  /**
   * The endpoint set is mesh-wide and shared by every proxy (runtime/
   * publisher.ts): endpoints need not each have a cluster in this snapshot,
   * but every EDS cluster must find its endpoints.
   */
  endpointsShared?: boolean;
}

/**
 * Proxies share TypeSets, so the same combination is checked once: memo on
 * the cluster set, with the other sets it was checked with held weakly (a
 * memo must not keep old endpoint sets, bytes and all, alive: issue 16 bug 1).
 */
const checked = new WeakMap<TypeSet, Array<{ sets: Array<WeakRef<TypeSet>>; shared: boolean; problems: ConsistencyProblem[] }>>();

export function checkConsistency(snapshot: Snapshot, options: ConsistencyOptions = {}): ConsistencyProblem[] {
  const sets = [TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route].map((t) => snapshot.get(t));
  const shared = options.endpointsShared ?? false;
  const seen = checked.get(snapshot.get(TypeUrl.Cluster)) ?? [];
  const hit = seen.find((e) => e.shared === shared && e.sets.every((s, i) => s.deref() === sets[i]));
  if (hit) return hit.problems;
  const problems = computeConsistency(snapshot, options);
  seen.push({ sets: sets.map((s) => new WeakRef(s)), shared, problems });
  if (seen.length > 8) seen.shift();
  checked.set(snapshot.get(TypeUrl.Cluster), seen);
  return problems;
}

function computeConsistency(snapshot: Snapshot, options: ConsistencyOptions): ConsistencyProblem[] {
  const problems: ConsistencyProblem[] = [];
  const clusters = snapshot.get(TypeUrl.Cluster);
  const listeners = snapshot.get(TypeUrl.Listener);
  const routes = snapshot.get(TypeUrl.Route);
  const wantedEndpoints = new Set<string>();
  for (const c of clusters.items.values()) for (const e of c.references.endpoints) wantedEndpoints.add(e);
  const endpoints = snapshot.get(TypeUrl.Endpoint);
  if (options.endpointsShared) {
    for (const name of wantedEndpoints) {
      if (!endpoints.items.has(name)) problems.push({ typeUrl: TypeUrl.Cluster, name, message: `EDS cluster "${name}" has no endpoint set` });
    }
  }
  for (const name of options.endpointsShared ? [] : endpoints.items.keys()) {
    if (!wantedEndpoints.has(name)) {
      problems.push({ typeUrl: TypeUrl.Endpoint, name, message: `endpoints "${name}" belong to no EDS cluster` });
    }
  }
  const wantedRoutes = new Set<string>();
  for (const l of listeners.items.values()) for (const r of l.references.routes) wantedRoutes.add(r);
  for (const name of routes.items.keys()) {
    if (!wantedRoutes.has(name)) {
      problems.push({ typeUrl: TypeUrl.Route, name, message: `route configuration "${name}" is used by no listener` });
    }
  }
  for (const r of [...routes.items.values(), ...listeners.items.values()]) {
    for (const c of r.references.clusters) {
      if (!clusters.items.has(c)) {
        problems.push({ typeUrl: r.typeUrl, name: r.name, message: `refers to cluster "${c}", which does not exist` });
      }
    }
  }
  return problems;
}
