/**
 * Counting a request's repeated fields before decoding it. protobufjs builds
 * a string or object per entry, so 16 MiB of one-byte names would become
 * millions of strings (hundreds of MB) before any check could run; walking
 * the top-level tags costs nothing by comparison (issue 16 bug 5).
 * Field numbers: envoy/service/discovery/v3/discovery.proto.
 */
import protobuf from 'protobufjs';

/** DiscoveryRequest: resource_names, resource_locators. */
export const SOTW_REPEATED: Readonly<Record<number, string>> = { 3: 'resource_names', 7: 'resource_locators' };
/** DeltaDiscoveryRequest: the name lists, initial_resource_versions (one map entry each), the locator lists. */
export const DELTA_REPEATED: Readonly<Record<number, string>> = {
  3: 'resource_names_subscribe',
  4: 'resource_names_unsubscribe',
  5: 'initial_resource_versions',
  8: 'resource_locators_subscribe',
  9: 'resource_locators_unsubscribe',
};

/** A request with more entries in one repeated field than the server takes; nothing of it was decoded. */
export class TooManyEntries extends Error {
  constructor(
    readonly field: string,
    readonly count: number,
    readonly limit: number,
  ) {
    super(`${count} entries in ${field}; at most ${limit} per request`);
  }
}

/**
 * Throws TooManyEntries if any of `fields` repeats more than `limit` times.
 * Malformed bytes are left for the decoder to report.
 */
export function checkRepeated(bytes: Uint8Array, fields: Readonly<Record<number, string>>, limit: number): void {
  const counts = new Map<number, number>();
  const r = protobuf.Reader.create(bytes);
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      const field = tag >>> 3;
      if (fields[field] !== undefined) {
        const n = (counts.get(field) ?? 0) + 1;
        if (n > limit) throw new TooManyEntries(fields[field], countAll(r, tag, n), limit);
        counts.set(field, n);
      }
      r.skipType(tag & 7);
    }
  } catch (e) {
    if (e instanceof TooManyEntries) throw e;
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
