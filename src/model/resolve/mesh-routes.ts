/**
 * Gateway API mesh routes (GAMMA, GEP-1294): HTTPRoutes and GRPCRoutes whose
 * parentRefs name a Service are attached to that service, per port
 * (parentRef.port, or sectionName as a port name; neither: every port).
 *
 * - A route in the service's namespace is a producer route: every caller
 *   gets it. A route in another namespace is a consumer route: only callers
 *   in the route's namespace get it, and for them it replaces the producer
 *   routes. Neither needs a ReferenceGrant, for its parent or its backends
 *   (GEP-1294 "Namespace boundaries": mesh routes augment Services and reach
 *   nothing a caller could not call anyway). A route that also has a Gateway
 *   parent needs one for each cross-namespace backend (RefNotPermitted).
 * - Problems carry the parentRef they are about (`parent`), so status can say
 *   Accepted per parent (NoMatchingParent, Conflicted) and ResolvedRefs per
 *   route (BackendNotFound, RefNotPermitted, InvalidKind).
 * - A backend that does not exist is kept with `found: false`: its share of
 *   requests gets 500, as the spec says; the route stays accepted.
 * - A GRPCRoute and an HTTPRoute on the same service port: the GRPCRoute wins
 *   (GEP-1294 "Route types"), the HTTPRoute gets Accepted=False, Conflicted
 *   for that parent.
 * - A parent naming a Gateway of Trellis's GatewayClass attaches the route
 *   to that Gateway's listeners (resolve/gateways.ts decides which, or why
 *   none); the route's rules are resolved the same way.
 */
import type { MeshRouteSpec } from '../kinds/http-route.ts';
import type { GatewayClassSpec, GatewaySpec } from '../kinds/gateway-kinds.ts';
import { isServiceParent, TRELLIS_CONTROLLER, type BackendRefSpec, type ParentRefSpec } from '../kinds/gateway-common.ts';
import type { ReferenceGrantSpec } from '../kinds/reference-grant.ts';
import type { FieldProblem } from '../problem.ts';
import { childPath } from '../field-path.ts';
import type { MeshRoute, MeshRouteRule, ObjectKey, RouteBackend, RouteBackendRef, RouteFilter } from '../types.ts';
import { objectKey, olderFirst, type Book, type Entry } from './book.ts';
import { attachmentProblem, type Attached, type GatewayIndex } from './gateways.ts';
import type { ServiceDraft } from './services.ts';

export interface GatewayInputs {
  gatewayClasses: readonly Entry<GatewayClassSpec>[];
  gateways: readonly Entry<GatewaySpec>[];
  referenceGrants: readonly Entry<ReferenceGrantSpec>[];
  /** Trellis's own Gateways, which routes attach to (resolve/gateways.ts). */
  index: GatewayIndex;
}

type Services = ReadonlyMap<ObjectKey, ServiceDraft>;

/** Routes per service key, oldest first. */
export function resolveMeshRoutes(
  routes: readonly Entry<MeshRouteSpec>[],
  services: Services,
  gw: GatewayInputs,
  book: Book,
): Map<ObjectKey, MeshRoute[]> {
  const attached: { entry: Entry<MeshRouteSpec>; parent: number; service: ObjectKey; route: MeshRoute }[] = [];
  for (const e of routes.toSorted(olderFirst)) {
    const { found, gateways } = checkParents(e, services, gw, book);
    const rules = e.spec.rules.map((r) => resolveRule(e, r, services, gw, book));
    if (book.rejected(e)) continue;
    for (const a of gateways) gw.index.add(a, e, rules);
    for (const [service, { ports, parent }] of found) {
      const svc = services.get(service)!;
      const kind = e.kind as MeshRoute['kind'];
      attached.push({ entry: e, parent, service, route: { kind, namespace: e.namespace, name: e.name, consumer: svc.namespace !== e.namespace, ports, rules } });
    }
  }
  // GEP-1294: one route type per service port; GRPCRoute before HTTPRoute.
  const grpcPorts = new Map<ObjectKey, { all: boolean; ports: Set<number> }>();
  for (const a of attached.filter((x) => x.route.kind === 'GRPCRoute')) {
    const g = grpcPorts.get(a.service) ?? { all: false, ports: new Set<number>() };
    if (a.route.ports.length === 0) g.all = true;
    for (const p of a.route.ports) g.ports.add(p);
    grpcPorts.set(a.service, g);
  }
  const out = new Map<ObjectKey, MeshRoute[]>();
  for (const a of attached) {
    const g = grpcPorts.get(a.service);
    if (a.route.kind === 'HTTPRoute' && g && (g.all || a.route.ports.length === 0 || a.route.ports.some((p) => g.ports.has(p)))) {
      add(book, a.entry, { severity: 'warning', reason: 'Conflict', field: a.entry.spec.parentRefs[a.parent]!.path, parent: a.parent,
        message: `a GRPCRoute is attached to the same port of service "${a.service}"; one route type per service port, and GRPCRoute takes precedence (GEP-1294). Attach this route to another port or remove one` });
      continue;
    }
    out.set(a.service, [...(out.get(a.service) ?? []), a.route]);
  }
  return out;
}

