/**
 * Gateways Trellis programs (north-south): a Gateway whose GatewayClass has
 * Trellis's controllerName (TRELLIS_CONTROLLER). In three steps, because
 * routes attach in between (resolve/mesh-routes.ts):
 *
 * 1. `gatewayIndex`: each such Gateway's listeners, checked as the spec says:
 *    protocol (HTTP, HTTPS, TLS in mode Passthrough and TCP are served;
 *    others are UnsupportedProtocol, a TLS listener that would terminate is
 *    UnsupportedValue),
 *    conflicts on one port (a second protocol: ProtocolConflict; a hostname
 *    already taken: HostnameConflict; the first listener in the Gateway's
 *    order keeps the port), certificateRefs (kubernetes.io/tls Secrets;
 *    another namespace needs a ReferenceGrant: RefNotPermitted; else
 *    InvalidCertificateRef), allowedRoutes.kinds (InvalidRouteKinds).
 * 2. `attach` (called per route parentRef naming such a Gateway): the
 *    listeners the parentRef selects (sectionName, port), then those whose
 *    allowedRoutes take the route (namespace, kind: else
 *    NotAllowedByListeners), then those whose hostname intersects the
 *    route's (else NoMatchingListenerHostname).
 * 3. `finish`: the model's MeshGateways and the status of every Gateway and
 *    GatewayClass (listener conditions, attachedRoutes, SupportedFeatures).
 *
 * https://gateway-api.sigs.k8s.io/reference/spec/#gateway
 */
import type { GatewayClassSpec, GatewaySpec } from '../kinds/gateway-kinds.ts';
import { gatewayDeploymentSettings } from '../kinds/gateway-deployment.ts';
import { GATEWAY_GROUP, TRELLIS_CONTROLLER, type ParentRefSpec } from '../kinds/gateway-common.ts';
import { selects, type CertificateRefSpec, type ListenerSpec } from '../kinds/gateway-listeners.ts';
import type { ReferenceGrantSpec } from '../kinds/reference-grant.ts';
import type { SecretSpec } from '../kinds/secret.ts';
import { childPath } from '../field-path.ts';
import type { Condition, FieldProblem, ListenerStatus, ObjectStatus, ProblemReason } from '../problem.ts';
import type { GatewayCertificate, GatewayListener, GatewayPort, GatewayRoute, GatewayStreamRoute, MeshGateway, MeshRouteRule, ObjectKey, TcpRouteBackend } from '../types.ts';
import { objectKey, sortedMap, spiffeId, type Book, type Entry } from './book.ts';
import { intersectHostnames } from './hostnames.ts';

/** Names the gateway's service account (its SPIFFE identity); default: the Gateway's own name. */
export const GATEWAY_SERVICE_ACCOUNT_ANNOTATION = 'trellis.io/service-account';

/** What Trellis's GatewayClasses say they support (GatewayClass status.supportedFeatures), sorted as the spec asks. */
export const SUPPORTED_FEATURES: readonly string[] = [
  'GRPCRoute', 'Gateway', 'HTTPRoute', 'HTTPRouteBackendRequestHeaderModification', 'HTTPRouteBackendTimeout', 'HTTPRouteHostRewrite',
  'HTTPRouteMethodMatching', 'HTTPRouteNamedRouteRule', 'HTTPRoutePathRedirect', 'HTTPRoutePathRewrite', 'HTTPRoutePortRedirect',
  'HTTPRouteQueryParamMatching', 'HTTPRouteRequestMirror', 'HTTPRouteRequestPercentageMirror', 'HTTPRouteRequestTimeout',
  'HTTPRouteResponseHeaderModification', 'HTTPRouteSchemeRedirect', 'Mesh', 'MeshClusterIP', 'MeshConsumerRoute', 'ReferenceGrant',
  'TCPRoute', 'TLSRoute',
].toSorted();

