/**
 * A snapshot is the complete config one proxy (or a group of identical
 * proxies) should hold: per type, a set of versioned resources. Snapshots are
 * immutable; a change makes a new one that shares every unchanged TypeSet, so
 * streams can tell "nothing changed for this type" by identity.
 */
import { createHash, type Hash } from 'node:crypto';
import { LayeredMap } from './layered-map.ts';
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
    /** Set by `layered`: the shared base and this set's own resources, whose union `items` is. */
    readonly layers?: { readonly base: TypeSet; readonly own: ReadonlyMap<string, VersionedResource> },
  ) {
    if (layers) {
      // A shared base and this set's own resources: hash the base's version and the own part only.
      const h = createHash('sha256').update('layered\0').update(layers.base.version).update('\n');
      hashItems(h, layers.own);
      this.version = h.digest('base64url').slice(0, 22);
    } else {
      this.version = items.size === 0 ? 'empty' : hashItems(createHash('sha256'), items).digest('base64url').slice(0, 22);
    }
    this.createdAt = createdAt;
  }

  /**
   * A set of `base`'s resources and `own` (names disjoint from the base's):
   * the base's map is shared, not copied, and comparing two such sets over
   * the same pair of bases compares the bases once for every set built on
   * them (issue 14: a thousand proxies sharing one scope's clusters). Its
   * version hashes the base's version and the own resources, so it differs
   * from a flat set's with the same content: versions stay content hashes
   * for every set built the same way.
   */
  static layered(base: TypeSet, own: Iterable<VersionedResource>, createdAt?: number): TypeSet {
    const top = TypeSet.of(base.typeUrl, own).items;
    return new TypeSet(base.typeUrl, new LayeredMap(base.items, top), createdAt, { base, own: top });
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
    let names = layeredChanges(this, from);
    if (!names) {
      names = new Set<string>();
      for (const [name, r] of this.items) if (from.items.get(name) !== r) names.add(name);
      for (const name of from.items.keys()) if (!this.items.has(name)) names.add(name);
    }
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

function hashItems(h: Hash, items: ReadonlyMap<string, VersionedResource>): Hash {
  for (const name of [...items.keys()].sort()) h.update(name).update('\0').update(items.get(name)!.version).update('\n');
  return h;
}

/**
 * Two layered sets: what changed between their bases (memoized on the base
 * pair, so shared by every set built on them), plus what differs among their
 * own resources; each candidate checked against the whole sets, so a name
 * moving between a base and an own part is reported only if its resource
 * changed. Undefined unless both sets are layered.
 */
function layeredChanges(to: TypeSet, from: TypeSet): Set<string> | undefined {
  if (!to.layers || !from.layers) return undefined;
  const names = new Set<string>();
  const candidates = [to.layers.base.changedSince(from.layers.base), to.layers.own.keys(), from.layers.own.keys()];
  for (const list of candidates) for (const n of list) if (to.items.get(n) !== from.items.get(n)) names.add(n);
  return names;
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

/**
 * Per-base answers, computed once for every layered set built on the base
 * (issue 14): the endpoint sets its clusters name, those missing from an
 * endpoint set, and which clusters a route or listener names that it lacks.
 */
const baseWanted = new WeakMap<TypeSet, ReadonlySet<string>>();
const baseMissingEndpoints = new WeakMap<TypeSet, WeakMap<TypeSet, readonly string[]>>();
const missingFromBase = new WeakMap<VersionedResource, WeakMap<TypeSet, readonly string[]>>();

function memo2<A extends object, B extends object, V>(table: WeakMap<A, WeakMap<B, V>>, a: A, b: B, compute: () => V): V {
  let byB = table.get(a);
  if (!byB) table.set(a, (byB = new WeakMap()));
  let v = byB.get(b);
  if (v === undefined) byB.set(b, (v = compute()));
  return v;
}

function endpointsNamedBy(clusters: Iterable<VersionedResource>): Set<string> {
  const out = new Set<string>();
  for (const c of clusters) for (const e of c.references.endpoints) out.add(e);
  return out;
}

/** The endpoint sets `clusters` names; for a layered set, the base's part once per base. */
function wantedEndpointsOf(clusters: TypeSet): Set<string> {
  if (!clusters.layers) return endpointsNamedBy(clusters.items.values());
  const { base, own } = clusters.layers;
  let fromBase = baseWanted.get(base);
  if (!fromBase) baseWanted.set(base, (fromBase = endpointsNamedBy(base.items.values())));
  return new Set([...fromBase, ...endpointsNamedBy(own.values())]);
}

/** EDS clusters whose endpoint set is missing from `endpoints`. */
function missingEndpoints(clusters: TypeSet, endpoints: TypeSet): string[] {
  const missing = (names: Iterable<string>) => [...names].filter((n) => !endpoints.items.has(n));
  if (!clusters.layers) return missing(endpointsNamedBy(clusters.items.values()));
  const { base, own } = clusters.layers;
  const fromBase = memo2(baseMissingEndpoints, base, endpoints, () => missing(endpointsNamedBy(base.items.values())));
  return [...fromBase, ...missing(endpointsNamedBy(own.values()))];
}

/** The clusters `r` names that `clusters` lacks; against a layered set, the base's part once per (resource, base). */
function missingClusters(r: VersionedResource, clusters: TypeSet): readonly string[] {
  if (!clusters.layers) return r.references.clusters.filter((c) => !clusters.items.has(c));
  const { base, own } = clusters.layers;
  const notInBase = memo2(missingFromBase, r, base, () => r.references.clusters.filter((c) => !base.items.has(c)));
  return notInBase.length === 0 ? notInBase : notInBase.filter((c) => !own.has(c));
}

function computeConsistency(snapshot: Snapshot, options: ConsistencyOptions): ConsistencyProblem[] {
  const problems: ConsistencyProblem[] = [];
  const clusters = snapshot.get(TypeUrl.Cluster);
  const listeners = snapshot.get(TypeUrl.Listener);
  const routes = snapshot.get(TypeUrl.Route);
  const endpoints = snapshot.get(TypeUrl.Endpoint);
  if (options.endpointsShared) {
    for (const name of missingEndpoints(clusters, endpoints)) {
      problems.push({ typeUrl: TypeUrl.Cluster, name, message: `EDS cluster "${name}" has no endpoint set` });
    }
  } else {
    const wantedEndpoints = wantedEndpointsOf(clusters);
    for (const name of endpoints.items.keys()) {
      if (!wantedEndpoints.has(name)) {
        problems.push({ typeUrl: TypeUrl.Endpoint, name, message: `endpoints "${name}" belong to no EDS cluster` });
      }
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
    for (const c of missingClusters(r, clusters)) {
      problems.push({ typeUrl: r.typeUrl, name: r.name, message: `refers to cluster "${c}", which does not exist` });
    }
  }
  return problems;
}
