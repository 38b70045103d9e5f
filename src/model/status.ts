/**
 * Turns the problems found about one object into its status: problems with
 * file:line, and the Accepted and ResolvedRefs conditions.
 *
 * Accepted=False means the object is not in the model (its last good version
 * may be — see last-good.ts). ResolvedRefs=False means something it names is
 * missing; with only warnings it is still accepted (e.g. a TrafficTarget for a
 * service account no pod runs as yet).
 */
import { locate, type SourceObject } from './object.ts';
import type { Condition, FieldProblem, ObjectStatus, ParentRef, ParentStatus, Problem, ProblemReason } from './problem.ts';

const REF_REASONS: readonly ProblemReason[] = ['RefNotFound', 'CrossNamespace', 'BackendNotFound', 'RefNotPermitted', 'InvalidKind'];
/** Reasons that make a route's parent not accept it (Gateway API RouteConditionReason). */
const PARENT_REASONS: readonly ProblemReason[] = ['NoMatchingParent', 'UnsupportedValue', 'Conflict', 'NotAllowedByListeners', 'NoMatchingListenerHostname'];

export interface StatusSubject {
  obj: SourceObject;
  namespace: string;
  /** Gateway API routes: their parentRefs, for a status per parent. */
  parents?: readonly ParentRef[];
  /** Parents Trellis serves (Services, its own Gateways): the Kubernetes status writer writes only those. Default: Services. */
  ours?: (p: ParentRef) => boolean;
}

export function toStatus({ obj, namespace, parents, ours }: StatusSubject, found: readonly FieldProblem[]): ObjectStatus {
  const problems: Problem[] = found.map((p) => ({
    severity: p.severity,
    reason: p.reason,
    ...locate(obj.origin, p.field),
    kind: obj.kind,
    namespace,
    name: obj.metadata.name,
    field: p.field,
    message: p.message,
  }));
  const errors = found.filter((p) => p.severity === 'error');
  const refs = found.filter((p) => REF_REASONS.includes(p.reason));
  const summary = (list: readonly FieldProblem[]) => list.map((p) => `${p.field || '-'}: ${p.message}`).join('; ');
  const accepted: Condition =
    errors.length === 0
      ? { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'accepted' }
      : { type: 'Accepted', status: 'False', reason: rejectionReason(errors), message: summary(errors) };
  const resolved: Condition =
    refs.length === 0
      ? { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'all references resolved' }
      : {
          type: 'ResolvedRefs',
          status: 'False',
          reason: refs.some((p) => p.reason === 'CrossNamespace') ? 'RefNotPermitted' : 'RefNotFound',
          message: summary(refs),
        };
  const origin = obj.origin.source === 'file' ? { file: obj.origin.file, line: obj.origin.line } : undefined;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    namespace,
    name: obj.metadata.name,
    ...(obj.metadata.generation !== undefined ? { generation: obj.metadata.generation } : {}),
    ...(origin ? { origin } : {}),
    conditions: [accepted, resolved],
    problems,
    ...(parents ? { parents: parents.map((p, i) => parentStatus(p, i, found, summary, ours)) } : {}),
  };
}

const plain = new WeakMap<SourceObject, { namespace: string; status: ObjectStatus }>();

/**
 * toStatus, the same status object again for the same object with no
 * problems and no parents (issue 14: an edit built 4,000 equal statuses
 * again): a file's unchanged document is the same SourceObject from one
 * snapshot to the next (sources/file/watch.ts), and such a status reads
 * nothing but the object and its namespace. Statuses are never mutated.
 */
export function toStatusOnce(subject: StatusSubject, found: readonly FieldProblem[]): ObjectStatus {
  if (found.length > 0 || subject.parents) return toStatus(subject, found);
  const known = plain.get(subject.obj);
  if (known?.namespace === subject.namespace) return known.status;
  const status = toStatus(subject, found);
  plain.set(subject.obj, { namespace: subject.namespace, status });
  return status;
}

/**
 * A route's conditions for one parent: Accepted=False with the reason of a
 * problem about this parent, or of an error about the whole route; else
 * True. ResolvedRefs is about the route's backends, the same for every parent.
 */
function parentStatus(ref: ParentRef, index: number, found: readonly FieldProblem[], summary: (l: readonly FieldProblem[]) => string, ours?: (p: ParentRef) => boolean): ParentStatus {
  const { group, kind, namespace, name, port, sectionName } = ref;
  const own = found.filter((p) => p.parent === index && PARENT_REASONS.includes(p.reason));
  const routeErrors = found.filter((p) => p.parent === undefined && p.severity === 'error' && !REF_REASONS.includes(p.reason));
  const against = own.length > 0 ? own : routeErrors;
  const reasonOf = (p: FieldProblem) => (p.reason === 'Conflict' ? 'Conflicted' : PARENT_REASONS.includes(p.reason) ? p.reason : p.reason === 'Duplicate' ? 'Conflicted' : 'UnsupportedValue');
  const accepted: Condition = against.length === 0
    ? { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'accepted' }
    : { type: 'Accepted', status: 'False', reason: reasonOf(against[0]!), message: summary(against) };
  const refs = found.filter((p) => p.parent === undefined && REF_REASONS.includes(p.reason));
  const first = refs.find((p) => p.reason === 'RefNotPermitted') ?? refs.find((p) => p.reason === 'InvalidKind') ?? refs[0];
  const resolved: Condition = !first
    ? { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'all references resolved' }
    : { type: 'ResolvedRefs', status: 'False', reason: first.reason === 'RefNotFound' || first.reason === 'CrossNamespace' ? 'BackendNotFound' : first.reason, message: summary(refs) };
  return {
    parentRef: { group, kind, namespace, name, ...(port !== undefined ? { port } : {}), ...(sectionName !== undefined ? { sectionName } : {}) },
    ours: ours ? ours(ref) : (group === '' || group === 'core') && kind === 'Service',
    conditions: [accepted, resolved],
  };
}

/** The most telling reason first: an operator fixes a duplicate before a typo inside it. */
function rejectionReason(errors: readonly FieldProblem[]): string {
  const has = (r: ProblemReason) => errors.some((p) => p.reason === r);
  if (has('UnsupportedKind')) return 'UnsupportedKind';
  if (has('Duplicate')) return 'Duplicate';
  if (has('Conflict')) return 'Conflicted';
  if (has('UnsupportedValue')) return 'UnsupportedValue';
  if (errors.every((p) => p.reason === 'NoMatchingParent')) return 'NoMatchingParent';
  if (errors.every((p) => p.reason === 'ListenersNotValid')) return 'ListenersNotValid';
  if (errors.every((p) => REF_REASONS.includes(p.reason))) return has('CrossNamespace') ? 'RefNotPermitted' : 'RefNotFound';
  return 'Invalid';
}
