/**
 * TrafficSplits that send traffic round in a circle (issue 16 bug 14): `web`
 * split to `a` and `a` split back to `web`, or longer. SMI splits are one
 * level deep (a backend's own split does not apply to the traffic it gets
 * from a split), so Envoy would not loop, but calls to `web` would land on
 * `a`'s pods and calls to `a` on `web`'s: never what the operator meant, and
 * what the same objects would mean in a mesh that follows splits.
 *
 * The splits that closed the cycle are rejected: those new or changed since
 * the previous model (resolve/incumbents.ts), so adding `a -> web` keeps
 * `web -> a` served; with no such split (a first start, `validate`), every
 * split on the cycle. Each error is at the split's backend on the cycle and
 * spells the cycle out with where each of its splits is written; a rejected
 * split's last good version, if it has one, is still served.
 *
 * Only backends with weight take part: a backend at weight 0 gets no traffic.
 */
import { childPath } from '../field-path.ts';
import type { TrafficSplitSpec } from '../kinds/traffic-split.ts';
import type { ObjectKey, Split } from '../types.ts';
import type { Book, Entry } from './book.ts';
import { writtenAt, type Incumbents } from './incumbents.ts';

interface Edge {
  split: Split;
  entry: Entry<TrafficSplitSpec>;
  /** The backend's index in `spec.backends`. */
  backend: number;
  to: ObjectKey;
}

/** Rejects every split that has a backend on a cycle of splits; returns the splits that have none. */
export function rejectSplitCycles(splits: readonly Split[], entries: ReadonlyMap<ObjectKey, Entry<TrafficSplitSpec>>, book: Book, incumbents: Incumbents): Split[] {
  const out = new Map<ObjectKey, Edge[]>();
  for (const split of splits) {
    const entry = entries.get(split.key)!;
    const edges = out.get(split.service) ?? [];
    split.backends.forEach((b, i) => {
      if (b.weight > 0 && b.service !== split.service) edges.push({ split, entry, backend: specIndex(entry, b.service, i), to: b.service });
    });
    out.set(split.service, edges);
  }
  const cyclic = new Set<ObjectKey>();
  for (const edges of out.values()) {
    for (const edge of edges) {
      // A cycle through this edge: a way back from its backend to its root.
      const back = pathBetween(edge.to, edge.split.service, out);
      if (!back) continue;
      const cycle = [edge, ...back];
      const closers = cycle.filter((e) => !incumbents.unchanged(e.entry));
      if (closers.length > 0 && !closers.includes(edge)) continue; // this split was there before the cycle closed
      const services = [edge.split.service, ...cycle.map((e) => e.to)].map(serviceName);
      const where = [...new Set(cycle.map((e) => e.entry))].map((e) => `"${e.name}"${writtenAt(e)}`).join(', ');
      book.error(
        edge.entry,
        childPath(childPath('spec.backends', edge.backend), 'service'),
        'Conflict',
        `TrafficSplits form a cycle: ${services.join(' -> ')} (splits ${where}): what this split sends to "${serviceName(edge.to)}" would be split back to "${serviceName(edge.split.service)}". A backend must not lead back to the service it serves; change or delete one of these splits`,
      );
      cyclic.add(edge.split.key);
    }
  }
  return splits.filter((s) => !cyclic.has(s.key));
}

/** The shortest chain of edges from `from` to `to` (breadth first), if there is one. */
function pathBetween(from: ObjectKey, to: ObjectKey, out: ReadonlyMap<ObjectKey, readonly Edge[]>): Edge[] | undefined {
  const via = new Map<ObjectKey, Edge | null>([[from, null]]);
  const queue: ObjectKey[] = [from];
  while (queue.length > 0) {
    const node = queue.shift()!;
    if (node === to) {
      const chain: Edge[] = [];
      for (let e = via.get(node); e; e = via.get(e.split.service)) chain.unshift(e);
      return chain;
    }
    for (const e of out.get(node) ?? []) {
      if (via.has(e.to)) continue;
      via.set(e.to, e);
      queue.push(e.to);
    }
  }
  return undefined;
}

/** The backend's index as written (the resolved list skips backends that do not exist). */
function specIndex(entry: Entry<TrafficSplitSpec>, service: ObjectKey, fallback: number): number {
  const i = entry.spec.backends.findIndex((b) => `${entry.namespace}/${b.service}` === service);
  return i >= 0 ? i : fallback;
}

function serviceName(key: ObjectKey): string {
  return key.slice(key.indexOf('/') + 1);
}
