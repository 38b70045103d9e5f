import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
// grpc-js's own decoder, the one every server call reads requests with (not a stand-in).
import { StreamDecoder } from '@grpc/grpc-js/build/src/stream-decoder.js';
import { decoderRelease } from '../../src/server/decoder-release.ts';

/** One gRPC message: flag, length, `body`. */
function framed(body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

type DecoderState = { readCompressFlag: Buffer; readPartialMessage: Buffer[]; write(d: Buffer): Buffer[] };

/** A server call as grpc-js hands it to interceptors, as far as decoderRelease reads it. */
function interceptedDecoder(): DecoderState {
  const call = { decoder: new StreamDecoder(-1) };
  decoderRelease()({} as grpc.ServerMethodDefinition<unknown, unknown>, call as unknown as grpc.ServerInterceptingCallInterface);
  return call.decoder as unknown as DecoderState;
}

/** Whether the decoder still points into `chunk`'s memory. */
const holds = (d: DecoderState, chunk: Buffer) =>
  d.readCompressFlag.buffer === chunk.buffer || d.readPartialMessage.some((p) => p.buffer === chunk.buffer);

describe('issue 14: a stream keeps none of its last request once read (src/server/decoder-release.ts)', () => {
  it("grpc-js's decoder left alone keeps the last request's buffer (what this fixes)", () => {
    const d = new StreamDecoder(-1) as unknown as DecoderState;
    const chunk = Buffer.from(framed(Buffer.alloc(40_000, 1)));
    expect(d.write(chunk)).toHaveLength(1);
    expect(holds(d, chunk)).toBe(true);
  });

  it('after a whole message the decoder holds no view of the data it came in, and reads the next ones alike', () => {
    const d = interceptedDecoder();
    const chunk = Buffer.from(framed(Buffer.alloc(40_000, 1)));
    const [m] = d.write(chunk);
    expect(m!.length).toBe(40_005);
    expect(holds(d, chunk)).toBe(false);
    // A message split over chunks, then two in one chunk: decoded as before.
    const two = framed(Buffer.alloc(3000, 2));
    expect(d.write(two.subarray(0, 1000))).toHaveLength(0);
    const rest = Buffer.concat([two.subarray(1000), framed(Buffer.from('abc')), framed(Buffer.alloc(0))]);
    const out = d.write(rest);
    expect(out.map((b) => b.length)).toEqual([3005, 8, 5]);
    expect(out[0]!.subarray(5).every((x) => x === 2)).toBe(true);
    expect(out[1]!.subarray(5).toString()).toBe('abc');
    expect(holds(d, rest)).toBe(false);
  });
});
