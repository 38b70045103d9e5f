/**
 * Gateway API TCPRoutes attached to a Service (GAMMA, GEP-1294): the
 * connections callers open to a TCP port of the Service go to the route's
 * weighted backends instead of the Service's own endpoints.
 *
 * - Parents as for HTTPRoute (mesh-routes.ts checkParents), but only ports
 *   declared TCP (appProtocol tcp or a tcp- port name): a route naming an
 *   HTTP or undeclared port is not accepted there (UnsupportedValue). A
 *   parentRef without a port takes every TCP port of the Service.
 * - One TCPRoute per service port: the oldest (creationTimestamp, then
 *   namespace/name) routes it; a newer one is Conflicted for that parent
 *   (Accepted=False) and routes nothing there. A TCP connection has no
 *   request to match, so two routes cannot share a port.
 * - Producer routes only (the route in the Service's namespace): what a TCP
 *   connection meets is the same for every caller. A route in another
 *   namespace naming the Service is not accepted for that parent.
 * - A backend that does not exist (or is not a TCP port) stays in the route
 *   with `found: false`: its share of connections is refused, the rest is
 *   routed (ResolvedRefs=False, BackendNotFound), as the spec has it for
 *   HTTP's 500s.
 */
import type { StreamRouteSpec } from '../kinds/gateway-kinds.ts';
import { isServiceParent } from '../kinds/gateway-common.ts';
import type { MeshTcpRoute, ObjectKey } from '../types.ts';
import { olderFirst, type Book, type Entry } from './book.ts';
import { checkParents, resolveBackend, type GatewayInputs } from './mesh-routes.ts';
import { portKey } from './policies.ts';
import type { ServiceDraft } from './services.ts';

/** The TCPRoute of each service port that has one, by `portKey(service, port)`. */
export function resolveMeshTcpRoutes(
  routes: readonly Entry<StreamRouteSpec>[],
  services: ReadonlyMap<ObjectKey, ServiceDraft>,
  gw: GatewayInputs,
  book: Book,
): Map<string, MeshTcpRoute> {
  const out = new Map<string, MeshTcpRoute>();
  /** The route that holds each port, for the Conflicted message. */
  const holder = new Map<string, ObjectKey>();
  for (const e of routes.toSorted(olderFirst)) {
    const { found } = checkParents(e, services, gw, book, 'tcp');
    const meshOnly = e.spec.parentRefs.every(isServiceParent);
    const backends = e.spec.backends.map((b) => {
      const { found: ok, ...ref } = resolveBackend(e, b, meshOnly, services, gw, book, 'backend', 'tcp');
      return { ...ref, weight: b.weight, found: ok };
    }).filter((b) => b.weight > 0);
    if (book.rejected(e)) continue;
    const route: MeshTcpRoute = { namespace: e.namespace, name: e.name, backends };
    for (const [service, { ports, parent }] of found) {
      const svc = services.get(service)!;
      const field = e.spec.parentRefs[parent]!.path;
      if (svc.namespace !== e.namespace) {
        book.add(e.id, { severity: found.size === 1 ? 'error' : 'warning', reason: 'UnsupportedValue', field, parent,
          message: `a TCPRoute in namespace "${e.namespace}" names service "${service}" of another namespace (a consumer route); Trellis serves producer TCPRoutes only, since a TCP connection meets the same route whoever opens it. Move the route to namespace "${svc.namespace}"` });
        continue;
      }
      const tcp = svc.ports.filter((p) => p.protocol === 'tcp' && (ports.length === 0 || ports.includes(p.port)));
      for (const p of tcp) {
        const k = portKey(service, p.port);
        const winner = holder.get(k);
        if (winner) {
          book.add(e.id, { severity: 'warning', reason: 'Conflict', field, parent,
            message: `TCPRoute "${winner}" (the older) already routes port ${p.port} of service "${service}"; one TCPRoute per service port, the oldest wins (creationTimestamp, then namespace/name). Attach this route to another port, or merge the backends into "${winner}"` });
          continue;
        }
        out.set(k, route);
        holder.set(k, e.key);
      }
    }
  }
  return out;
}
