/**
 * TCPRoutes and TLSRoutes: where connections go, chosen when they open.
 *
 * In the mesh (GAMMA, GEP-1294), a TCPRoute whose parentRefs name a Service:
 * the connections callers open to a TCP port of the Service go to the
 * route's weighted backends instead of the Service's own endpoints.
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
 * - A TLSRoute on a Service (SNI routing inside the mesh) is not served:
 *   Accepted=False, UnsupportedValue, saying a TCPRoute splits a TLS port's
 *   connections. GEP-1294 lets a mesh take any route type, but v1.6's
 *   conformance has no mesh TLSRoute feature (pkg/features: TLSRoute,
 *   TLSRouteModeTerminate and TLSRouteModeMixed are Gateway features; the
 *   mesh profiles are MESH-HTTP and MESH-GRPC), so there is no spec'd
 *   behaviour to implement and test against; docs/gateway-api.md says so.
 *
 * On a Trellis Gateway (resolve/gateways.ts): a TCPRoute on a TCP listener
 * (one per listener, the oldest), a TLSRoute on a TLS passthrough listener
 * (each SNI name to the oldest route that names it); a route that gets no
 * listener is Conflicted for that parent.
 *
 * Either way, a backend that does not exist (or is not a TCP port) stays in
 * the route with `found: false`: its share of connections is refused, the
 * rest is routed (ResolvedRefs=False, BackendNotFound), as the spec has it
 * for HTTP's 500s.
 */
import type { StreamRouteSpec } from '../kinds/gateway-kinds.ts';
import { isServiceParent } from '../kinds/gateway-common.ts';
import type { MeshTcpRoute, ObjectKey } from '../types.ts';
import { olderFirst, type Book, type Entry } from './book.ts';
import { checkParents, resolveBackend, type GatewayInputs } from './mesh-routes.ts';
import { portKey } from './policies.ts';
import type { ServiceDraft } from './services.ts';

/** The mesh TCPRoute of each service port that has one, by `portKey(service, port)`; gateway attachments go to `gw.index`. */
export function resolveStreamRoutes(
  routes: readonly Entry<StreamRouteSpec>[],
  services: ReadonlyMap<ObjectKey, ServiceDraft>,
  gw: GatewayInputs,
  book: Book,
): Map<string, MeshTcpRoute> {
  const out = new Map<string, MeshTcpRoute>();
  /** The route that holds each port, for the Conflicted message. */
  const holder = new Map<string, ObjectKey>();
  for (const e of routes.toSorted(olderFirst)) {
    const { found, gateways } = checkParents(e, services, gw, book, e.kind === 'TLSRoute' ? 'tls' : 'tcp');
    const meshOnly = e.spec.parentRefs.every(isServiceParent);
    const backends = e.spec.backends.map((b) => {
      const { found: ok, ...ref } = resolveBackend(e, b, meshOnly, services, gw, book, 'backend', 'tcp');
      return { ...ref, weight: b.weight, found: ok };
    }).filter((b) => b.weight > 0);
    if (book.rejected(e)) continue;
    for (const a of gateways) {
      if (gw.index.addStream(a, e, backends)) continue;
      book.add(e.id, { severity: 'warning', reason: 'Conflict', field: e.spec.parentRefs[a.parent]!.path, parent: a.parent,
        message: e.kind === 'TCPRoute'
          ? 'an older TCPRoute holds the listener(s) this parentRef selects; a TCP listener carries one route (the oldest). Attach this route to another listener, or merge the backends'
          : 'older TLSRoutes hold every SNI name this route would take on the listener(s) this parentRef selects; each name goes to the oldest route that names it' });
    }
    const route: MeshTcpRoute = { namespace: e.namespace, name: e.name, backends };
    for (const [service, { ports, parent }] of found) {
      const svc = services.get(service)!;
      const field = e.spec.parentRefs[parent]!.path;
      if (svc.namespace !== e.namespace) {
        book.add(e.id, { severity: found.size === 1 && gateways.length === 0 ? 'error' : 'warning', reason: 'UnsupportedValue', field, parent,
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
