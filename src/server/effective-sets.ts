/**
 * The set of a type a given stream should hold, when it differs from the
 * snapshot's: secrets filtered to the proven identity, and clusters and
 * endpoints kept until nothing the client holds refers to them.
 */
import { TypeSet, type VersionedResource } from '../cache/config-watcher.ts';
import { TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';
import type { TypeState } from './type-state.ts';

const visibleMemo = new WeakMap<TypeSet, Map<string, TypeSet>>();

/**
 * XDS_RULES 23: a stream sees the secrets without an owner (trust bundles)
 * and those owned by the identity it proved; nothing else. Memoized per
 * (set, identity) so streams of one identity share the filtered set.
 */
export function secretsVisibleTo(set: TypeSet, identity: string | undefined): TypeSet {
  const key = identity ?? '';
  let byIdentity = visibleMemo.get(set);
  if (!byIdentity) {
    byIdentity = new Map();
    visibleMemo.set(set, byIdentity);
  }
  let visible = byIdentity.get(key);
  if (!visible) {
    const items = new Map<string, VersionedResource>();
    for (const [name, r] of set.items) if (!r.owner || (identity && r.owner === identity)) items.set(name, r);
    visible = items.size === set.items.size ? set : new TypeSet(set.typeUrl, items, set.createdAt);
    byIdentity.set(key, visible);
  }
  return visible;
}

function referencedClusters(types: ReadonlyMap<ResourceTypeUrl, TypeState>): Set<string> {
  const out = new Set<string>();
  for (const t of [TypeUrl.Listener, TypeUrl.Route] as const) {
    const st = types.get(t);
    if (!st) continue;
    // Not only the last sent set: whatever the client may still run.
    for (const set of st.mayRun()) {
      for (const r of set.items.values()) for (const c of r.references.clusters) out.add(c);
    }
  }
  return out;
}

/**
 * XDS_RULES 18 (make-before-break): a cluster leaves the client's set only
 * after the listeners and routes the client has acknowledged stop naming it.
 * Until then it is kept at the version the client holds.
 */
export function withRetainedClusters(current: TypeSet, types: ReadonlyMap<ResourceTypeUrl, TypeState>): TypeSet {
  const cds = types.get(TypeUrl.Cluster);
  const sent = cds?.sentSet;
  if (!sent || sent === current) return current;
  const gone: string[] = [];
  for (const n of current.changedSince(sent)) if (!current.items.has(n) && sent.items.has(n)) gone.push(n);
  if (gone.length === 0) return current;
  const referenced = referencedClusters(types);
  const keep = gone.filter((n) => referenced.has(n)).map((n) => sent.get(n)!);
  if (keep.length === 0) return current;
  return current.with({ upsert: keep }, current.createdAt);
}

/** Endpoints of retained clusters stay too, so a delta client is not told they were removed early. */
export function withRetainedEndpoints(
  current: TypeSet,
  clusters: TypeSet,
  types: ReadonlyMap<ResourceTypeUrl, TypeState>,
): TypeSet {
  const sent = types.get(TypeUrl.Endpoint)?.sentSet;
  if (!sent || sent === current) return current;
  const keep: VersionedResource[] = [];
  for (const n of current.changedSince(sent)) {
    if (current.items.has(n)) continue;
    const old = sent.get(n);
    if (!old) continue;
    for (const c of clusters.items.values()) {
      if (c.references.endpoints.includes(n)) {
        keep.push(old);
        break;
      }
    }
  }
  return keep.length === 0 ? current : current.with({ upsert: keep }, current.createdAt);
}
