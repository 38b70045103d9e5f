/**
 * Per-node views of the config, behind the ConfigWatcher seam
 * (config-watcher.ts, whose contract this implements): writers (a resources
 * file, the mesh publisher) set snapshots by key; the xDS server watches
 * nodes. The cache knows nothing of gRPC.
 *
 * Proxies that should hold identical config share one key (and so one
 * snapshot object and one set of encoded bytes); the `keyOf` function decides.
 */
import { PUSH_ORDER, type ResourceTypeUrl } from '../xds/type-urls.ts';
import type { NodeInfo } from '../xds/wire.ts';
import type { ConfigListener, ConfigWatch, ConfigWatcher } from './config-watcher.ts';
import { checkConsistency, Snapshot, TypeSet, type ConsistencyOptions, type ConsistencyProblem } from './snapshot.ts';

export interface DemandListener {
  /** A key gained its first watcher: its config is now wanted. */
  onDemand?(key: string, node: NodeInfo): void;
  /** A key lost its last watcher. */
  onIdle?(key: string): void;
}

export type SetResult = { ok: true; changedTypes: ResourceTypeUrl[] } | { ok: false; problems: ConsistencyProblem[] };

export class SnapshotCache implements ConfigWatcher {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly watchers = new Map<string, Set<ConfigListener>>();
  private readonly demand: DemandListener[] = [];
  /** > 0 while listeners are being told of a change: writes then are a bug (see ConfigWatcher). */
  private notifying = 0;

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
    this.assertNotNotifying();
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
      if (a) b.changedSince(a); // computed once here, then shared by every stream of the key
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
    this.assertNotNotifying();
    const prev = this.snapshots.get(key) ?? Snapshot.empty();
    const next = prev.withType(set);
    // The hot path (new endpoints for a thousand proxies): when the set only
    // changed content, not names, every reference holds as before and the
    // consistency check cannot change its answer; skip it.
    const old = prev.get(set.typeUrl);
    if (this.snapshots.has(key) && [...set.changedSince(old)].every((n) => old.items.has(n) && set.items.has(n))) {
      return this.commit(key, prev, next);
    }
    return this.set(key, next, options);
  }

  delete(key: string): void {
    this.snapshots.delete(key);
  }

  /** The server's side of the seam: a watch on the key `node` maps to. */
  createWatch(node: NodeInfo, onChange: ConfigListener): ConfigWatch {
    const key = this.keyOf(node);
    const cancel = this.watch(key, node, onChange);
    return { current: () => this.snapshots.get(key), cancel };
  }

  /**
   * Watch a key directly (writers' tests and benchmarks create demand this
   * way); the same contract as createWatch. Returns an idempotent cancel.
   */
  watch(key: string, node: NodeInfo, watcher: ConfigListener): () => void {
    let set = this.watchers.get(key);
    const first = !set;
    if (!set) {
      set = new Set();
      this.watchers.set(key, set);
    }
    set.add(watcher);
    // After adding: a demand listener may publish at once, and this watcher must hear it.
    if (first) for (const d of this.demand) d.onDemand?.(key, node);
    let cancelled = false;
    return () => {
      if (cancelled) return;
      cancelled = true;
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

  /** In watch order; a Set skips members deleted during iteration, so a cancelled watch hears nothing more. */
  private notify(key: string, next: Snapshot, changed: ReadonlySet<ResourceTypeUrl>): void {
    const set = this.watchers.get(key);
    if (!set) return;
    this.notifying++;
    try {
      for (const w of set) w(next, changed);
    } finally {
      this.notifying--;
    }
  }

  private assertNotNotifying(): void {
    if (this.notifying > 0) {
      throw new Error('SnapshotCache written from inside a watch listener; listeners must only record and schedule (see ConfigWatcher)');
    }
  }
}
