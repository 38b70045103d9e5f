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
import { buildMesh, objectIdOf, type BuildOptions, type BuildResult } from './build.ts';
import type { AcceptedInputs } from './resolve/incumbents.ts';
import { isAccepted, type ObjectStatus } from './problem.ts';
import { objectId } from './resolve/book.ts';

/** The accepted versions from the previous build (`BuildResult.accepted`). */
export type { AcceptedInputs };

export function buildMeshKeepingLastGood(objects: readonly SourceObject[], previous: AcceptedInputs | undefined, options: Omit<BuildOptions, 'previous'> = {}): BuildResult {
  const first = buildMesh(objects, { ...options, previous });
  if (!previous || previous.size === 0) return markPersisted(first);
  const substitutes = new Map<string, SourceObject>();
  for (const s of first.statuses) {
    if (isAccepted(s)) continue;
    const id = statusId(s);
    const prev = previous.get(id);
    if (prev) substitutes.set(id, prev);
  }
  if (substitutes.size === 0) return markPersisted(first);

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
  const second = buildMesh(retry, { ...options, previous });
  const served = new Set(second.statuses.filter((s) => substitutes.has(statusId(s)) && isAccepted(s)).map(statusId));
  const statuses: ObjectStatus[] = second.statuses.filter((s) => !substitutes.has(statusId(s)));
  for (const s of first.statuses) {
    const id = statusId(s);
    if (!substitutes.has(id)) continue;
    if (!served.has(id)) {
      statuses.push(s);
      continue;
    }
    const prev = substitutes.get(id)!;
    const generation = prev.metadata.generation;
    const persistedAt = prev.origin.source === 'file' ? prev.origin.persistedAt : undefined;
    const note = persistedAt
      ? `served from the last good version persisted at ${persistedAt}`
      : generation !== undefined
        ? `the last good version (generation ${generation}) is still served`
        : 'the last good version is still served';
    statuses.push({
      ...s,
      ...(persistedAt ? { servedFromPersisted: persistedAt } : generation !== undefined ? { servedGeneration: generation } : {}),
      conditions: s.conditions.map((c) => (c.type === 'Accepted' ? { ...c, message: `${c.message}; ${note}` } : c)),
    });
  }
  return markPersisted({
    model: second.model,
    statuses: statuses.toSorted((a, b) => (statusId(a) < statusId(b) ? -1 : statusId(a) > statusId(b) ? 1 : 0)),
    accepted: second.accepted,
  });
}

/**
 * An accepted object that is a persisted copy (its file could not be read at
 * start, so the runtime restored it) says so in its status too.
 */
function markPersisted(result: BuildResult): BuildResult {
  // Usually nothing is a persisted copy: no status to look at (4,000 of them on issue 14's mesh).
  if (![...result.accepted.values()].some((o) => o.origin.source === 'file' && o.origin.persistedAt)) return result;
  let marked = false;
  const statuses = result.statuses.map((s) => {
    const obj = result.accepted.get(statusId(s));
    const persistedAt = obj?.origin.source === 'file' ? obj.origin.persistedAt : undefined;
    if (!persistedAt || s.servedFromPersisted || !isAccepted(s)) return s;
    marked = true;
    const note = `served from the last good version persisted at ${persistedAt} (its file cannot be used)`;
    return { ...s, servedFromPersisted: persistedAt, conditions: s.conditions.map((c) => (c.type === 'Accepted' ? { ...c, message: `${c.message}; ${note}` } : c)) };
  });
  return marked ? { ...result, statuses } : result;
}

function statusId(s: ObjectStatus): string {
  return objectId(s.apiVersion, s.kind, s.namespace, s.name);
}