const SERVED_PROTOCOLS = ['HTTP', 'HTTPS', 'TLS', 'TCP'] as const;
type ServedProtocol = (typeof SERVED_PROTOCOLS)[number];
/** The route kinds each protocol's listeners carry (the default of allowedRoutes.kinds, and all it may name). */
const ROUTE_KINDS: Record<ServedProtocol, readonly string[]> = { HTTP: ['HTTPRoute', 'GRPCRoute'], HTTPS: ['HTTPRoute', 'GRPCRoute'], TLS: ['TLSRoute'], TCP: ['TCPRoute'] };

export interface GatewayIndexInputs {
  gatewayClasses: readonly Entry<GatewayClassSpec>[];
  gateways: readonly Entry<GatewaySpec>[];
  referenceGrants: readonly Entry<ReferenceGrantSpec>[];
  secrets: readonly Entry<SecretSpec>[];
  /** Namespace labels, for allowedRoutes `from: Selector`. */
  namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  trustDomain: string;
}

interface ListenerState {
  spec: ListenerSpec;
  /** Routes may attach (Accepted and not Conflicted). */
  accepting: boolean;
  accepted: Condition;
  conflicted: Condition;
  resolvedRefs: Condition;
  supportedKinds: { group: string; kind: string }[];
  certificates: GatewayCertificate[];
  routes: GatewayRoute[];
  streams: GatewayStreamRoute[];
  /** Routes attached to this listener while it is not served (`Kind/ns/name`): counted in attachedRoutes all the same. */
  unserved: Set<string>;
}

interface GatewayState {
  entry: Entry<GatewaySpec>;
  serviceAccount: string;
  listeners: ListenerState[];
}

export type Attachment = { listeners: ListenerState[]; hostnames: string[][] } | { reason: ProblemReason; message: string; field: string };
/** An attachment a route's parentRef made (its index: status per parent). */
export type Attached = Extract<Attachment, { listeners: unknown }> & { parent: number };

const cond = (type: Condition['type'], ok: boolean, reason: string, message: string): Condition => ({ type, status: ok ? 'True' : 'False', reason, message });

export function isTrellisClass(classes: readonly Entry<GatewayClassSpec>[], name: string): boolean {
  return classes.some((c) => c.name === name && c.spec.controllerName === TRELLIS_CONTROLLER);
}

export class GatewayIndex {
  private readonly byKey = new Map<ObjectKey, GatewayState>();
  /** Trellis Gateways not accepted: routes attach to none of their listeners, but their status still says each listener's conditions. */
  private readonly rejected: { entry: Entry<GatewaySpec>; listeners: ListenerState[] }[] = [];

  constructor(private readonly inputs: GatewayIndexInputs, private readonly book: Book) {
    for (const g of inputs.gateways) {
      if (!isTrellisClass(inputs.gatewayClasses, g.spec.gatewayClassName)) continue;
      const serviceAccount = serviceAccountOf(g, book);
      checkUnserved(g, book);
      const deployment = gatewayDeploymentSettings(g.obj.metadata.annotations);
      // Only how Trellis runs it in a cluster: the Gateway is still programmed, its Deployment and Service stay as they were.
      if ('problems' in deployment) for (const p of deployment.problems) book.warn(g, p.field, 'InvalidValue', `${p.message}; in a cluster, Trellis leaves this Gateway's Deployment and Service as they are until it is fixed`);
      const listeners = this.listeners(g);
      // ListenersNotValid: a Gateway none of whose listeners can serve is not accepted (its last good version stays served).
      if (listeners.length > 0 && !listeners.some((l) => l.accepting)) {
        book.error(g, 'spec.listeners', 'ListenersNotValid', 'no listener of this Gateway can be served (see each listener\'s conditions); Trellis serves HTTP, HTTPS (with a usable certificate), TLS passthrough and TCP listeners');
      }
      if (!book.rejected(g) && serviceAccount !== undefined) this.byKey.set(g.key, { entry: g, serviceAccount, listeners });
      else this.rejected.push({ entry: g, listeners });
    }
  }