function add(book: Book, e: { id: string }, p: FieldProblem): void {
  book.add(e.id, p);
}

/**
 * What a route kind sends: HTTP (HTTPRoute, GRPCRoute) or a byte stream
 * (TCPRoute; TLSRoute, whose TLS passes through: stream-routes.ts); it
 * decides which service ports it may name.
 */
export type Carries = 'http' | 'tcp' | 'tls';

/**
 * A port a route of this kind may attach to or send to: HTTP routes any but a
 * declared TCP port; TCPRoutes a declared TCP one; TLSRoutes no Service port
 * (mesh SNI routing is not served) but send to TCP ones.
 */
function portCarries(protocol: string, carries: Carries, role: 'parent' | 'backend'): boolean {
  if (carries === 'http') return protocol !== 'tcp';
  if (carries === 'tls' && role === 'parent') return false;
  // An undeclared backend port's sidecar falls back to TCP for what is not HTTP (translate/detect.ts).
  return protocol === 'tcp' || (role === 'backend' && protocol === 'auto');
}

/** The services a route attaches to (merging parentRefs to the same service), reporting each parent that is not served. */
export function checkParents(e: Entry<{ parentRefs: readonly ParentRefSpec[]; hostnames: readonly string[] }>, services: Services, gw: GatewayInputs, book: Book, carries: Carries = 'http'): { found: Map<ObjectKey, { ports: number[]; parent: number }>; gateways: Attached[] } {
  const found = new Map<ObjectKey, { ports: number[]; parent: number }>();
  const gateways: Attached[] = [];
  const pending: FieldProblem[] = [];
  let ourParents = 0;
  e.spec.parentRefs.forEach((p, i) => {
    const problem = (reason: FieldProblem['reason'], message: string, field = p.path) => pending.push({ severity: 'error', reason, field, message, parent: i });
    if (isServiceParent(p)) {
      ourParents++;
      const svc = services.get(objectKey(p.namespace, p.name));
      if (!svc) return problem('NoMatchingParent', `service "${p.name}" does not exist in namespace "${p.namespace}" (or is invalid); a mesh route attaches to an existing Service`);
      let port: number | undefined = p.port;
      if (p.sectionName !== undefined) {
        const named = svc.ports.find((x) => x.name === p.sectionName);
        if (!named) return problem('NoMatchingParent', `service "${p.name}" has no port named "${p.sectionName}"; expected one of: ${svc.ports.map((x) => x.name ?? x.port).join(', ')}`, childPath(p.path, 'sectionName'));
        if (port !== undefined && port !== named.port) return problem('NoMatchingParent', `port ${port} is not the port named "${p.sectionName}" (${named.port})`, childPath(p.path, 'port'));
        port = named.port;
      }
      if (port !== undefined && !svc.ports.some((x) => x.port === port)) {
        return problem('NoMatchingParent', `service "${p.name}" has no port ${port}; expected one of: ${svc.ports.map((x) => x.port).join(', ')}`, childPath(p.path, 'port'));
      }
      const usable = svc.ports.filter((x) => portCarries(x.protocol, carries, 'parent') && (port === undefined || x.port === port));
      if (usable.length === 0) {
        return problem('UnsupportedValue', carries === 'http'
          ? `port ${port ?? '(every port)'} of service "${p.name}" carries plain TCP (appProtocol or port name); ${e.kind}s route HTTP. Set appProtocol: http (or grpc) on the port`
          : carries === 'tls'
            ? `a TLSRoute attached to a Service is not served by Trellis: Gateway API v1.6 defines TLSRoute for Gateways, and no mesh TLSRoute in its conformance (the mesh profiles are MESH-HTTP and MESH-GRPC), so Trellis does not route by SNI inside the mesh and connections to the port go to the service's own endpoints. To split a TLS port's connections by weight, attach a TCPRoute to it (the TLS passes through untouched); to route by SNI, attach this TLSRoute to a TLS listener of a Trellis Gateway`
            : `port ${port ?? '(every port)'} of service "${p.name}" is not declared TCP (appProtocol: tcp, or a tcp- port name); ${e.kind}s route plain TCP ports. Use an HTTPRoute for an HTTP port, or declare the port tcp`);
      }
      const key = svc.key;
      const prev = found.get(key);
      if (!prev) found.set(key, { ports: port === undefined ? [] : [port], parent: i });
      else if (prev.ports.length > 0) prev.ports = port === undefined ? [] : [...new Set([...prev.ports, port])].toSorted((a, b) => a - b);
      return;
    }
    const gateway = p.group === 'gateway.networking.k8s.io' && p.kind === 'Gateway' ? gw.gateways.find((g) => g.namespace === p.namespace && g.name === p.name) : undefined;
    const cls = gateway && gw.gatewayClasses.find((c) => c.name === gateway.spec.gatewayClassName);
    if (cls?.spec.controllerName === TRELLIS_CONTROLLER) {
      ourParents++;
      const a = gw.index.attach(e, p);
      if ('reason' in a) return void pending.push(attachmentProblem(a, i));
      gateways.push({ ...a, parent: i });
      return;
    }
    const why = p.kind !== 'Gateway' ? `a parent of kind ${p.group ? `${p.group}/` : ''}${p.kind} is not one Trellis serves (mesh routes name a Service: group "", kind Service)`
      : !gateway ? `Gateway "${p.namespace}/${p.name}" does not exist`
        : `Gateway "${p.namespace}/${p.name}" belongs to GatewayClass "${gateway.spec.gatewayClassName}"${cls ? ` of controller ${cls.spec.controllerName}` : ''}, not to Trellis (${TRELLIS_CONTROLLER}); its own controller serves it`;
    pending.push({ severity: 'warning', reason: 'NoMatchingParent', field: p.path, message: why, parent: i });
  });
  if (e.spec.parentRefs.length === 0) {
    book.warn(e, 'spec.parentRefs', 'NoMatchingParent', 'the route has no parentRefs, so it applies nowhere; name a Service (group: "", kind: Service) to route mesh traffic');
  }
  // A parent Trellis serves that is wrong rejects the route only when no other parent took it.
  const severity = found.size === 0 && gateways.length === 0 && ourParents > 0 ? 'error' : 'warning';
  for (const p of pending) add(book, e, { ...p, severity: p.severity === 'error' ? severity : 'warning' });
  return { found, gateways };
}

