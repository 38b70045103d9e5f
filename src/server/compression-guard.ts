/**
 * A message flagged compressed on a call that declared no grpc-encoding
 * (issue 16 bug 14). The gRPC spec (PROTOCOL-HTTP2.md, "Compressed-Flag")
 * allows the flag only with a declared Message-Encoding, and gRPC core ends
 * such a call with INTERNAL. grpc-js 1.14 instead reads the bytes as if
 * uncompressed: a compressed request then decodes to noise — often a
 * request for some unknown type, which is ignored — and the client waits
 * on a stream that never answers.
 *
 * grpc-js offers no public hook on the flag, so this interceptor wraps the
 * innermost call's private decompressMessage(frame, encoding), which sees
 * the 5-byte prefix: on a non-zero flag under 'identity' it fails the way
 * grpc-js fails an unsupported encoding, and grpc-js ends the call with that
 * status; the message is never delivered. If a grpc-js upgrade renames the
 * method, the guard does nothing and test/xds/compression.test.ts fails.
 */
import * as grpc from '@grpc/grpc-js';

type Decompress = (frame: Buffer, encoding: string) => Buffer | Promise<Buffer>;

export const UNDECLARED_COMPRESSION = 'message flagged compressed, but the call declared no grpc-encoding: declare the encoding in the grpc-encoding header or clear the flag';

/** `onReject(peer)` is told of each call ended this way (for logs and metrics). */
export function compressionGuard(onReject: (peer: string) => void): grpc.ServerInterceptor {
  return (_method, call) => {
    const base = call as unknown as { decompressMessage?: Decompress };
    const original = base.decompressMessage;
    if (typeof original === 'function') {
      base.decompressMessage = function guarded(this: unknown, frame: Buffer, encoding: string) {
        // `encoding` is 'identity' for a zero flag too; the frame's first byte tells them apart.
        if (encoding === 'identity' && frame.length > 0 && frame[0] !== 0) {
          onReject(call.getPeer());
          return Promise.reject({ code: grpc.status.INTERNAL, details: UNDECLARED_COMPRESSION });
        }
        return original.call(this, frame, encoding);
      };
    }
    // The call itself, not a ServerInterceptingCall around it: grpc-js uses only
    // the interface, and a wrapper would add a layer to every message of every stream.
    return call as grpc.ServerInterceptingCall;
  };
}
