/**
 * A lean reader for the common state-of-the-world request: an ACK that
 * repeats the subscription. Envoy sends one per response, carrying every
 * subscribed name (a thousand EDS names is ~16 KB), and decoding them all
 * was the largest cost of a push to many streams. This reads the few scalar
 * fields itself and, when the bytes of the name list equal those of the
 * previous request of the same type on the stream, reuses that list — same
 * array, no strings built.
 *
 * Anything unusual (a node, an error_detail, resource locators) returns
 * undefined and the caller decodes the whole message with protobufjs.
 * Field numbers: envoy/service/discovery/v3/discovery.proto, DiscoveryRequest.
 */
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import type { SotwRequest } from './wire.ts';
import { Interner } from '../interner.ts';
import { isKnownTypeUrl } from './type-urls.ts';
import { tooManyEntries } from './request-scan.ts';

/**
 * A name list and the raw bytes it was read from, shared by every stream that
 * sent the same bytes: a thousand Envoys subscribing the same thousand EDS
 * names hold one array and one copy of its 16 KB, not one each.
 */
export interface NamesMemo {
  raw: Buffer;
  names: string[];
}

const shared = new Interner<NamesMemo>();

function sharedNames(region: Buffer): NamesMemo {
  const digest = createHash('sha1').update(region).digest('base64');
  // Frozen: every stream holding it reads the same array.
  return shared.intern(digest, () => ({ raw: Buffer.from(region), names: Object.freeze(decodeNames(region)) as string[] }));
}

/** Tag of resource_names (field 3, length-delimited). */
const NAMES_TAG = (3 << 3) | 2;

export class SotwRequestReader {
  /**
   * Per type URL Trellis serves: the raw bytes of the last name list and the
   * names they held. Never for other type URLs: the stream ignores those, and
   * a memo per unknown type let one stream keep 40 × 1.9 MiB of names alive
   * (issue 16 bug 5).
   */
  private readonly previous = new Map<string, NamesMemo>();

  /** @param maxNames names in one request past which read() throws OverBudget, before decoding any */
  constructor(private readonly maxNames = Infinity) {}

  read(bytes: Uint8Array): SotwRequest | undefined {
    const r = protobuf.Reader.create(bytes);
    let version = '';
    let typeUrl = '';
    let nonce = '';
    let first = -1;
    let last = -1;
    let count = 0;
    /** The previous list of some type whose bytes this run repeats (see below). */
    let repeated: { typeUrl: string; memo: NamesMemo } | undefined;
    while (r.pos < r.len) {
      const tagPos = r.pos;
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === 2) version = readString(r);
      else if (field === 3 && wire === 2) {
        // Names must be one contiguous run for the region compare to mean anything.
        if (first >= 0 && last !== tagPos) return undefined;
        if (first < 0) {
          first = tagPos;
          // The usual ACK repeats the stream's last list byte for byte: one
          // memcmp instead of walking a thousand names and hashing 16 KB
          // (issue 14: the largest cost of a push to 10,000 streams). The type
          // comes later in the message, so try each type's previous list; a
          // byte-equal run at a tag boundary, not followed by another name,
          // is that list.
          repeated = this.repeatedRun(bytes, tagPos);
          if (repeated) {
            r.pos = tagPos + repeated.memo.raw.length;
            last = r.pos;
            count = repeated.memo.names.length;
            continue;
          }
        }
        count++;
        skipBytes(r);
        last = r.pos;
      } else if (field === 4 && wire === 2) typeUrl = readString(r);
      else if (field === 5 && wire === 2) nonce = readString(r);
      else if (field === 2 || field === 6 || field === 7) return undefined;
      else r.skipType(wire);
    }
    if (count > this.maxNames) throw tooManyEntries('resource_names', count, this.maxNames);
    let names: string[] = [];
    if (first >= 0 && !isKnownTypeUrl(typeUrl)) {
      names = decodeNames(Buffer.from(bytes.buffer, bytes.byteOffset + first, last - first));
    } else if (repeated && repeated.typeUrl === typeUrl && last - first === repeated.memo.raw.length) {
      names = repeated.memo.names;
    } else if (first >= 0) {
      const memo = sharedNames(Buffer.from(bytes.buffer, bytes.byteOffset + first, last - first));
      names = memo.names;
      this.previous.set(typeUrl, memo);
    } else {
      this.previous.delete(typeUrl);
    }
    return { version_info: version, resource_names: names, type_url: typeUrl, response_nonce: nonce };
  }

  private repeatedRun(bytes: Uint8Array, at: number): { typeUrl: string; memo: NamesMemo } | undefined {
    for (const [typeUrl, memo] of this.previous) {
      const end = at + memo.raw.length;
      if (end > bytes.length || (end < bytes.length && bytes[end] === NAMES_TAG)) continue;
      if (memo.raw.equals(bytes.subarray(at, end))) return { typeUrl, memo };
    }
    return undefined;
  }

  /** Forget what a fully decoded request may have changed. */
  forget(typeUrl: string): void {
    this.previous.delete(typeUrl);
  }
}

function decodeNames(region: Buffer): string[] {
  const r = protobuf.Reader.create(region);
  const out: string[] = [];
  while (r.pos < r.len) {
    r.uint32();
    out.push(readString(r));
  }
  return out;
}

/**
 * protobufjs's Node reader slices strings without checking that the bytes
 * are there, so a truncated request would read as a shorter string; check.
 */
function readString(r: protobuf.Reader): string {
  const len = r.uint32();
  if (r.pos + len > r.len) throw new RangeError(`string of ${len} bytes at ${r.pos} runs past the end of a ${r.len}-byte message`);
  const s = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, len).toString('utf8');
  r.pos += len;
  return s;
}

function skipBytes(r: protobuf.Reader): void {
  const len = r.uint32();
  if (r.pos + len > r.len) throw new RangeError(`field of ${len} bytes at ${r.pos} runs past the end of a ${r.len}-byte message`);
  r.pos += len;
}