  private listeners(g: Entry<GatewaySpec>): ListenerState[] {
    const warn = (field: string, reason: ProblemReason, message: string) => this.book.add(g.id, { severity: 'warning', reason, field, message });
    const ports = new Map<number, { protocol: string; first: string; hostnames: Map<string, string> }>();
    return g.spec.listeners.map((l): ListenerState => {
      const state: ListenerState = {
        spec: l, accepting: true, supportedKinds: [], certificates: [], routes: [], streams: [], unserved: new Set(),
        accepted: cond('Accepted', true, 'Accepted', 'the listener is served'),
        conflicted: cond('Conflicted', false, 'NoConflicts', 'no conflict with another listener'),
        resolvedRefs: cond('ResolvedRefs', true, 'ResolvedRefs', 'all references resolved'),
      };
      if (!(SERVED_PROTOCOLS as readonly string[]).includes(l.protocol)) {
        const message = `protocol ${l.protocol} is not served by Trellis's gateways; expected HTTP, HTTPS, TLS (passthrough) or TCP`;
        warn(childPath(l.path, 'protocol'), 'UnsupportedProtocol', message);
        return { ...state, accepting: false, accepted: cond('Accepted', false, 'UnsupportedProtocol', message) };
      }
      if (l.protocol === 'TLS' && l.tls?.mode !== 'Passthrough') {
        const message = 'a TLS listener of Trellis\'s gateways passes TLS through to the backend (tls.mode: Passthrough, routed by SNI with TLSRoutes); to terminate TLS, use protocol HTTPS';
        warn(childPath(l.path, 'tls.mode'), 'UnsupportedValue', message);
        return { ...state, accepting: false, accepted: cond('Accepted', false, 'UnsupportedValue', message) };
      }
      const port = ports.get(l.port);
      const host = l.hostname ?? '';
      if (port && port.protocol !== l.protocol) {
        const message = `port ${l.port} is already ${port.protocol} (listener "${port.first}"); one port serves one protocol. Move this listener to another port`;
        warn(childPath(l.path, 'protocol'), 'ProtocolConflict', message);
        return { ...state, accepting: false, conflicted: cond('Conflicted', true, 'ProtocolConflict', message) };
      }
      if (port?.hostnames.has(host)) {
        const message = `listener "${port.hostnames.get(host)}" already takes ${host ? `hostname ${host}` : 'every hostname'} on port ${l.port}; give each listener of a port its own hostname`;
        warn(childPath(l.path, 'hostname'), 'HostnameConflict', message);
        return { ...state, accepting: false, conflicted: cond('Conflicted', true, 'HostnameConflict', message) };
      }
      if (port) port.hostnames.set(host, l.name);
      else ports.set(l.port, { protocol: l.protocol, first: l.name, hostnames: new Map([[host, l.name]]) });
      const problems: { reason: ProblemReason; message: string }[] = [];
      state.supportedKinds = this.kinds(g, l, problems);
      if (l.protocol === 'HTTPS') state.certificates = this.certificates(g, l.tls?.certificateRefs ?? [], problems);
      if (problems.length > 0) {
        const first = problems.find((p) => p.reason === 'RefNotPermitted') ?? problems[0]!;
        state.resolvedRefs = cond('ResolvedRefs', false, first.reason, problems.map((p) => p.message).join('; '));
      }
      // An HTTPS listener without one usable certificate cannot be served; one with some serves those.
      if (l.protocol === 'HTTPS' && state.certificates.length === 0) state.accepting = false;
      return state;
    });
  }

