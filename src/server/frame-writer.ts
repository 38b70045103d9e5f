/**
 * Responses written to HTTP/2 as their parts, without first copying them into
 * one gRPC frame (issue 14: initial sync).
 *
 * grpc-js frames a server message by allocating `byteLength + 5` bytes and
 * copying the serializer's output into it (server-interceptors.js,
 * serializeMessage; 1.14). A sidecar's first sync is ~0.5 MB, mostly shared
 * bytes (a scope's clusters, the endpoint sets every sidecar of the scope
 * asks for, a route configuration): 1,000 streams syncing at once made the
 * server allocate, fault in, copy and collect ~0.5 GB of fresh frames, the
 * largest cost of an initial sync in a CPU profile (~half the server's CPU
 * with the garbage collection). Node's HTTP/2 stream takes a list of buffers
 * (writev) and hands them to the socket as they are, so the shared parts go
 * out without a per-stream copy; only the 5-byte prefix and the small
 * per-response parts (version, type, nonce, a changed resource or two) are
 * joined into one small buffer.
 *
 * grpc-js has no public hook for this, so, as compression-guard.ts does, the
 * interceptor replaces the innermost call's private sendMessage for
 * ResponseBytes messages only, doing what the original does around the
 * write: headers first (maybeSendMetadata), nothing after cancellation
 * (checkCancelled), INTERNAL on a write error. If a grpc-js upgrade renames
 * what it uses, the interceptor leaves the call alone and responses take
 * grpc-js's own path (the serializer in xds-server.ts), one copy slower;
 * test/xds/frame-writer.test.ts fails so the upgrade notices.
 */
import type { Http2Stream } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { ResponseBytes } from '../xds/response-bytes.ts';

/** Parts smaller than this are joined with their neighbours: a write per tiny buffer costs more than the copy. */
const JOIN_BELOW_BYTES = 16 * 1024;

/** grpc-js's BaseServerInterceptingCall, as far as this file relies on it. */
interface BaseCall {
  stream?: Http2Stream;
  sendMessage?: (message: unknown, callback: () => void) => void;
  maybeSendMetadata?: () => void;
  checkCancelled?: () => boolean;
  sendStatus?: (status: { code: grpc.status; details: string; metadata: null }) => void;
}

/**
 * The chunks a response goes out as: the gRPC prefix (flag 0, length) joined
 * with the small parts around it, the large parts as they are. Each run of
 * small parts is copied once into a buffer of its size (from Node's pool when
 * small): no intermediate lists or closures, as this runs once per response
 * and stream (10,000 per push in the benchmark).
 */
export function frameChunks(r: ResponseBytes): Buffer[] {
  const parts = r.parts;
  const out: Buffer[] = [];
  let from = 0;
  let bytes = PREFIX_BYTES;
  let prefixed = true;
  for (let i = 0; i <= parts.length; i++) {
    const p = parts[i];
    if (p !== undefined && p.length < JOIN_BELOW_BYTES) {
      bytes += p.length;
      continue;
    }
    if (bytes > 0) out.push(joinRun(parts, from, i, bytes, prefixed ? r.byteLength : -1));
    prefixed = false;
    if (p !== undefined) out.push(p);
    from = i + 1;
    bytes = 0;
  }
  return out;
}

const PREFIX_BYTES = 5;

/** parts[from, to) as one buffer of `bytes`, after the gRPC prefix for a message of `messageLength` unless it is -1. */
function joinRun(parts: readonly Buffer[], from: number, to: number, bytes: number, messageLength: number): Buffer {
  if (messageLength < 0 && to - from === 1) return parts[from]!;
  const b = Buffer.allocUnsafe(bytes);
  let at = 0;
  if (messageLength >= 0) {
    b[0] = 0; // not compressed
    b.writeUInt32BE(messageLength, 1);
    at = PREFIX_BYTES;
  }
  for (let k = from; k < to; k++) at += parts[k]!.copy(b, at);
  return b;
}

/** Whether `call` is a grpc-js base call this file knows how to write to. */
function isKnownBase(call: BaseCall): call is Required<BaseCall> {
  return (
    typeof call.sendMessage === 'function' &&
    typeof call.maybeSendMetadata === 'function' &&
    typeof call.checkCancelled === 'function' &&
    typeof call.sendStatus === 'function' &&
    typeof call.stream?.write === 'function' &&
    typeof call.stream.cork === 'function'
  );
}

type SendMessage = (this: Required<BaseCall>, message: unknown, callback: () => void) => void;

/** grpc-js's own sendMessage, found on the first call (one function for every stream, no closure per call). */
let grpcSendMessage: SendMessage | undefined;

function sendParts(this: Required<BaseCall>, message: unknown, callback: () => void): void {
  if (!(message instanceof ResponseBytes)) return grpcSendMessage!.call(this, message, callback);
  if (this.checkCancelled()) return;
  this.maybeSendMetadata();
  const chunks = frameChunks(message);
  const stream = this.stream;
  const last = chunks.length - 1;
  // Corked writes reach the stream as one writev: one DATA run, no copy of the large parts.
  if (last > 0) {
    stream.cork();
    for (let i = 0; i < last; i++) stream.write(chunks[i]);
  }
  // As grpc-js: a failed write ends the call with INTERNAL, and the message callback is not called.
  // (An inline callback: a named one would be renamed on every call by the TypeScript loader's keepNames.)
  stream.write(chunks[last], (error?: Error | null) => {
    if (error) return this.sendStatus({ code: grpc.status.INTERNAL, details: 'Internal server error', metadata: null });
    callback();
  });
  if (last > 0) stream.uncork();
}

/** The interceptor: ResponseBytes go to the HTTP/2 stream as frameChunks(), everything else as grpc-js sends it. */
export function frameWriter(): grpc.ServerInterceptor {
  return (_method, call) => {
    const base = call as unknown as BaseCall;
    if (isKnownBase(base)) {
      const own = (Object.getPrototypeOf(base) as BaseCall).sendMessage as SendMessage | undefined;
      if (!grpcSendMessage && typeof own === 'function') grpcSendMessage = own;
      if (grpcSendMessage && own === grpcSendMessage) base.sendMessage = sendParts;
    }
    // The call itself, as compression-guard.ts: grpc-js uses only the interface.
    return call as grpc.ServerInterceptingCall;
  };
}
