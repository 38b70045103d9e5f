/**
 * decodeObject, remembered per object content (issue 14: an edit of one
 * object decoded all 4,000 of the 1,000-service mesh again, ~80 ms).
 *
 * A decode reads only the object's `raw` (through Field), its kind and the
 * namespace and name it is decoded under; sources never mutate `raw`
 * (model/object.ts) and hand the same `raw` again for an object whose
 * document did not change (the file source's document cache, an informer's
 * unchanged object). So the same `raw` under the same kind, namespace and
 * name decodes to the same result, which is shared, never copied: the
 * processors only read decoded specs and problems. Keyed weakly: an object
 * no source holds any more is forgotten with it.
 */
import type { SourceObject } from '../object.ts';
import { decodeObject, type DecodeContext, type DecodeResult, type KindSpec } from './kind.ts';

interface Decoded {
  spec: KindSpec<unknown>;
  namespace: string;
  name: string;
  result: DecodeResult<unknown>;
}

const decoded = new WeakMap<object, Decoded>();

export function decodeObjectOnce<T>(spec: KindSpec<T>, obj: SourceObject, ctx: DecodeContext): DecodeResult<T> {
  const known = decoded.get(obj.raw);
  if (known && known.spec === spec && known.namespace === ctx.namespace && known.name === ctx.name) return known.result as DecodeResult<T>;
  const result = decodeObject(spec, obj, ctx);
  decoded.set(obj.raw, { spec: spec as KindSpec<unknown>, namespace: ctx.namespace, name: ctx.name, result });
  return result;
}
