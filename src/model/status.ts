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
import type { Condition, FieldProblem, ObjectStatus, Problem, ProblemReason } from './problem.ts';

const REF_REASONS: readonly ProblemReason[] = ['RefNotFound', 'CrossNamespace'];

export interface StatusSubject {
  obj: SourceObject;
  namespace: string;
}

export function toStatus({ obj, namespace }: StatusSubject, found: readonly FieldProblem[]): ObjectStatus {
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
  };
}

/** The most telling reason first: an operator fixes a duplicate before a typo inside it. */
function rejectionReason(errors: readonly FieldProblem[]): string {
  const has = (r: ProblemReason) => errors.some((p) => p.reason === r);
  if (has('UnsupportedKind')) return 'UnsupportedKind';
  if (has('Duplicate')) return 'Duplicate';
  if (has('Conflict')) return 'Conflicted';
  if (errors.every((p) => REF_REASONS.includes(p.reason))) return has('CrossNamespace') ? 'RefNotPermitted' : 'RefNotFound';
  return 'Invalid';
}