function resolveRule(e: Entry<MeshRouteSpec>, r: MeshRouteSpec['rules'][number], services: Services, gw: GatewayInputs, book: Book): MeshRouteRule {
  const meshOnly = e.spec.parentRefs.every(isServiceParent);
  const backends: RouteBackend[] = r.backends.map((b) => ({
    ...resolveBackend(e, b, meshOnly, services, gw, book),
    weight: b.weight,
    filters: b.filters.filter((f): f is Exclude<typeof f, { type: 'RequestMirror' }> => f.type !== 'RequestMirror'),
  }));
  const filters: RouteFilter[] = [];
  for (const f of r.filters) {
    if (f.type !== 'RequestMirror') filters.push(f);
    else {
      const backend = resolveBackend(e, f.backendRef, meshOnly, services, gw, book, 'mirror');
      if (backend.found) filters.push({ type: 'RequestMirror', backend: { namespace: backend.namespace, name: backend.name, port: backend.port }, numerator: f.numerator, denominator: f.denominator });
    }
  }
  // Backends at weight 0 stay (as a TrafficSplit's do): no request goes to them (translate/mesh-routes.ts), but
  // callers hold their clusters and those clusters follow the parent's policy at every weight, so a rollout's
  // canary at 0 does not flip its circuit breaker (resolve/policies.ts clusterPolicies, translate/scope.ts).
  return { name: r.name, matches: r.matches, filters, backends, ...(r.timeouts ? { timeouts: r.timeouts } : {}) };
}

