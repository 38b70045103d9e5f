/**
 * Field paths name one field of an object the way `kubectl explain` and the
 * API server's validation errors do: `spec.backends[1].weight`. A map key that
 * is not a plain identifier is quoted (`metadata.labels["app.kubernetes.io/name"]`)
 * so a path can always be split back into its segments.
 *
 * Sources use paths to record where each field was written; the model uses
 * the same paths to say which field a problem is about. Both sides must build
 * paths with these functions, or a problem's line lookup silently misses.
 */

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** The path of `key` inside the field at `parent` ('' is the object root). */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (IDENTIFIER.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

/**
 * The path of the field that contains `path`, or undefined for the root.
 * `spec.backends[1].weight` -> `spec.backends[1]` -> `spec.backends` -> `spec` -> ''.
 */
export function parentPath(path: string): string | undefined {
  if (path === '') return undefined;
  const cut = lastSegmentStart(path);
  return path.slice(0, cut);
}

/** Index where the last segment of a non-empty path starts (its `.` or `[`). */
function lastSegmentStart(path: string): number {
  let last = 0;
  let inString = false;
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '.' || c === '[') last = i;
  }
  return last;
}
