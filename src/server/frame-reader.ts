/**
 * Requests read from HTTP/2 as they came, without grpc-js's copy and promise
 * per message (issue 14: server CPU per push; and memory per stream).
 *
 * After an endpoint change every SotW stream ACKs with its whole
 * subscription: at 10,000 streams, 10,000 requests of 16 KB within a second.
 * grpc-js 1.14 reads each one (server-interceptors.js handleDataFrame,
 * stream-decoder.js) by keeping views of the DATA chunks it came in, then
 * copying them into a fresh buffer — always, even when the message sits whole
 * in one chunk — and passing it through an `async` decompression step, one
 * promise and one microtask per message, before the call's listener sees it.
 * Its decoder also kept the views of the last message until the next one
 * began: every SotW stream held its last ACK's 16–45 KB (a heap snapshot put
 * ~31 KiB per stream there). In a profile of a push to 10,000 streams the
 * copies alone were ~15 % of the server's CPU, and the garbage they make (an
 * external buffer per ACK) drove its collections.
 *
 * FrameReader reads the 5-byte gRPC prefix (flag, length) itself: a message
 * whole in one chunk is a view of that chunk (no copy); one split over chunks
 * is copied once into a buffer of its size, allocated when the prefix is read.
 * It keeps no view of a chunk once a message is complete. An uncompressed
 * message then goes to the call's read queue as grpc-js would put it there
 * after decompressing (READABLE, deserialized), in order, with grpc-js's own
 * pause per message and its listener; a compressed one (flag 1) takes
 * grpc-js's path unchanged, so compression-guard.ts still sees it.
 *
 * grpc-js has no public hook for this, so, as frame-writer.ts and
 * compression-guard.ts do, the interceptor replaces one private method of the
 * innermost call (handleDataFrame), after checking that the call has the
 * fields it relies on; a grpc-js that changes them is left alone (its own
 * path: slower, and holding the last request) and test/xds/frame-reader.test.ts
 * fails so the upgrade notices.
 */
import type * as grpc from '@grpc/grpc-js';

const PREFIX_BYTES = 5;

/** One message for `to`: whether its compressed flag was set, and its bytes (after the prefix). */
export type MessageSink<T> = (to: T, compressed: boolean, body: Buffer) => void;

/** The gRPC length-prefixed message framing (PROTOCOL-HTTP2.md, "Length-Prefixed-Message"), across chunks. */
export class FrameReader {
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixHave = 0;
  /** The message being completed from several chunks, and how much of it is there. */
  private body: Buffer | null = null;
  private bodyHave = 0;

  /** @param maxMessageBytes a larger message throws (grpc-js's limit; -1: none) */
  constructor(private readonly maxMessageBytes: number) {}

  /** Between messages: nothing of an earlier chunk is held. */
  get idle(): boolean {
    return this.prefixHave === 0 && this.body === null;
  }

  /**
   * Feeds one chunk; calls `sink(to, ...)` for each message it completes, in
   * order (a function and its argument rather than a closure: one chunk per
   * request on the hot path). Throws RangeError on a message over the limit.
   */
  write<T>(data: Buffer, sink: MessageSink<T>, to: T): void {
    let pos = 0;
    while (pos < data.length) {
      if (this.body) {
        const n = Math.min(data.length - pos, this.body.length - this.bodyHave);
        data.copy(this.body, this.bodyHave, pos, pos + n);
        this.bodyHave += n;
        pos += n;
        if (this.bodyHave === this.body.length) {
          const body = this.body;
          this.body = null;
          sink(to, this.prefix[0] !== 0, body);
        }
        continue;
      }
      // A whole prefix in this chunk (the usual case) is read in place.
      if (this.prefixHave === 0 && data.length - pos >= PREFIX_BYTES) {
        const compressed = data[pos] !== 0;
        const length = data.readUInt32BE(pos + 1);
        this.check(length);
        const start = pos + PREFIX_BYTES;
        if (data.length - start >= length) {
          pos = start + length;
          sink(to, compressed, data.subarray(start, pos));
          continue;
        }
        data.copy(this.prefix, 0, pos, start);
        pos = start;
        this.begin(length);
        continue;
      }
      const n = Math.min(data.length - pos, PREFIX_BYTES - this.prefixHave);
      data.copy(this.prefix, this.prefixHave, pos, pos + n);
      this.prefixHave += n;
      pos += n;
      if (this.prefixHave < PREFIX_BYTES) continue;
      this.prefixHave = 0;
      const length = this.prefix.readUInt32BE(1);
      this.check(length);
      if (length === 0) sink(to, this.prefix[0] !== 0, Buffer.alloc(0));
      else this.begin(length);
    }
  }

