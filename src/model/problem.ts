/**
 * What the model says about each object it was given: problems (where, what,
 * what is expected) and the conditions derived from them. Operator input never
 * raises an exception; it produces these.
 */
import type { SourceError } from './object.ts';

export type Severity = 'error' | 'warning';

/**
 * Machine-readable reason of a problem. Tests and tools match on these (and on
 * the field path), never on message text.
 */
export type ProblemReason =
  | 'Required' // a required field is missing
  | 'InvalidType' // the field has the wrong type (string vs number, list vs map)
  | 'InvalidValue' // right type, value not allowed (bad name, unknown enum value)
  | 'OutOfRange' // a number outside its range
  | 'UnknownField' // a field this kind does not have (often a typo)
  | 'InvalidDuration'
  | 'InvalidRegex'
  | 'UnsupportedKind' // apiVersion/kind Trellis does not read
  | 'Duplicate' // the same kind/namespace/name defined twice
  | 'Conflict' // two intents claim the same thing; the older one wins
  | 'RefNotFound' // names a service, route group, route or port that does not exist
  | 'CrossNamespace' // refers across namespaces where SMI does not allow it
  | 'Ignored' // read but has no effect (explained in the message)
  | 'RequiresRestart' // a setting the running control plane cannot change (the trust domain)
  // Gateway API route reasons, as the spec names them (RouteConditionReason):
  | 'NoMatchingParent' // a parentRef names nothing Trellis serves (a missing Service or port, another controller's Gateway)
  | 'BackendNotFound' // a backendRef names a Service or port that does not exist
  | 'RefNotPermitted' // a cross-namespace reference no ReferenceGrant allows
  | 'InvalidKind' // a backendRef or parentRef of a kind Trellis does not route to
  | 'UnsupportedValue' // a field value (a filter, a parent) Trellis does not serve
  | 'NotAllowedByListeners' // a Gateway parent whose listeners' allowedRoutes do not take the route
  | 'NoMatchingListenerHostname' // a Gateway parent whose listeners' hostnames share none with the route
  // Gateway listener reasons (ListenerConditionReason), on the Gateway:
  | 'InvalidCertificateRef' // a certificateRef to a missing, invalid or non-TLS Secret
  | 'InvalidRouteKinds' // allowedRoutes.kinds names a kind the listener cannot carry
  | 'ProtocolConflict' // two listeners on one port with different protocols
  | 'HostnameConflict' // two listeners on one port with one hostname
  | 'UnsupportedProtocol' // a listener protocol Trellis does not serve
  // Gateway reasons (GatewayConditionReason):
  | 'ListenersNotValid'; // no listener of the Gateway can be served

export interface Problem {
  severity: Severity;
  reason: ProblemReason;
  /** Where the field was written, when the object came from a file. */
  file?: string;
  line?: number;
  kind: string;
  /** '' for cluster-scoped kinds. */
  namespace: string;
  name: string;
  /** Path of the field (`spec.backends[1].weight`), '' for the object as a whole. */
  field: string;
  /** What is wrong and what is expected instead. */
  message: string;
}

export type ConditionType = 'Accepted' | 'ResolvedRefs' | 'Programmed' | 'Conflicted';

/** A Gateway API route's parentRef as written (defaults applied), for per-parent status. */
export interface ParentRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  port?: number;
  sectionName?: string;
}

/** The conditions of a route for one of its parents (Gateway API RouteParentStatus). */
export interface ParentStatus {
  parentRef: ParentRef;
  /** The parent is one Trellis serves (a Service: the mesh; a Gateway of its GatewayClass): the Kubernetes status writer writes only these. */
  ours: boolean;
  conditions: Condition[];
}

/** Gateway API ListenerStatus. */
export interface ListenerStatus {
  name: string;
  supportedKinds: { group: string; kind: string }[];
  attachedRoutes: number;
  conditions: Condition[];
}

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False';
  /** CamelCase, e.g. Accepted, Invalid, Conflicted, RefNotFound. */
  reason: string;
  message: string;
}

export interface ObjectStatus {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  /** The generation these conditions describe (the newest one seen). */
  generation?: number;
  /** Where the object was written (file source only). */
  origin?: { file: string; line: number };
  conditions: Condition[];
  problems: Problem[];
  /** Gateway API routes: the Accepted and ResolvedRefs conditions per parentRef. */
  parents?: ParentStatus[];
  /** A Gateway Trellis programs: each listener's conditions and attached routes (Gateway API ListenerStatus). */
  listeners?: ListenerStatus[];
  /** A GatewayClass of Trellis's controller: the Gateway API features it supports, sorted. */
  supportedFeatures?: string[];
  /**
   * Set when this generation was rejected but an earlier accepted generation
   * of the same object is still being served (see last-good.ts).
   */
  servedGeneration?: number;
  /** Set when the version still served is the last good copy persisted at this path (restored at start). */
  servedFromPersisted?: string;
}

/** A path-relative problem, before it is attached to an object. */
export interface FieldProblem {
  severity: Severity;
  reason: ProblemReason;
  field: string;
  message: string;
  /** Gateway API routes: the index of the parentRef this is about (absent: every parent). */
  parent?: number;
}

export function hasErrors(problems: readonly { severity: Severity }[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

export function isAccepted(status: ObjectStatus): boolean {
  return status.conditions.some((c) => c.type === 'Accepted' && c.status === 'True');
}

/**
 * One line per problem, in the `trellis validate` contract format:
 * `path:line: Kind ns/name: field: message`. Cluster-scoped objects print
 * without `ns/`; a problem about the whole object prints `-` as its field.
 */
export function formatProblem(p: Problem): string {
  const where = p.file ? `${p.file}:${p.line ?? 1}` : '-';
  const ref = p.namespace ? `${p.namespace}/${p.name}` : p.name;
  const message = p.severity === 'warning' ? `warning: ${p.message}` : p.message;
  return `${where}: ${p.kind} ${ref}: ${p.field || '-'}: ${message}`;
}

/** The same format for a document that never became an object (syntax errors and the like). */
export function formatSourceError(e: SourceError): string {
  const subject = e.kind
    ? `${e.kind} ${e.namespace ? `${e.namespace}/` : ''}${e.name ?? '(unnamed)'}`
    : `document ${e.document ?? 1}`;
  return `${e.file}:${e.line}: ${subject}: ${e.field || '-'}: ${e.message}`;
}
