/**
 * TCPRoutes, and the resolution of the TrafficTarget rules that name them.
 * References stay within a namespace, as for HTTPRouteGroups (routes.ts).
 */
import type { RouteGroupRef } from '../kinds/http-route-group.ts';
import type { TcpRouteSpec } from '../kinds/tcp-route.ts';
import { childPath } from '../field-path.ts';
import { didYouMean } from '../suggest.ts';
import type { ObjectKey, TcpMatch } from '../types.ts';
import { objectKey, sortedMap, type Book, type Entry } from './book.ts';

export function resolveTcpRoutes(routes: readonly Entry<TcpRouteSpec>[], book: Book): Map<ObjectKey, TcpMatch> {
  return sortedMap(routes.filter((e) => !book.rejected(e)).map((e) => [e.key, { route: e.key, ports: e.spec.ports }]));
}

/** The TCPRoute a reference names, or undefined (with an error on `entry`) when it does not exist. */
export function resolveTcpRouteRef(ref: RouteGroupRef, entry: Entry<unknown>, routes: ReadonlyMap<ObjectKey, TcpMatch>, book: Book): TcpMatch | undefined {
  const route = routes.get(objectKey(entry.namespace, ref.name));
  if (route) return route;
  const inNs = [...routes.keys()].filter((k) => k.startsWith(`${entry.namespace}/`)).map((k) => k.slice(entry.namespace.length + 1));
  book.error(entry, childPath(ref.path, 'name'), 'RefNotFound',
    `TCPRoute "${ref.name}" does not exist in namespace "${entry.namespace}" (or is invalid).${didYouMean(ref.name, inNs)} Expected one of: ${inNs.length ? inNs.join(', ') : '(none in this namespace)'}`);
  return undefined;
}
