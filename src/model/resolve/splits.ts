/**
 * TrafficSplits: the root service and backends must exist in the split's
 * namespace; one split per root service and match set (the older wins); no
 * cycles of splits (split-cycles.ts); a backend takes a root port's traffic
 * only if it has the same port number.
 * https://github.com/servicemeshinterface/smi-spec/blob/main/apis/traffic-split/v1alpha4/traffic-split.md#ports
 */
import { childPath } from '../field-path.ts';
import type { TrafficSplitSpec } from '../kinds/traffic-split.ts';
import { didYouMean } from '../suggest.ts';
import type { ObjectKey, RouteGroup, Split, SplitBackend } from '../types.ts';
import { objectKey, olderFirst, sortedMap, type Book, type Entry } from './book.ts';
import type { Incumbents } from './incumbents.ts';
import { resolveRouteRef, uniqueMatches } from './routes.ts';
import { rejectSplitCycles } from './split-cycles.ts';
import type { ServiceDraft } from './services.ts';

export function resolveSplits(
  splits: readonly Entry<TrafficSplitSpec>[],
  services: ReadonlyMap<ObjectKey, ServiceDraft>,
  groups: ReadonlyMap<ObjectKey, RouteGroup>,
  book: Book,
  incumbents: Incumbents,
): Map<ObjectKey, Split> {
  const candidates: Split[] = [];
  const byKey = new Map<ObjectKey, Entry<TrafficSplitSpec>>();
  for (const e of splits.toSorted(olderFirst)) {
    const notFound = (name: string) => {
      const names = [...services.values()].filter((s) => s.namespace === e.namespace).map((s) => s.name);
      return `service "${name}" does not exist in namespace "${e.namespace}" (or is invalid).${didYouMean(name, names)}`;
    };
    const root = services.get(objectKey(e.namespace, e.spec.service));
    if (!root) book.error(e, 'spec.service', 'RefNotFound', `${notFound(e.spec.service)} Expected the root service that clients call`);
    const backends: SplitBackend[] = [];
    for (const b of e.spec.backends) {
      const svc = services.get(objectKey(e.namespace, b.service));
      const field = childPath(b.path, 'service');
      if (!svc && b.weight > 0) {
        book.error(e, field, 'RefNotFound', `${notFound(b.service)} It has weight ${b.weight}, so requests would fail; create the service first or set its weight to 0`);
      } else if (!svc) {
        book.warn(e, field, 'RefNotFound', `${notFound(b.service)} It has weight 0 and is left out until it exists`);
      } else if (root) {
        const ports = root.ports.map((p) => p.port).filter((p) => svc.ports.some((bp) => bp.port === p));
        const missing = root.ports.map((p) => p.port).filter((p) => !ports.includes(p));
        if (missing.length > 0 && b.weight > 0) {
          book.warn(e, field, 'RefNotFound', `service "${b.service}" has no port ${missing.join(', ')} of root service "${root.name}", so it gets none of that port's traffic (SMI matches backend ports by number); add the port to "${b.service}"`);
        }
        backends.push({ service: svc.key, weight: b.weight, ports });
      }
    }
    const matchLists = e.spec.matches.map((m) => resolveRouteRef(m, e, groups, book));
    if (book.rejected(e) || !root) continue;
    candidates.push({
      key: e.key,
      namespace: e.namespace,
      name: e.name,
      service: root.key,
      matches: uniqueMatches(matchLists.filter((m) => m !== undefined)),
      backends,
    });
    byKey.set(e.key, e);
  }
  // One split per root service and set of match groups: two would both claim the same requests.
  const owner = new Map<string, Split>();
  const accepted: Split[] = [];
  for (const s of candidates) {
    const e = byKey.get(s.key)!;
    const claim = `${s.service} ${e.spec.matches.map((m) => m.name).toSorted().join(',')}`;
    const first = owner.get(claim);
    if (first) {
      const what = e.spec.matches.length ? 'for the same matches' : 'for every request';
      book.error(e, 'spec.service', 'Conflict', `TrafficSplit "${first.name}" already splits service "${e.spec.service}" ${what}; only one may. Merge the backends into "${first.name}" or delete one`);
      continue;
    }
    owner.set(claim, s);
    accepted.push(s);
  }
  return sortedMap(rejectSplitCycles(accepted, byKey, book, incumbents).map((s) => [s.key, s]));
}

/** Splits of each root service, in routing order: with matches first (by name), then the unconditional one. */
export function splitsByService(splits: ReadonlyMap<ObjectKey, Split>): Map<ObjectKey, ObjectKey[]> {
  const out = new Map<ObjectKey, ObjectKey[]>();
  const ordered = [...splits.values()].toSorted((a, b) => Number(a.matches.length === 0) - Number(b.matches.length === 0) || (a.name < b.name ? -1 : 1));
  for (const s of ordered) out.set(s.service, [...(out.get(s.service) ?? []), s.key]);
  return out;
}
