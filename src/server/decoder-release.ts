/**
 * A stream keeps none of its last request's bytes once the request is read
 * (issue 14: memory per stream).
 *
 * grpc-js's StreamDecoder (stream-decoder.js, 1.14) keeps, after a message
 * is complete, the slices it read it from: the 1-byte compression flag and
 * the message's chunks, each a view of the HTTP/2 data buffer they came in.
 * They are let go only when the next message begins. A state-of-the-world
 * Envoy ACKs with its whole subscription (1,200 EDS names, ~45 KB in a
 * 1,000-service mesh), so every SotW stream held its last ACK's buffer: a
 * heap snapshot put ~31 KiB per stream there, most of what a SotW stream
 * costs beyond a delta one. This drops those references once the decoder is
 * between messages, where grpc-js sets them afresh before reading them.
 *
 * As compression-guard.ts, a server interceptor on the innermost call's
 * private state; a grpc-js that changes it is left alone (the memory comes
 * back, nothing breaks) and test/xds/decoder-release.test.ts fails.
 */
import type * as grpc from '@grpc/grpc-js';

/** grpc-js's ReadState.NO_DATA: between messages. */
const NO_DATA = 0;
/** Frozen: grpc-js sets a fresh array before it adds to one, and would fail loudly if that changed. */
const NOTHING = Object.freeze([]) as unknown as Buffer[];
const NO_FLAG = Buffer.alloc(1);

interface Decoder {
  readState?: number;
  readCompressFlag?: Buffer;
  readPartialMessage?: Buffer[];
  write?: (data: Buffer) => Buffer[];
}

/** The decoders' own write, found on the first call (one function for every stream, no closure per call). */
let decoderWrite: ((this: Decoder, data: Buffer) => Buffer[]) | undefined;

function releasingWrite(this: Decoder, data: Buffer): Buffer[] {
  const messages = decoderWrite!.call(this, data);
  if (this.readState === NO_DATA) {
    this.readCompressFlag = NO_FLAG;
    this.readPartialMessage = NOTHING;
  }
  return messages;
}

function isKnownDecoder(d: Decoder | undefined): d is Required<Decoder> {
  return d !== undefined && typeof d.write === 'function' && typeof d.readState === 'number' && Array.isArray(d.readPartialMessage) && Buffer.isBuffer(d.readCompressFlag);
}

export function decoderRelease(): grpc.ServerInterceptor {
  return (_method, call) => {
    const decoder = (call as unknown as { decoder?: Decoder }).decoder;
    if (isKnownDecoder(decoder)) {
      const own = Object.getPrototypeOf(decoder) as Decoder;
      if (!decoderWrite && typeof own.write === 'function') decoderWrite = own.write;
      if (decoderWrite && own.write === decoderWrite) decoder.write = releasingWrite;
    }
    return call as grpc.ServerInterceptingCall;
  };
}
