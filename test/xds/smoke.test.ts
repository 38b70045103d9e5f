import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, SHARED_KEY, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { node, XdsTestClient } from '../support/ads-client.ts';
import { smallMesh, snapshotOf } from '../support/fixtures.ts';

let server: RunningControlPlane;
let client: XdsTestClient;

beforeAll(async () => {
  server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0' });
  expect(server.cache.set(SHARED_KEY, snapshotOf(smallMesh())).ok).toBe(true);
  client = new XdsTestClient(`127.0.0.1:${server.xdsPort}`);
});
afterAll(async () => {
  client.close();
  await server.stop();
});

describe('smoke', () => {
  it('serves CDS over SotW ADS', async () => {
    const s = client.sotw();
    s.send({ node: node('n1'), type_url: TypeUrl.Cluster });
    const r = await s.next();
    expect(r.type_url).toBe(TypeUrl.Cluster);
    expect(r.names.sort()).toEqual(['a', 'b']);
    s.close();
  });
  it('serves CDS over delta ADS', async () => {
    const s = client.delta();
    s.send({ node: node('n2'), type_url: TypeUrl.Cluster });
    const r = await s.next();
    expect(r.names.sort()).toEqual(['a', 'b']);
    s.close();
  });
});
