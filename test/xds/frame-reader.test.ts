import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
// grpc-js's own decoder and server call, the ones the interceptor stands in for (not stand-ins).
import { StreamDecoder } from '@grpc/grpc-js/build/src/stream-decoder.js';
import { BaseServerInterceptingCall } from '@grpc/grpc-js/build/src/server-interceptors.js';
import { startControlPlane, SHARED_KEY, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { encodeResource } from '../../src/cache/resource.ts';
import { FrameReader } from '../../src/server/frame-reader.ts';
import { node, XdsTestClient } from '../support/ads-client.ts';
import { apiListener, cluster, endpoints, routeConfig, snapshotOf } from '../support/fixtures.ts';

/** One gRPC message: flag, length, `body`. */
function framed(body: Buffer, flag = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** What a FrameReader makes of `chunks`: [flag, body] per message. */
function read(chunks: Buffer[], max = -1): Array<[boolean, Buffer]> {
  const reader = new FrameReader(max);
  const out: Array<[boolean, Buffer]> = [];
  for (const c of chunks) reader.write(c, (o, compressed, body) => o.push([compressed, body]), out);
  expect(reader.idle).toBe(true);
  return out;
}

/** `bytes` cut at pseudo-random points (seeded, so a failure repeats). */
function cut(bytes: Buffer, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let x = seed;
  for (let at = 0; at < bytes.length; ) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (x % 23 === 0 ? x % 6 : x % 9000);
    out.push(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  return out;
}

describe('issue 14: requests framed without a copy or a promise each (src/server/frame-reader.ts)', () => {
  it('a message whole in one chunk is a view of that chunk; grpc-js copies it', () => {
    const chunk = framed(Buffer.alloc(16_500, 1));
    const [[compressed, body]] = read([chunk]) as [[boolean, Buffer]];
    expect(compressed).toBe(false);
    expect(body.length).toBe(16_500);
    expect(body.buffer).toBe(chunk.buffer);
    // What this replaces: grpc-js's decoder returns a fresh copy of every message.
    const [copied] = (new StreamDecoder(-1) as unknown as { write(d: Buffer): Buffer[] }).write(chunk);
    expect(copied!.buffer).not.toBe(chunk.buffer);
  });

  it("reads what grpc-js's decoder reads, however the bytes are cut into chunks", () => {
    const messages = [
      framed(Buffer.alloc(16_500, 2)),
      framed(Buffer.from('abc')),
      framed(Buffer.alloc(0)),
      framed(Buffer.from('zipped'), 1),
      framed(Buffer.alloc(40_000, 3)),
      framed(Buffer.from('x')),
    ];
    const stream = Buffer.concat(messages);
    for (const seed of [1, 2, 3, 42, 1234]) {
      const chunks = cut(stream, seed);
      const ours = read(chunks);
      const grpc = new StreamDecoder(-1) as unknown as { write(d: Buffer): Buffer[] };
      const theirs = chunks.flatMap((c) => grpc.write(c));
      expect(ours.map(([f, b]) => framed(b, f ? 1 : 0))).toEqual(theirs);
    }
    // The prefix itself split, byte by byte.
    const oneByOne = [...framed(Buffer.from('split'))].map((b) => Buffer.from([b]));
    expect(read(oneByOne).map(([, b]) => b.toString())).toEqual(['split']);
  });

  it('keeps nothing of a chunk once its messages are complete (memory per stream)', () => {
    const reader = new FrameReader(-1);
    const two = framed(Buffer.alloc(3000, 2));
    reader.write(two.subarray(0, 1000), () => {}, null);
    expect(reader.idle).toBe(false);
    reader.write(two.subarray(1000), () => {}, null);
    expect(reader.idle).toBe(true);
  });

  it("refuses a message over the limit before reading it, in grpc-js's words", () => {
    expect(() => read([framed(Buffer.alloc(101))], 100)).toThrow('Received message larger than max (101 vs 100)');
    // The prefix split over chunks: refused when its last byte arrives.
    const big = framed(Buffer.alloc(101));
    expect(() => read([big.subarray(0, 3), big.subarray(3, 5)], 100)).toThrow(RangeError);
  });
});

describe('issue 14: a real server reads requests through it', () => {
  const N = 800;
  // Long names: the EDS request (~40 KB) spans several HTTP/2 DATA frames.
  const names = Array.from({ length: N }, (_, i) => `service-with-a-long-name-${i}.namespace.svc.cluster.local`);
  let server: RunningControlPlane;
  let client: XdsTestClient;

  beforeAll(async () => {
    server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0' });
    const mesh = snapshotOf({
      clusters: names.map((n) => cluster(n)),
      endpoints: names.map((n, i) => endpoints(n, [9000 + i])),
      listeners: [apiListener('svc:80', 'r1')],
      routes: [routeConfig('r1', [{ prefix: '/', cluster: names[0]! }], ['svc.example'])],
    });
    expect(server.cache.set(SHARED_KEY, mesh).ok).toBe(true);
    client = new XdsTestClient(`127.0.0.1:${server.xdsPort}`);
  });
  afterAll(async () => {
    client.close();
    await server.stop();
  });

  it("small and multi-frame requests, SotW and delta, all answered; grpc-js's async decompression step never runs", async () => {
    const decompress = vi.spyOn(BaseServerInterceptingCall.prototype as unknown as { decompressAndMaybePush(e: unknown): unknown }, 'decompressAndMaybePush');
    const written = vi.spyOn(FrameReader.prototype, 'write');
    try {
      const s = client.sotw();
      s.send({ node: node('fr-1'), type_url: TypeUrl.Cluster });
      const cds = await s.next();
      expect(cds.names).toHaveLength(N);
      s.ack(cds);
      s.send({ type_url: TypeUrl.Endpoint, resource_names: names });
      const eds = await s.next();
      expect(eds.names.sort()).toEqual([...names].sort());
      // The ACK repeats the 40 KB list; then a change reaches the stream.
      s.ack(eds, names);
      const next = server.cache.get(SHARED_KEY)!.get(TypeUrl.Endpoint).with({ upsert: [encodeResource(TypeUrl.Endpoint, endpoints(names[7]!, [7777]))] });
      expect(server.cache.setType(SHARED_KEY, next).ok).toBe(true);
      const change = await s.next();
      expect(change.names).toEqual([names[7]]);
      s.close();

      const d = client.delta();
      d.send({ node: node('fr-2'), type_url: TypeUrl.Endpoint, resource_names_subscribe: names });
      const deds = await d.next();
      expect(deds.names).toHaveLength(N);
      d.close();

      expect(written).toHaveBeenCalled();
      expect(decompress).not.toHaveBeenCalled();
    } finally {
      decompress.mockRestore();
      written.mockRestore();
    }
  });
});