  /** allowedRoutes.kinds: the kinds this listener carries (the default for its protocol when unset). */
  private kinds(g: Entry<GatewaySpec>, l: ListenerSpec, problems: { reason: ProblemReason; message: string }[]): { group: string; kind: string }[] {
    const wanted = l.allowedRoutes.kinds;
    const kinds = ROUTE_KINDS[l.protocol as ServedProtocol];
    if (!wanted) return kinds.map((kind) => ({ group: GATEWAY_GROUP, kind }));
    const out: { group: string; kind: string }[] = [];
    for (const k of wanted) {
      if (k.group === GATEWAY_GROUP && kinds.includes(k.kind)) out.push({ group: k.group, kind: k.kind });
      else {
        const message = `route kind ${k.group ? `${k.group}/` : ''}${k.kind} cannot attach to a ${l.protocol} listener; expected ${kinds.join(' or ')}`;
        problems.push({ reason: 'InvalidRouteKinds', message });
        this.book.add(g.id, { severity: 'warning', reason: 'InvalidRouteKinds', field: k.path, message });
      }
    }
    return out;
  }

  private certificates(g: Entry<GatewaySpec>, refs: readonly CertificateRefSpec[], problems: { reason: ProblemReason; message: string }[]): GatewayCertificate[] {
    const out: GatewayCertificate[] = [];
    for (const r of refs) {
      const bad = (reason: ProblemReason, message: string, field = r.path) => {
        problems.push({ reason, message });
        this.book.add(g.id, { severity: 'warning', reason, field, message });
      };
      if (!((r.group === '' || r.group === 'core') && r.kind === 'Secret')) {
        bad('InvalidCertificateRef', `a certificateRef of kind ${r.group ? `${r.group}/` : ''}${r.kind} is not one Trellis reads; expected a Secret (group "", kind Secret) of type kubernetes.io/tls`, childPath(r.path, 'kind'));
        continue;
      }
      if (r.namespace !== g.namespace && !secretGranted(this.inputs.referenceGrants, g, r)) {
        bad('RefNotPermitted', `Secret "${r.namespace}/${r.name}" is in another namespace and no ReferenceGrant in "${r.namespace}" lets Gateways of "${g.namespace}" refer to it`, childPath(r.path, 'namespace'));
        continue;
      }
      const secret = this.inputs.secrets.find((s) => s.namespace === r.namespace && s.name === r.name);
      if (!secret) {
        bad('InvalidCertificateRef', `Secret "${r.name}" does not exist in namespace "${r.namespace}"`, childPath(r.path, 'name'));
        continue;
      }
      if (!secret.spec.tls || this.book.rejected(secret)) {
        bad('InvalidCertificateRef', secret.spec.type !== 'kubernetes.io/tls'
          ? `Secret "${r.namespace}/${r.name}" is of type ${secret.spec.type}; expected kubernetes.io/tls with tls.crt and tls.key`
          : `Secret "${r.namespace}/${r.name}" does not hold a usable certificate and key (see its own problems)`, childPath(r.path, 'name'));
        continue;
      }
      out.push({ secret: secret.key, ...secret.spec.tls });
    }
    return out;
  }

  /** Whether this parentRef names a Gateway Trellis programs (valid or not). */
  ours(p: { group: string; kind: string; namespace: string; name: string }): boolean {
    if (p.group !== GATEWAY_GROUP || p.kind !== 'Gateway') return false;
    const g = this.inputs.gateways.find((x) => x.namespace === p.namespace && x.name === p.name);
    return g !== undefined && isTrellisClass(this.inputs.gatewayClasses, g.spec.gatewayClassName);
  }

