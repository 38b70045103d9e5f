/**
 * Checking a request's size where decoding would multiply it, before
 * decoding it. protobufjs builds a string or object per entry, so 32 MiB of
 * one-byte names would become millions of strings (hundreds of MB) before
 * any check could run; walking the top-level tags costs nothing by
 * comparison (issue 16 bug 5). The node is kept for the stream's life, so
 * its size is checked here too.
 * Field numbers: envoy/service/discovery/v3/discovery.proto.
 */
import protobuf from 'protobufjs';

export interface RequestShape {
  /** repeated fields whose entries are counted, by field number */
  repeated: Readonly<Record<number, string>>;
  /** the field number of `node` */
  node: number;
}

/** DiscoveryRequest: resource_names, resource_locators; node. */
export const SOTW_SHAPE: RequestShape = { repeated: { 3: 'resource_names', 7: 'resource_locators' }, node: 2 };
/** DeltaDiscoveryRequest: the name lists, initial_resource_versions (one map entry each), the locator lists; node. */
export const DELTA_SHAPE: RequestShape = {
  repeated: {
    3: 'resource_names_subscribe',
    4: 'resource_names_unsubscribe',
    5: 'initial_resource_versions',
    8: 'resource_locators_subscribe',
    9: 'resource_locators_unsubscribe',
  },
  node: 1,
};

export interface RequestBudget {
  /** entries in any one repeated field */
  maxEntries: number;
  /** bytes of the encoded node */
  maxNodeBytes: number;
}

/** A request over its budget; nothing of it was decoded. `reason` is a label for metrics. */
export class OverBudget extends Error {
  constructor(
    readonly reason: 'too_many_names' | 'node_too_large',
    message: string,
  ) {
    super(message);
  }
}

export function tooManyEntries(field: string, count: number, limit: number): OverBudget {
  return new OverBudget('too_many_names', `${count} entries in ${field}; at most ${limit} per request`);
}

/**
 * Throws OverBudget if a repeated field of `shape` has more entries than the
 * budget, or the node more bytes. Malformed bytes are left for the decoder.
 */
export function checkRequest(bytes: Uint8Array, shape: RequestShape, budget: RequestBudget): void {
  const counts = new Map<number, number>();
  const r = protobuf.Reader.create(bytes);
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const name = shape.repeated[field];
      if (name !== undefined) {
        const n = (counts.get(field) ?? 0) + 1;
        if (n > budget.maxEntries) throw tooManyEntries(name, countAll(r, tag, n), budget.maxEntries);
        counts.set(field, n);
      } else if (field === shape.node && (tag & 7) === 2) {
        const len = r.uint32();
        if (r.pos + len > r.len) return; // runs past the end: malformed, the decoder says so
        if (len > budget.maxNodeBytes) throw new OverBudget('node_too_large', `node of ${len} bytes; at most ${budget.maxNodeBytes}`);
        r.skip(len);
        continue;
      }
      r.skipType(tag & 7);
    }
  } catch (e) {
    if (e instanceof OverBudget) throw e;
  }
}

/** The whole count, for the message (the walk is cheap; the decode is what is avoided). */
function countAll(r: protobuf.Reader, tag: number, seen: number): number {
  let n = seen;
  try {
    r.skipType(tag & 7);
    while (r.pos < r.len) {
      const t = r.uint32();
      if (t === tag) n++;
      r.skipType(t & 7);
    }
  } catch {
    // truncated: the count so far will do
  }
  return n;
}
