/**
 * Per-node views of the config. The seam between whatever computes config
 * (a fixture file, the mesh translator) and the xDS server, in the manner of
 * go-control-plane's cache: the server only watches a key; the cache knows
 * nothing of gRPC.
 *
 * Proxies that should hold identical config share one key (and so one
 * snapshot object and one set of encoded bytes); the `keyOf` function decides.
 */
import { PUSH_ORDER, type ResourceTypeUrl } from '../xds/type-urls.ts';
import type { NodeInfo } from '../xds/wire.ts';
import { checkConsistency, Snapshot, TypeSet, type ConsistencyOptions, type ConsistencyProblem } from './snapshot.ts';

export type SnapshotWatcher = (next: Snapshot, changedTypes: ReadonlySet<ResourceTypeUrl>) => void;

export interface DemandListener {
  /** A key gained its first watcher: its config is now wanted. */
  onDemand?(key: string, node: NodeInfo): void;
  /** A key lost its last watcher. */
  onIdle?(key: string): void;
}

export type SetResult = { ok: true; changedTypes: ResourceTypeUrl[] } | { ok: false; problems: ConsistencyProblem[] };

/**
 * Names whose resource differs between two sets of the same type, memoized
 * on the pair so that a thousand streams moving from `a` to `b` pay for the
 * comparison once (XDS_RULES 26 and "work proportional to what changed").
 */
const changedMemo = new WeakMap<TypeSet, { from: TypeSet; names: ReadonlySet<string> }>();

export function changedNames(from: TypeSet, to: TypeSet): ReadonlySet<string> {
  const memo = changedMemo.get(to);
  if (memo && memo.from === from) return memo.names;
  const names = new Set<string>();
  for (const [name, r] of to.items) if (from.items.get(name) !== r) names.add(name);
  for (const name of from.items.keys()) if (!to.items.has(name)) names.add(name);
  changedMemo.set(to, { from, names });
  return names;
}

export class SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly watchers = new Map<string, Set<SnapshotWatcher>>();
  private readonly demand: DemandListener[] = [];

  constructor(readonly keyOf: (node: NodeInfo) => string = () => '*') {}

  onDemand(listener: DemandListener): void {
    this.demand.push(listener);
  }

  get(key: string): Snapshot | undefined {
    return this.snapshots.get(key);
  }

  keys(): string[] {
    return [...this.snapshots.keys()];
  }

  /** Replace a key's snapshot after checking its consistency. Watchers hear only of types that changed. */
  set(key: string, next: Snapshot, options: ConsistencyOptions = {}): SetResult {
    const problems = checkConsistency(next, options);
    if (problems.length > 0) return { ok: false, problems };
    return this.commit(key, this.snapshots.get(key), next);
  }

  /** Store a checked snapshot; watchers hear only of the types that changed. */
  private commit(key: string, prev: Snapshot | undefined, next: Snapshot): SetResult {
    const changed: ResourceTypeUrl[] = [];
    const merged = new Map<ResourceTypeUrl, TypeSet>();
    for (const t of PUSH_ORDER) {
      const a = prev?.get(t);
      const b = next.get(t);
      // Keep the old object for equal content: streams compare sets by identity.
      if (a && (a === b || a.version === b.version)) {
        merged.set(t, a);
        continue;
      }
      merged.set(t, b);
      if (a) changedNames(a, b);
      changed.push(t);
    }
    next = new Snapshot(merged);
    this.snapshots.set(key, next);
    if (changed.length > 0) this.notify(key, next, new Set(changed));
    return { ok: true, changedTypes: changed };
  }

  /**
   * Replace one type only: the endpoint fast path, which skips rebuilding
   * listeners and routes when only endpoints moved.
   */
  setType(key: string, set: TypeSet, options: ConsistencyOptions = {}): SetResult {
    const prev = this.snapshots.get(key) ?? Snapshot.empty();
    const next = prev.withType(set);
    // The hot path (new endpoints for a thousand proxies): when the set only
    // changed content, not names, every reference holds as before and the
    // consistency check cannot change its answer; skip it.
    const old = prev.get(set.typeUrl);
    if (this.snapshots.has(key) && [...changedNames(old, set)].every((n) => old.items.has(n) && set.items.has(n))) {
      return this.commit(key, prev, next);
    }
    return this.set(key, next, options);
  }

  delete(key: string): void {
    this.snapshots.delete(key);
  }

  watch(key: string, node: NodeInfo, watcher: SnapshotWatcher): () => void {
    let set = this.watchers.get(key);
    const first = !set;
    if (!set) {
      set = new Set();
      this.watchers.set(key, set);
    }
    set.add(watcher);
    // After adding: a demand listener may publish at once, and this watcher must hear it.
    if (first) for (const d of this.demand) d.onDemand?.(key, node);
    return () => {
      const s = this.watchers.get(key);
      if (!s) return;
      s.delete(watcher);
      if (s.size === 0) {
        this.watchers.delete(key);
        for (const d of this.demand) d.onIdle?.(key);
      }
    };
  }

  watcherCount(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
    return n;
  }

  private notify(key: string, next: Snapshot, changed: ReadonlySet<ResourceTypeUrl>): void {
    const set = this.watchers.get(key);
    if (!set) return;
    for (const w of set) w(next, changed);
  }
}