  /** The listeners of a Trellis Gateway a route's parentRef attaches it to, or why none (the route parent's reason). */
  attach(route: Entry<{ hostnames: readonly string[] }>, p: ParentRefSpec): Attachment {
    const key = objectKey(p.namespace, p.name);
    const g = this.byKey.get(key);
    const select = (listeners: readonly ListenerState[]) => listeners.filter((l) => (p.sectionName === undefined || l.spec.name === p.sectionName) && (p.port === undefined || l.spec.port === p.port));
    if (!g) {
      const rejected = this.rejected.find((x) => x.entry.key === key);
      if (rejected) this.countUnserved(select(rejected.listeners), p.namespace, route);
      return { reason: 'NoMatchingParent', message: `Gateway "${p.namespace}/${p.name}" is not accepted (see its conditions), so no route attaches to it`, field: p.path };
    }
    const selected = select(g.listeners);
    this.countUnserved(selected.filter((l) => !l.accepting), p.namespace, route);
    if (selected.length === 0) {
      const what = [p.sectionName !== undefined ? `named "${p.sectionName}"` : '', p.port !== undefined ? `on port ${p.port}` : ''].filter(Boolean).join(' ');
      return { reason: 'NoMatchingParent', message: `Gateway "${p.namespace}/${p.name}" has no listener ${what}; it has: ${g.listeners.map((l) => `${l.spec.name} (${l.spec.port})`).join(', ')}`, field: childPath(p.path, p.sectionName !== undefined ? 'sectionName' : 'port') };
    }
    const allowed = selected.filter((l) => l.accepting && this.allows(g.entry.namespace, l, route));
    if (allowed.length === 0) {
      return { reason: 'NotAllowedByListeners', message: `no listener of Gateway "${p.namespace}/${p.name}"${p.sectionName ? ` named "${p.sectionName}"` : ''} takes ${route.kind}s from namespace "${route.namespace}" (allowedRoutes, or the listener is not served)`, field: p.path };
    }
    const hostnames = allowed.map((l) => intersectHostnames(l.spec.hostname, route.spec.hostnames));
    const matching = allowed.filter((_, i) => hostnames[i] !== undefined);
    if (matching.length === 0) {
      return { reason: 'NoMatchingListenerHostname', message: `the route's hostnames (${route.spec.hostnames.join(', ')}) share none with the listeners' (${allowed.map((l) => l.spec.hostname ?? '*').join(', ')})`, field: 'spec.hostnames' };
    }
    return { listeners: matching, hostnames: hostnames.filter((h): h is string[] => h !== undefined) };
  }

  private allows(gatewayNamespace: string, l: ListenerState, route: Entry<unknown>): boolean {
    if (!l.supportedKinds.some((k) => k.kind === route.kind)) return false;
    const ns = l.spec.allowedRoutes.namespaces;
    if (ns.from === 'All') return true;
    if (ns.from === 'Same') return route.namespace === gatewayNamespace;
    // The API server gives every namespace the label kubernetes.io/metadata.name: <name> (Kubernetes 1.22 and later).
    return ns.selector !== undefined && selects(ns.selector, { ...this.inputs.namespaceLabels.get(route.namespace), 'kubernetes.io/metadata.name': route.namespace });
  }

  /**
   * ListenerStatus.attachedRoutes counts the routes a listener's
   * allowedRoutes takes and whose parentRefs and hostnames select it, "whether
   * the Route is accepted or programmed" (GatewayWithAttachedRoutes): a
   * listener not served carries none, so they are counted here.
   */
  private countUnserved(listeners: readonly ListenerState[], gatewayNamespace: string, route: Entry<{ hostnames: readonly string[] }>): void {
    for (const l of listeners) {
      if (this.allows(gatewayNamespace, l, route) && intersectHostnames(l.spec.hostname, route.spec.hostnames) !== undefined) l.unserved.add(`${route.kind}/${route.key}`);
    }
  }

  /** A route accepted on these listeners (after its own checks). */
  add(a: Extract<Attachment, { listeners: unknown }>, route: Entry<unknown>, rules: readonly MeshRouteRule[]): void {
    a.listeners.forEach((l, i) => {
      if (l.routes.some((r) => r.namespace === route.namespace && r.name === route.name && r.kind === route.kind)) return;
      l.routes.push({ kind: route.kind as GatewayRoute['kind'], namespace: route.namespace, name: route.name, hostnames: a.hostnames[i]!, rules });
    });
  }

