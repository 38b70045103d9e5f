/**
 * The seam between the xDS server and the cache, after go-control-plane's
 * ConfigWatcher (pkg/cache/v3/cache.go): the server knows this module and
 * nothing else of src/cache. It asks for the config of a node and hears when
 * it changes; it never learns how config is keyed, stored, checked or
 * written. So a cache can be swapped or wrapped (a test's faulty cache, a
 * per-type endpoint cache beside the snapshots) without touching the server;
 * SnapshotCache is the implementation the runtime composes.
 *
 * The types re-exported here are the values a watch hands out: immutable
 * snapshots of TypeSets of encoded resources, which the server reads and may
 * derive from (TypeSet.with, a filtered copy) but never writes into a cache.
 */
import type { ResourceTypeUrl } from '../xds/type-urls.ts';
import type { NodeInfo } from '../xds/wire.ts';
import type { Snapshot } from './snapshot.ts';

export { Snapshot, TypeSet } from './snapshot.ts';
export type { VersionedResource } from './resource.ts';
/** Counts protobuf encodes, for the server's metrics (encodes are per change, not per stream). */
export { encodeStats } from './resource.ts';

/**
 * Called with a node's new snapshot and the types whose content changed
 * (never empty: a snapshot equal to the last one notifies nobody).
 */
export type ConfigListener = (next: Snapshot, changedTypes: ReadonlySet<ResourceTypeUrl>) => void;

/**
 * Contract. Node runs everything on one thread, so there is no locking; the
 * hazards are re-entrancy and order, and they are fixed as follows.
 *
 * - Who calls what: the server calls `createWatch` once per stream (when the
 *   stream's node is known) and the returned `current`/`cancel`; only the
 *   cache's writers (runtime/publisher.ts, runtime/resources-source.ts) put
 *   config in, through the implementation's own methods, never the server.
 * - When listeners run: synchronously, inside the writer's call that
 *   committed the change, and possibly inside `createWatch` itself, before it
 *   returns (the first watch of a node creates demand, and the writer may
 *   publish that node's config at once). A listener must therefore not rely
 *   on the returned ConfigWatch being stored yet, must not block, and should
 *   only record the change and schedule work (the server marks types dirty
 *   and flushes on setImmediate). A listener must not throw.
 * - Re-entrancy: a listener may call `current()` and `cancel()` of any watch.
 *   It must not write config (an implementation throws if it does): a write
 *   from inside a notification would tell the remaining listeners of the
 *   newer snapshot before the older one, and the older one after it.
 * - Order: the watches of one node are notified in the order they were
 *   created; each hears every committed change of its node exactly once, in
 *   commit order. A watch cancelled during a notification hears nothing more
 *   (not even that change, if its turn had not come).
 */
export interface ConfigWatcher {
  createWatch(node: NodeInfo, onChange: ConfigListener): ConfigWatch;
}

export interface ConfigWatch {
  /**
   * The node's snapshot now; undefined while no config was published for it
   * (after a restart, before the source synced), which a server must answer
   * with silence rather than with empty state.
   */
  current(): Snapshot | undefined;
  /** Stops notifications and releases the node's demand. Idempotent. */
  cancel(): void;
}
