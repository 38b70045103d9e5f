/**
 * What the previous build accepted, for the conflicts an order of names must
 * not settle (issue 16 bug 8): a file carries no creation time, so "the older
 * wins" fell back to the first by name, and a new MeshConfig named `evil`
 * took the mesh over from the operator's `trellis`. The object that holds a
 * claim now keeps it; the newcomer, or the changed object, is the one
 * rejected, at its own file and line. Across a restart this holds as far as
 * the previous build's accepted objects are handed back (the persisted last
 * good config); without any (a first start, `trellis validate`), the
 * resolvers fall back to the older by creation time, then the first by name.
 */
import type { SourceObject } from '../object.ts';
import { objectId, type Entry } from './book.ts';

/** The version of each object in the previous build's model, by `Kind/namespace/name`. */
export type AcceptedInputs = ReadonlyMap<string, SourceObject>;

export class Incumbents {
  constructor(private readonly previous: AcceptedInputs | undefined) {}

  /** The object was in the previous model, in some version. */
  held(e: Entry<unknown>): boolean {
    return this.previous?.has(objectId(e.obj.apiVersion, e.kind, e.namespace, e.name)) ?? false;
  }

  /**
   * The object was in the previous model with the same spec. The spec, not
   * the generation or the whole object: generations restart with the file
   * source, and a cluster changes metadata and status (our own status writes)
   * without the operator changing anything.
   */
  unchanged(e: Entry<unknown>): boolean {
    const prev = this.previous?.get(objectId(e.obj.apiVersion, e.kind, e.namespace, e.name));
    if (!prev) return false;
    return prev === e.obj || JSON.stringify(prev.raw.spec) === JSON.stringify(e.obj.raw.spec);
  }
}

/** ` at file:line` for an object from a file: where the operator finds it. */
export function writtenAt(e: Entry<unknown>): string {
  return e.obj.origin.source === 'file' ? ` at ${e.obj.origin.file}:${e.obj.origin.line}` : '';
}