  private check(length: number): void {
    // grpc-js's wording (stream-decoder.js), so clients see the same status text.
    if (this.maxMessageBytes !== -1 && length > this.maxMessageBytes) {
      throw new RangeError(`Received message larger than max (${length} vs ${this.maxMessageBytes})`);
    }
  }

  private begin(length: number): void {
    this.body = Buffer.allocUnsafe(length);
    this.bodyHave = 0;
  }
}

// --- the interceptor ----------------------------------------------------------

/** grpc-js's read-queue entry (server-interceptors.js, 1.14). */
interface QueueEntry {
  type: 'COMPRESSED' | 'READABLE' | 'HALF_CLOSE';
  compressedMessage: Buffer | null;
  parsedMessage: unknown;
}

/** grpc-js's BaseServerInterceptingCall, as far as this file relies on it. */
interface BaseCall {
  handleDataFrame?: (data: Buffer) => void;
  checkCancelled?: () => boolean;
  sendStatus?: (status: { code: grpc.status; details: string; metadata?: null }) => void;
  decompressAndMaybePush?: (entry: QueueEntry) => unknown;
  maybePushNextMessage?: () => void;
  readQueue?: QueueEntry[];
  maxReceiveMessageSize?: number;
  handler?: { deserialize?: (bytes: Buffer) => unknown };
  stream?: { pause?: () => void };
  callEventTracker?: { addMessageReceived(): void };
  /** Ours: the call's framing state. */
  frameReader?: FrameReader;
}

type KnownCall = Required<Omit<BaseCall, 'callEventTracker' | 'frameReader'>> & {
  handler: { deserialize: (bytes: Buffer) => unknown };
  stream: { pause: () => void };
  callEventTracker?: { addMessageReceived(): void };
  frameReader?: FrameReader;
};

function isKnownCall(call: BaseCall): call is KnownCall {
  return (
    typeof call.handleDataFrame === 'function' &&
    typeof call.checkCancelled === 'function' &&
    typeof call.sendStatus === 'function' &&
    typeof call.decompressAndMaybePush === 'function' &&
    typeof call.maybePushNextMessage === 'function' &&
    Array.isArray(call.readQueue) &&
    typeof call.maxReceiveMessageSize === 'number' &&
    typeof call.handler?.deserialize === 'function' &&
    typeof call.stream?.pause === 'function'
  );
}

/** grpc-js's own handleDataFrame, found on the first call: calls whose prototype has another are left alone. */
let grpcHandleDataFrame: ((data: Buffer) => void) | undefined;

const RESOURCE_EXHAUSTED = 8;
const INTERNAL = 13;

/** One message of `call`, queued as grpc-js queues it (handleDataFrame, decompressAndMaybePush). */
function deliver(call: KnownCall, compressed: boolean, body: Buffer): void {
  // grpc-js pauses the HTTP/2 stream per message until the application reads it.
  call.stream.pause();
  if (compressed) {
    // grpc-js's path, with the frame it expects (prefix included).
    const frame = Buffer.allocUnsafe(PREFIX_BYTES + body.length);
    frame[0] = 1;
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, PREFIX_BYTES);
    const entry: QueueEntry = { type: 'COMPRESSED', compressedMessage: frame, parsedMessage: null };
    call.readQueue.push(entry);
    void call.decompressAndMaybePush(entry);
  } else {
    let parsed: unknown;
    try {
      parsed = call.handler.deserialize(body);
    } catch {
      // grpc-js's answer to a request its deserializer refuses.
      call.sendStatus({ code: INTERNAL, details: 'Error deserializing request', metadata: null });
      return;
    }
    call.readQueue.push({ type: 'READABLE', compressedMessage: null, parsedMessage: parsed });
    call.maybePushNextMessage();
  }
  call.callEventTracker?.addMessageReceived();
}

function handleDataFrame(this: KnownCall, data: Buffer): void {
  if (this.checkCancelled()) return;
  const reader = (this.frameReader ??= new FrameReader(this.maxReceiveMessageSize));
  try {
    reader.write(data, deliver, this);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    this.sendStatus({ code: RESOURCE_EXHAUSTED, details: e.message, metadata: null });
  }
}

/** The interceptor: requests framed by FrameReader and queued without a copy or a promise each. */
export function frameReader(): grpc.ServerInterceptor {
  return (_method, call) => {
    const base = call as unknown as BaseCall;
    if (isKnownCall(base)) {
      const own = (Object.getPrototypeOf(base) as BaseCall).handleDataFrame;
      if (!grpcHandleDataFrame && typeof own === 'function') grpcHandleDataFrame = own;
      if (grpcHandleDataFrame && own === grpcHandleDataFrame) base.handleDataFrame = handleDataFrame;
    }
    return call as grpc.ServerInterceptingCall;
  };
}
