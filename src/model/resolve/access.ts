/**
 * TrafficTargets become access rules between SPIFFE identities. Route rules
 * must resolve; service accounts that nobody declared or uses yet are only a
 * warning, because identities come and go with pods and the rule is still
 * meaningful (it takes effect when they appear).
 */
import { childPath } from '../field-path.ts';
import type { TrafficTargetSpec } from '../kinds/traffic-target.ts';
import type { AccessRule, HttpMatch, Identity, IdentityRef, MeshSettings, ObjectKey, RouteGroup, TcpMatch } from '../types.ts';
import { sortedMap, spiffeId, type Book, type Entry } from './book.ts';
import { resolveRouteRef, uniqueMatches } from './routes.ts';
import { resolveTcpRouteRef } from './tcp-routes.ts';
import { knownServiceAccount } from './workloads.ts';

export function resolveAccess(
  targets: readonly Entry<TrafficTargetSpec>[],
  identities: ReadonlyMap<string, Identity>,
  groups: ReadonlyMap<ObjectKey, RouteGroup>,
  tcpRoutes: ReadonlyMap<ObjectKey, TcpMatch>,
  mesh: MeshSettings,
  book: Book,
): Map<ObjectKey, AccessRule> {
  const rules: AccessRule[] = [];
  for (const e of targets) {
    const ref = (ns: string, sa: string, field: string, role: string): IdentityRef => {
      if (!knownServiceAccount(identities, mesh, ns, sa)) {
        book.warn(e, field, 'RefNotFound', `no ServiceAccount "${sa}" in namespace "${ns}" and no pod runs as it yet; the rule applies to ${role} once one does. Check the name`);
      }
      return { spiffeId: spiffeId(mesh.trustDomain, ns, sa), namespace: ns, serviceAccount: sa };
    };
    const { destination } = e.spec;
    const dest = ref(destination.namespace, destination.name, 'spec.destination.name', 'the destination');
    const sources = e.spec.sources.map((s) => ref(s.namespace, s.name, childPath(s.path, 'name'), 'that source'));
    let routes: HttpMatch[] | undefined;
    let tcp: TcpMatch[] | undefined;
    if (e.spec.rules) {
      const lists = e.spec.rules.filter((r) => r.kind === 'HTTPRouteGroup').map((r) => resolveRouteRef(r, e, groups, book));
      routes = uniqueMatches(lists.filter((l) => l !== undefined));
      const found = e.spec.rules.filter((r) => r.kind === 'TCPRoute').map((r) => resolveTcpRouteRef(r, e, tcpRoutes, book));
      tcp = [...new Set(found.filter((t) => t !== undefined))];
    }
    if (book.rejected(e)) continue;
    rules.push({
      key: e.key,
      namespace: e.namespace,
      name: e.name,
      destination: { ...dest, ...(destination.port !== undefined ? { port: destination.port } : {}) },
      sources,
      ...(routes ? { routes } : {}),
      ...(tcp ? { tcpRoutes: tcp } : {}),
    });
  }
  return sortedMap(rules.map((r) => [r.key, r]));
}

export function accessByDestination(rules: ReadonlyMap<ObjectKey, AccessRule>): Map<string, AccessRule[]> {
  const out = new Map<string, AccessRule[]>();
  for (const r of rules.values()) out.set(r.destination.spiffeId, [...(out.get(r.destination.spiffeId) ?? []), r]);
  return sortedMap(out);
}