export function resolveBackend(
  e: Entry<unknown>, b: BackendRefSpec, meshOnly: boolean, services: Services, gw: GatewayInputs, book: Book, role = 'backend', carries: Carries = 'http',
): RouteBackendRef & { found: boolean } {
  const share = carries === 'http' ? 'requests gets 500' : 'connections is refused';
  const ref = { namespace: b.namespace, name: b.name, port: b.port ?? 0 };
  const warn = (reason: FieldProblem['reason'], message: string, field = b.path) => {
    add(book, e, { severity: 'warning', reason, field, message });
    return { ...ref, found: false };
  };
  if (!((b.group === '' || b.group === 'core') && b.kind === 'Service')) {
    return warn('InvalidKind', `a ${role} of kind ${b.group ? `${b.group}/` : ''}${b.kind} is not one Trellis routes to; expected a Service (group "", kind Service). Its share of ${share}`, childPath(b.path, 'kind'));
  }
  if (b.namespace !== e.namespace && !meshOnly && !granted(gw.referenceGrants, e, b)) {
    return warn('RefNotPermitted', `service "${b.namespace}/${b.name}" is in another namespace and no ReferenceGrant in "${b.namespace}" lets ${e.kind}s of "${e.namespace}" refer to it (needed because the route has a Gateway parent); its share of ${share}`, childPath(b.path, 'namespace'));
  }
  const svc = services.get(objectKey(b.namespace, b.name));
  if (!svc) return warn('BackendNotFound', `service "${b.name}" does not exist in namespace "${b.namespace}"; its share of ${share} until it does`, childPath(b.path, 'name'));
  const port = svc.ports.find((p) => p.port === b.port);
  if (!port) return warn('BackendNotFound', `service "${b.name}" has no port ${b.port}; expected one of: ${svc.ports.map((p) => p.port).join(', ')}. Its share of ${share}`, childPath(b.path, 'port'));
  if (!portCarries(port.protocol, carries, 'backend')) {
    const what = carries === 'http' ? 'carries plain TCP' : `carries ${port.protocol.toUpperCase()}, not a byte stream`;
    return warn('BackendNotFound', `port ${b.port} of service "${b.name}" ${what}, which a ${e.kind} cannot send to; its share of ${share}`, childPath(b.path, 'port'));
  }
  return { ...ref, found: true };
}

/** A ReferenceGrant in the backend's namespace from this route's kind and namespace to that Service. */
function granted(grants: readonly Entry<ReferenceGrantSpec>[], e: Entry<unknown>, b: BackendRefSpec): boolean {
  return grants.some((g) => g.namespace === b.namespace
    && g.spec.from.some((f) => f.group === 'gateway.networking.k8s.io' && f.kind === e.kind && f.namespace === e.namespace)
    && g.spec.to.some((t) => (t.group === '' || t.group === 'core') && t.kind === 'Service' && (t.name === undefined || t.name === b.name)));
}

/** The parentRefs of a route entry, for per-parent status (undefined for other kinds). */
export function parentRefsOf(spec: unknown): readonly ParentRefSpec[] | undefined {
  const refs = (spec as { parentRefs?: unknown } | undefined)?.parentRefs;
  return Array.isArray(refs) ? (refs as ParentRefSpec[]) : undefined;
}

/**
 * The rule for a service both APIs address (docs/gateway-api.md): on a port
 * where producer HTTPRoutes or GRPCRoutes apply, they route, and the service's
 * TrafficSplits do not (for every caller; consumer routes replace only the
 * producer side for their namespace). The split is still accepted, for its
 * other ports, with a warning naming the routes.
 */
export function warnShadowedSplits(
  splits: readonly Entry<{ service: string }>[],
  accepted: ReadonlyMap<ObjectKey, { service: ObjectKey }>,
  routesByService: ReadonlyMap<ObjectKey, readonly MeshRoute[]>,
  services: Services,
  book: Book,
): void {
  for (const e of splits) {
    const split = accepted.get(e.key);
    const routes = split && (routesByService.get(split.service) ?? []).filter((r) => !r.consumer);
    if (!split || !routes || routes.length === 0) continue;
    const ports = services.get(split.service)!.ports.filter((p) => p.protocol !== 'tcp').map((p) => p.port);
    const taken = ports.filter((p) => routes.some((r) => r.ports.length === 0 || r.ports.includes(p)));
    if (taken.length === 0) continue;
    const names = [...new Set(routes.map((r) => `${r.kind} ${r.name}`))].join(', ');
    const where = taken.length === ports.length ? 'every port of the service' : `port ${taken.join(', ')}`;
    book.warn(e, 'spec.service', 'Ignored', `${names} route${routes.length > 1 ? '' : 's'} ${where} of service "${e.spec.service}"; there this TrafficSplit does not apply (Gateway API routes take precedence over SMI on the ports they attach to). Move the backends into the route, or delete one`);
  }
}