  /**
   * A TLSRoute or TCPRoute accepted on these listeners (after its own
   * checks); routes come oldest first. A TCP listener takes one route, a TLS
   * listener each SNI name once: what an older route holds stays its own.
   * Returns whether some listener took it (false: Conflicted for that parent).
   */
  addStream(a: Attached, route: Entry<unknown>, backends: readonly TcpRouteBackend[]): boolean {
    let taken = false;
    a.listeners.forEach((l, i) => {
      if (l.streams.some((r) => r.namespace === route.namespace && r.name === route.name && r.kind === route.kind)) return void (taken = true);
      let hostnames: string[] = [];
      if (l.spec.protocol === 'TCP') {
        if (l.streams.length > 0) return;
      } else {
        const held = new Set(l.streams.flatMap((r) => r.hostnames));
        hostnames = a.hostnames[i]!.filter((h) => !held.has(h));
        if (hostnames.length === 0) return;
      }
      l.streams.push({ kind: route.kind as GatewayStreamRoute['kind'], namespace: route.namespace, name: route.name, hostnames, backends });
      taken = true;
    });
    return taken;
  }

  /** The model's gateways, and the status of every Gateway and GatewayClass (by entry id). */
  finish(): { gateways: Map<ObjectKey, MeshGateway>; listeners: Map<string, ListenerStatus[]>; programmed: Map<string, Condition> } {
    const gateways: [ObjectKey, MeshGateway][] = [];
    const listeners = new Map<string, ListenerStatus[]>();
    const programmed = new Map<string, Condition>();
    const listenerStatus = (l: ListenerState, served: boolean): ListenerStatus => ({
      name: l.spec.name,
      supportedKinds: l.supportedKinds,
      attachedRoutes: l.routes.length + l.streams.length + l.unserved.size,
      conditions: [l.accepted, l.conflicted, l.resolvedRefs,
        served ? cond('Programmed', true, 'Programmed', 'served by the Gateway\'s proxies') : cond('Programmed', false, 'Invalid', 'not served: see the other conditions')],
    });
    // This generation of a rejected Gateway is served nowhere (its last good version may be: see its Accepted message).
    for (const g of this.rejected) {
      listeners.set(g.entry.id, g.listeners.map((l) => listenerStatus(l, false)));
      programmed.set(g.entry.id, cond('Programmed', false, 'Invalid', 'this version of the Gateway is not accepted (see Accepted), so no proxy is programmed with it'));
    }
    for (const g of this.byKey.values()) {
      const served = g.listeners.filter((l) => l.accepting);
      listeners.set(g.entry.id, g.listeners.map((l) => listenerStatus(l, l.accepting)));
      programmed.set(g.entry.id, cond('Programmed', true, 'Programmed', `configuration built for the proxies of this Gateway (node metadata trellis.gateway: ${g.entry.key}), ${served.length} of ${g.listeners.length} listener(s) served`));
      const byPort = new Map<number, GatewayListener[]>();
      for (const l of served) {
        const list = byPort.get(l.spec.port) ?? [];
        list.push({ name: l.spec.name, ...(l.spec.hostname !== undefined ? { hostname: l.spec.hostname } : {}), certificates: l.certificates, routes: l.routes, streams: l.streams });
        byPort.set(l.spec.port, list);
      }
      const ports: GatewayPort[] = [...byPort].toSorted((a, b) => a[0] - b[0]).map(([port, ls]) => ({
        port, protocol: served.find((l) => l.spec.port === port)!.spec.protocol as ServedProtocol, listeners: ls,
      }));
      const { namespace, name } = g.entry;
      gateways.push([g.entry.key, { key: g.entry.key, namespace, name, serviceAccount: g.serviceAccount, identity: spiffeId(this.inputs.trustDomain, namespace, g.serviceAccount), ports }]);
    }
    return { gateways: sortedMap(gateways), listeners, programmed };
  }
}

/**
 * Fields a Trellis gateway does not act on: client certificate validation
 * is refused (a Gateway that asks for it is not served, so no client skips a
 * check its author relies on); requested addresses and TLS options are
 * ignored with a warning (the gateway binds where its bootstrap says).
 */
