/**
 * An encoded response kept as its parts until the one copy that puts it into
 * gRPC's frame. A state-of-the-world CDS response of a 1,000-service mesh is
 * ~0.5 MB, sent to every stream: concatenating it (one copy, one fresh
 * buffer) and then letting grpc-js frame it (a second copy, a second buffer)
 * was the largest cost of an initial sync (issue 14: ~30 % of the server's
 * CPU with the garbage collection of those buffers). The shared parts (a
 * scope's clusters, made once per version) are copied once per stream, into
 * the frame, and nothing else is allocated.
 *
 * How grpc-js frames a server message (@grpc/grpc-js server-interceptors.js,
 * serializeMessage; 1.14): it calls the method's serializer, reads
 * `byteLength` of the result, allocates `byteLength + 5` and calls
 * `result.copy(output, 5)`. The serializer of Trellis's methods hands this
 * object through (server/xds-server.ts), so only those two members are
 * used, with Buffer's meaning. Every xDS test sends through this path: a
 * grpc-js that framed differently fails them all, not silently.
 */
export class ResponseBytes {
  readonly byteLength: number;

  constructor(readonly parts: readonly Buffer[]) {
    let n = 0;
    for (const p of parts) n += p.length;
    this.byteLength = n;
  }

  /** Buffer#copy's contract: copy everything into `target` at `targetStart`; the bytes copied. */
  copy(target: Uint8Array, targetStart = 0): number {
    let at = targetStart;
    for (const p of this.parts) at += p.copy(target, at);
    return at - targetStart;
  }

  /** One buffer (tests, and anything that is not grpc-js framing). */
  toBuffer(): Buffer {
    return Buffer.concat(this.parts as Buffer[], this.byteLength);
  }
}
