/**
 * Issue 16 bug 14: a gRPC frame flagged compressed on a call that declared
 * no grpc-encoding hung the stream (grpc-js read it as uncompressed). Raw
 * HTTP/2 (node:http2) writes the frames, since no gRPC client sends this.
 */
import http2 from 'node:http2';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSotwResponse, encodeSotwRequest } from '../../src/xds/wire.ts';
import { ADS_PATHS, node } from '../support/ads-client.ts';
import { smallMesh } from '../support/fixtures.ts';
import { CDS, eventually, metric, startHarness, type Harness } from '../support/conformance.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.set(smallMesh());
});
afterAll(async () => {
  await h?.close();
});

/** One length-prefixed gRPC message with the given Compressed-Flag. */
function frame(flag: number, msg: Buffer): Buffer {
  const f = Buffer.alloc(5 + msg.length);
  f.writeUInt8(flag, 0);
  f.writeUInt32BE(msg.length, 1);
  msg.copy(f, 5);
  return f;
}

/** A raw ADS call: its status (from headers or trailers) and the messages it received. */
function rawCall(session: http2.ClientHttp2Session, encoding?: string) {
  const req = session.request({ ':method': 'POST', ':path': ADS_PATHS.sotw, 'content-type': 'application/grpc', te: 'trailers', ...(encoding ? { 'grpc-encoding': encoding } : {}) });
  let data = Buffer.alloc(0);
  const waiting: Array<() => void> = [];
  req.on('data', (d: Buffer) => {
    data = Buffer.concat([data, d]);
    for (const w of waiting.splice(0)) w();
  });
  const status = new Promise<{ code: number; message: string }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no gRPC status within 5 s: the stream hangs')), 5000);
    const seen = (hd: http2.IncomingHttpHeaders) => {
      if (hd['grpc-status'] === undefined) return;
      clearTimeout(t);
      resolve({ code: Number(hd['grpc-status']), message: decodeURIComponent(String(hd['grpc-message'] ?? '')) });
    };
    req.on('response', seen);
    req.on('trailers', seen);
  });
  status.catch(() => {});
  return {
    req,
    status,
    /** The first response message, within 5 s. */
    async firstResponse() {
      const end = Date.now() + 5000;
      while (data.length < 5 || data.length < 5 + data.readUInt32BE(1)) {
        if (Date.now() > end) throw new Error('no response within 5 s');
        await new Promise<void>((r) => (waiting.push(r), setTimeout(r, 100)));
      }
      return decodeSotwResponse(data.subarray(5, 5 + data.readUInt32BE(1)));
    },
  };
}

describe('issue 16 bug 14: a frame flagged compressed with no grpc-encoding', () => {
  it.each([
    ['the first request, flagged compressed but sent plain', () => encodeSotwRequest({ node: node('bug14-plain'), type_url: CDS }), false],
    ['a later request, gzipped, with no encoding declared', () => zlib.gzipSync(encodeSotwRequest({ type_url: CDS, resource_names: ['a'] })), true],
  ] as const)('issue 16 bug 14: %s ends the stream with INTERNAL saying why', { timeout: 15_000 }, async (_name, payload, afterFirst) => {
    const before = metric(await h.metrics(), 'trellis_xds_rejected_requests_total', { reason: 'undeclared_compression' });
    const session = http2.connect(`http://${h.address}`);
    try {
      const call = rawCall(session);
      if (afterFirst) {
        call.req.write(frame(0, encodeSotwRequest({ node: node('bug14-gz'), type_url: CDS })));
        expect((await call.firstResponse()).type_url).toBe(CDS);
      }
      call.req.write(frame(1, payload()));
      const status = await call.status;
      expect(status.code).toBe(13); // INTERNAL
      expect(status.message).toContain('grpc-encoding');
      expect(await eventually(() => h.server.xds.streamCount() === 0)).toBe(true);
      expect(metric(await h.metrics(), 'trellis_xds_rejected_requests_total', { reason: 'undeclared_compression' })).toBe(before + 1);
    } finally {
      session.destroy();
    }
  });

  it('issue 16 bug 14: a frame flagged compressed under a declared grpc-encoding: gzip is served', { timeout: 15_000 }, async () => {
    const session = http2.connect(`http://${h.address}`);
    try {
      const call = rawCall(session, 'gzip');
      call.req.write(frame(1, zlib.gzipSync(encodeSotwRequest({ node: node('bug14-declared'), type_url: CDS }))));
      const r = await call.firstResponse();
      expect(r.resources.map((x) => (x.value as { name: string }).name).sort()).toEqual(['a', 'b']);
    } finally {
      session.destroy();
    }
  });
});