function checkUnserved(g: Entry<GatewaySpec>, book: Book): void {
  const spec = (g.obj.raw as { spec?: Record<string, unknown> }).spec ?? {};
  if (spec.tls !== undefined && spec.tls !== null) book.error(g, 'spec.tls', 'UnsupportedValue', 'Trellis\'s gateways do not validate client certificates (spec.tls); remove it, or use a GatewayClass whose controller does');
  if (spec.addresses !== undefined && spec.addresses !== null) book.warn(g, 'spec.addresses', 'Ignored', 'Trellis does not assign gateway addresses: the gateway binds where its bootstrap says (--listen-address) and a Service exposes it');
  const listeners = Array.isArray(spec.listeners) ? (spec.listeners as Array<{ tls?: Record<string, unknown> } | null>) : [];
  listeners.forEach((l, i) => {
    if (l?.tls?.frontendValidation != null) book.error(g, `spec.listeners[${i}].tls.frontendValidation`, 'UnsupportedValue', 'Trellis\'s gateways do not validate client certificates; remove frontendValidation, or use a GatewayClass whose controller does');
    if (l?.tls?.options != null) book.warn(g, `spec.listeners[${i}].tls.options`, 'Ignored', 'TLS options are implementation-specific and Trellis reads none');
  });
}

function serviceAccountOf(g: Entry<GatewaySpec>, book: Book): string | undefined {
  const sa = g.obj.metadata.annotations[GATEWAY_SERVICE_ACCOUNT_ANNOTATION] ?? g.name;
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(sa) && sa.length <= 253) return sa;
  book.error(g, `metadata.annotations.${GATEWAY_SERVICE_ACCOUNT_ANNOTATION}`, 'InvalidValue', `"${sa}" is not a service account name; expected lower-case letters, digits, "-" and "."`);
  return undefined;
}

/** A ReferenceGrant in the Secret's namespace from Gateways of the Gateway's namespace to that Secret. */
function secretGranted(grants: readonly Entry<ReferenceGrantSpec>[], g: Entry<GatewaySpec>, r: CertificateRefSpec): boolean {
  return grants.some((x) => x.namespace === r.namespace
    && x.spec.from.some((f) => f.group === GATEWAY_GROUP && f.kind === 'Gateway' && f.namespace === g.namespace)
    && x.spec.to.some((t) => (t.group === '' || t.group === 'core') && t.kind === 'Secret' && (t.name === undefined || t.name === r.name)));
}

/** Problems about a route's Gateway parent, in the form resolve/mesh-routes.ts records them. */
export function attachmentProblem(a: Extract<Attachment, { reason: unknown }>, parent: number): FieldProblem {
  return { severity: 'error', reason: a.reason, field: a.field, message: a.message, parent };
}

/**
 * A Gateway's and GatewayClass's status as the spec shapes it: a Trellis
 * Gateway's conditions are Accepted and Programmed, with its listeners'; a
 * Trellis GatewayClass says its SupportedFeatures.
 */
export function withGatewayStatus(
  status: ObjectStatus,
  id: string,
  finished: ReturnType<GatewayIndex['finish']>,
  entry: Entry<unknown> | undefined,
): ObjectStatus {
  if (entry?.kind === 'GatewayClass' && (entry.spec as GatewayClassSpec).controllerName === TRELLIS_CONTROLLER && status.conditions[0]?.status === 'True') {
    return { ...status, supportedFeatures: [...SUPPORTED_FEATURES] };
  }
  const listeners = finished.listeners.get(id);
  const programmed = finished.programmed.get(id);
  if (!listeners || !programmed) return status;
  // GatewayReasonListenersNotValid: an accepted Gateway some of whose listeners cannot be served says so in Accepted too.
  const accepted = status.conditions[0]!;
  const invalid = listeners.filter((l) => l.conditions.some((c) => c.type === 'Programmed' && c.status === 'False'));
  const withReason = accepted.status === 'True' && invalid.length > 0
    ? { ...accepted, reason: 'ListenersNotValid', message: `accepted; ${invalid.length} of ${listeners.length} listener(s) cannot be served (${invalid.map((l) => l.name).join(', ')}): see their conditions` }
    : accepted;
  return { ...status, conditions: [withReason, programmed], listeners };
}
