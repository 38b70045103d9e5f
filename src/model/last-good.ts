/**
 * "Bad input never hurts good config": when a new version of an object is
 * rejected, the version accepted before keeps being served, and the object's
 * status says both things — this generation is rejected (and why), and which
 * generation is still served.
 *
 * A deleted object is gone (deletion is the operator's intent); only a
 * rejected new version falls back. The fallback is checked against the world
 * as it is now: if the old version no longer fits either (say, its backend
 * service was deleted), nothing is served for it.
 */
import type { SourceObject } from './object.ts';
import { buildMesh, objectIdOf, type BuildResult } from './build.ts';
import type { AcceptedInputs } from './resolve/incumbents.ts';
import { isAccepted, type ObjectStatus } from './problem.ts';
import { objectId } from './resolve/book.ts';

/** The accepted versions from the previous build (`BuildResult.accepted`). */
export type { AcceptedInputs };

export function buildMeshKeepingLastGood(objects: readonly SourceObject[], previous: AcceptedInputs | undefined): BuildResult {
  const first = buildMesh(objects, { previous });
  if (!previous || previous.size === 0) return first;
  const substitutes = new Map<string, SourceObject>();
  for (const s of first.statuses) {
    if (isAccepted(s)) continue;
    const id = statusId(s);
    const prev = previous.get(id);
    if (prev) substitutes.set(id, prev);
  }
  if (substitutes.size === 0) return first;

  // Every object with a substituted id (duplicates too) is replaced by the one previous version.
  const placed = new Set<string>();
  const retry: SourceObject[] = [];
  for (const obj of objects) {
    const id = objectIdOf(obj);
    const prev = substitutes.get(id);
    if (!prev) retry.push(obj);
    else if (!placed.has(id)) {
      placed.add(id);
      retry.push(prev);
    }
  }
  const second = buildMesh(retry, { previous });
  const served = new Set(second.statuses.filter((s) => substitutes.has(statusId(s)) && isAccepted(s)).map(statusId));
  const statuses: ObjectStatus[] = second.statuses.filter((s) => !substitutes.has(statusId(s)));
  for (const s of first.statuses) {
    const id = statusId(s);
    if (!substitutes.has(id)) continue;
    if (!served.has(id)) {
      statuses.push(s);
      continue;
    }
    const generation = substitutes.get(id)!.metadata.generation;
    const note = generation !== undefined ? `the last good version (generation ${generation}) is still served` : 'the last good version is still served';
    statuses.push({
      ...s,
      ...(generation !== undefined ? { servedGeneration: generation } : {}),
      conditions: s.conditions.map((c) => (c.type === 'Accepted' ? { ...c, message: `${c.message}; ${note}` } : c)),
    });
  }
  return {
    model: second.model,
    statuses: statuses.toSorted((a, b) => (statusId(a) < statusId(b) ? -1 : statusId(a) > statusId(b) ? 1 : 0)),
    accepted: second.accepted,
  };
}

function statusId(s: ObjectStatus): string {
  return objectId(s.kind, s.namespace, s.name);
}
