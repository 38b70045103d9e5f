/**
 * HTTPRouteGroups, and the resolution of references to them (and to match
 * names inside them) that TrafficSplits, TrafficTargets and TrafficPolicies
 * make. References stay within a namespace.
 */
import type { HttpRouteGroupSpec, RouteGroupRef } from '../kinds/http-route-group.ts';
import { childPath } from '../field-path.ts';
import { didYouMean } from '../suggest.ts';
import type { HttpMatch, ObjectKey, RouteGroup } from '../types.ts';
import { objectKey, sortedMap, type Book, type Entry } from './book.ts';

export function resolveRouteGroups(groups: readonly Entry<HttpRouteGroupSpec>[], book: Book): Map<ObjectKey, RouteGroup> {
  return sortedMap(
    groups
      .filter((e) => !book.rejected(e))
      .map((e) => [
        e.key,
        { key: e.key, namespace: e.namespace, name: e.name, matches: e.spec.matches.map((m) => ({ group: e.key, ...m })) },
      ]),
  );
}

/**
 * The matches a reference selects, or undefined (with an error on `entry`)
 * when the group or one of the named matches does not exist.
 */
export function resolveRouteRef(
  ref: RouteGroupRef,
  entry: Entry<unknown>,
  groups: ReadonlyMap<ObjectKey, RouteGroup>,
  book: Book,
): HttpMatch[] | undefined {
  const group = groups.get(objectKey(entry.namespace, ref.name));
  if (!group) {
    const inNs = [...groups.values()].filter((g) => g.namespace === entry.namespace).map((g) => g.name);
    book.error(entry, childPath(ref.path, 'name'), 'RefNotFound',
      `HTTPRouteGroup "${ref.name}" does not exist in namespace "${entry.namespace}" (or is invalid).${didYouMean(ref.name, inNs)} Expected one of: ${inNs.length ? inNs.join(', ') : '(none in this namespace)'}`);
    return undefined;
  }
  if (ref.matches === undefined) return [...group.matches];
  const out: HttpMatch[] = [];
  let ok = true;
  ref.matches.forEach((name, i) => {
    const m = group.matches.find((x) => x.name === name);
    if (m) out.push(m);
    else {
      ok = false;
      const names = group.matches.map((x) => x.name);
      book.error(entry, childPath(childPath(ref.path, 'matches'), i), 'RefNotFound',
        `HTTPRouteGroup "${ref.name}" has no match named "${name}".${didYouMean(name, names)} Expected one of: ${names.join(', ')}`);
    }
  });
  return ok ? out : undefined;
}

/** Union of matches, each once, in first-seen order. */
export function uniqueMatches(lists: readonly (readonly HttpMatch[])[]): HttpMatch[] {
  const seen = new Set<string>();
  const out: HttpMatch[] = [];
  for (const m of lists.flat()) {
    const id = `${m.group} ${m.name}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(m);
    }
  }
  return out;
}
