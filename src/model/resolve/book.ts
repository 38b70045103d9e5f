/**
 * Bookkeeping shared by the processors: the decoded objects (`Entry`) and the
 * problems found about each. An entry with an error problem is rejected:
 * processors check `book.rejected(entry)` after their own checks and leave a
 * rejected entry out of the model, so one bad object never breaks the rest.
 *
 * Entries may arrive already rejected (schema errors, with a partial spec):
 * intent processors still check their references, to report everything in
 * one pass; processors whose output others depend on skip them first.
 */
import type { SourceObject } from '../object.ts';
import type { FieldProblem, ProblemReason } from '../problem.ts';
import type { ObjectKey } from '../types.ts';

export interface Entry<T> {
  obj: SourceObject;
  kind: string;
  /** '' for cluster-scoped kinds. */
  namespace: string;
  name: string;
  /** `namespace/name`, or `name` for cluster-scoped kinds: the key within its kind. */
  key: ObjectKey;
  /** `Kind/namespace/name`: unique across kinds. */
  id: string;
  spec: T;
}

export class Book {
  private readonly problems = new Map<string, FieldProblem[]>();

  add(id: string, problem: FieldProblem): void {
    const list = this.problems.get(id);
    if (list) list.push(problem);
    else this.problems.set(id, [problem]);
  }

  error(entry: { id: string }, field: string, reason: ProblemReason, message: string): void {
    this.add(entry.id, { severity: 'error', reason, field, message });
  }

  warn(entry: { id: string }, field: string, reason: ProblemReason, message: string): void {
    this.add(entry.id, { severity: 'warning', reason, field, message });
  }

  rejected(entry: { id: string }): boolean {
    return (this.problems.get(entry.id) ?? []).some((p) => p.severity === 'error');
  }

  of(id: string): readonly FieldProblem[] {
    return this.problems.get(id) ?? [];
  }
}

/**
 * `Kind.group/namespace/name` (`Kind/namespace/name` for the core group): an
 * object across versions of its API. The group is part of it because two
 * groups may name a kind alike: SMI's TCPRoute and the Gateway API's are
 * different objects, and may share a name in one namespace.
 */
export function objectId(apiVersion: string, kind: string, namespace: string, name: string): string {
  const slash = apiVersion.lastIndexOf('/');
  return `${kind}${slash > 0 ? `.${apiVersion.slice(0, slash)}` : ''}/${namespace}/${name}`;
}

export function objectKey(namespace: string, name: string): ObjectKey {
  return namespace === '' ? name : `${namespace}/${name}`;
}

/**
 * Order for settling conflicts: the older object wins, as in Kubernetes
 * controllers; without creation times (files), the first by namespace/name.
 */
export function olderFirst(a: Entry<unknown>, b: Entry<unknown>): number {
  const ta = a.obj.metadata.creationTimestamp;
  const tb = b.obj.metadata.creationTimestamp;
  if (ta && tb && ta !== tb) return ta < tb ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Map in sorted key order, so iteration (and everything built from it) is deterministic. */
export function sortedMap<V>(entries: Iterable<[string, V]>): Map<string, V> {
  return new Map([...entries].toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export { formatSpiffeId as spiffeId } from '../../identity/spiffe.ts';
