import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startControlPlane, SHARED_KEY, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { ResponseBytes } from '../../src/xds/response-bytes.ts';
import { node, XdsTestClient } from '../support/ads-client.ts';
import { apiListener, cluster, endpoints, routeConfig, snapshotOf } from '../support/fixtures.ts';
import { frameChunks } from '../../src/server/frame-writer.ts';

const N = 200;
const names = Array.from({ length: N }, (_, i) => `svc-${i}`);

let server: RunningControlPlane;
let client: XdsTestClient;

beforeAll(async () => {
  server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0' });
  const mesh = snapshotOf({
    clusters: names.map((n) => cluster(n)),
    endpoints: names.map((n, i) => endpoints(n, [9000 + i, 19000 + i])),
    listeners: [apiListener('svc:80', 'r1')],
    // One large resource (a route per service): a part over the join threshold, sent as it is.
    routes: [routeConfig('r1', names.map((n) => ({ prefix: `/${n}/${"x".repeat(100)}/`, cluster: n })), names.map((n) => `${n}.example`))],
  });
  expect(server.cache.set(SHARED_KEY, mesh).ok).toBe(true);
  client = new XdsTestClient(`127.0.0.1:${server.xdsPort}`);
});
afterAll(async () => {
  client.close();
  await server.stop();
});

describe('issue 14: responses written to HTTP/2 as their parts (src/server/frame-writer.ts)', () => {
  it('frameChunks: the gRPC prefix joined with small parts, large parts passed through as the same buffers', () => {
    const large = Buffer.alloc(40_000, 7);
    const r = new ResponseBytes([Buffer.from([1, 2]), large, Buffer.from([3]), Buffer.from([4, 5])]);
    const chunks = frameChunks(r);
    expect(chunks).toHaveLength(3);
    expect([...chunks[0]!]).toEqual([0, 0, 0, (r.byteLength >> 8) & 0xff, r.byteLength & 0xff, 1, 2]);
    expect(chunks[1]).toBe(large);
    expect([...chunks[2]!]).toEqual([3, 4, 5]);
    expect(Buffer.concat(chunks).subarray(5)).toEqual(r.toBuffer());
  });

  it('every type reaches SotW and delta clients intact, and no response is copied into a grpc-js frame', async () => {
    const copy = vi.spyOn(ResponseBytes.prototype, 'copy');
    try {
      const s = client.sotw();
      s.send({ node: node('fw-1'), type_url: TypeUrl.Cluster });
      const cds = await s.next();
      expect(cds.names.sort()).toEqual([...names].sort());
      s.ack(cds);
      s.send({ type_url: TypeUrl.Endpoint, resource_names: names });
      const eds = await s.next();
      expect(eds.names.sort()).toEqual([...names].sort());
      s.send({ type_url: TypeUrl.Route, resource_names: ['r1'] });
      const rds = await s.next();
      expect(rds.names).toEqual(['r1']);
      expect(rds.bytes).toBeGreaterThan(16 * 1024);
      s.close();

      const d = client.delta();
      d.send({ node: node('fw-2'), type_url: TypeUrl.Endpoint, resource_names_subscribe: names });
      const deds = await d.next();
      expect(deds.names.sort()).toEqual([...names].sort());
      d.close();
      // grpc-js's own path copies every response into its frame through ResponseBytes.copy.
      expect(copy).not.toHaveBeenCalled();
    } finally {
      copy.mockRestore();
    }
  });
});
