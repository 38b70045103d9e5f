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
 * with the small parts around it, the large parts as they are.
 */
export function frameChunks(r: ResponseBytes): Buffer[] {
  const prefix = Buffer.allocUnsafe(5);
  prefix[0] = 0; // not compressed
  prefix.writeUInt32BE(r.byteLength, 1);
  const out: Buffer[] = [];
  let small: Buffer[] = [prefix];
  let smallBytes = 5;
  const joinSmall = () => {
    if (small.length === 0) return;
    out.push(small.length === 1 ? small[0]! : Buffer.concat(small, smallBytes));
    small = [];
    smallBytes = 0;
  };
  for (const p of r.parts) {
    if (p.length === 0) continue;
    if (p.length < JOIN_BELOW_BYTES) {
      small.push(p);
      smallBytes += p.length;
      continue;
    }
    joinSmall();
    out.push(p);
  }
  joinSmall();
  return out;
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
  const done = (error?: Error | null) => {
    // As grpc-js: a failed write ends the call with INTERNAL, and the message callback is not called.
    if (error) return this.sendStatus({ code: grpc.status.INTERNAL, details: 'Internal server error', metadata: null });
    callback();
  };
  if (chunks.length === 1) {
    stream.write(chunks[0], done);
    return;
  }
  // Corked writes reach the stream as one writev: one DATA run, no copy of the large parts.
  stream.cork();
  for (let i = 0; i < chunks.length - 1; i++) stream.write(chunks[i]);
  stream.write(chunks.at(-1), done);
  stream.uncork();
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
