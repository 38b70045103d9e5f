/**
 * Where two decoded resources differ, leaf by leaf: `trellis diff` prints
 * these for a modified resource, and the differential test names them when
 * two planes disagree. Paths are the proto JSON's field names joined by dots;
 * a list whose elements all have distinct names (virtual hosts, routes,
 * weighted clusters, filter chains) is compared by name, written `[name]`, so
 * removing one element reads as that element removed, not every later index
 * changed; other lists by index (`.thresholds.0.max_connections`).
 */

export interface FieldChange {
  /** `.a.b[name].c`; `.` for the whole value */
  path: string;
  /** undefined: the field is absent on that side */
  before: unknown;
  after: unknown;
}

type Json = Record<string, unknown>;

function isContainer(v: unknown): v is Json {
  return typeof v === 'object' && v !== null;
}

/** A list as name -> element when every element has a distinct string name; else undefined. */
function byName(list: unknown): Map<string, unknown> | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const out = new Map<string, unknown>();
  for (const e of list) {
    const name = isContainer(e) ? e.name : undefined;
    if (typeof name !== 'string' || out.has(name)) return undefined;
    out.set(name, e);
  }
  return out;
}

/** The children to compare, each with its path segment. */
function children(a: Json, b: Json): Array<[segment: string, a: unknown, b: unknown]> {
  const na = byName(a);
  const nb = byName(b);
  if (na && nb) return [...new Set([...na.keys(), ...nb.keys()])].map((k) => [`[${k}]`, na.get(k), nb.get(k)]);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [`.${k}`, a[k], b[k]]);
}

/** The leaf paths where `a` and `b` differ, in field order, at most `limit` of them. */
export function jsonDiff(a: unknown, b: unknown, limit = Infinity, path = ''): FieldChange[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (isContainer(a) && isContainer(b) && Array.isArray(a) === Array.isArray(b)) {
    const out: FieldChange[] = [];
    for (const [segment, ca, cb] of children(a, b)) {
      out.push(...jsonDiff(ca, cb, limit - out.length, `${path}${segment}`));
      if (out.length >= limit) break;
    }
    return out;
  }
  return [{ path: path || '.', before: a, after: b }];
}

/** At most this many characters of a value in a line (a removed virtual host is a page of JSON). */
const SHOWN = 100;

/** `path: before → after`, values as JSON, long ones cut (an absent side reads `(none)`). */
export function formatFieldChange(c: FieldChange): string {
  const show = (v: unknown) => {
    if (v === undefined) return '(none)';
    const text = JSON.stringify(v);
    return text.length > SHOWN ? `${text.slice(0, SHOWN)}…` : text;
  };
  return `${c.path}: ${show(c.before)} → ${show(c.after)}`;
}
