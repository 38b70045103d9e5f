/**
 * XDS_RULES 24: closing a stream releases everything it held — 10,000
 * connect/disconnect cycles leak nothing. Its own file: the heaviest test,
 * so it runs beside the others rather than after them.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { node } from '../support/ads-client.ts';
import { smallMesh } from '../support/fixtures.ts';
import { CDS, LDS, eventually, metric, ownConnection, sleep, startHarness, type Harness } from '../support/conformance.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.set(smallMesh());
});
afterAll(async () => {
  await h?.close();
});

describe('rule 24: closing a stream releases everything it held', () => {
  it('rule 24: 10,000 connect/disconnect cycles leave no stream, node, watcher or metric behind', { timeout: 30_000 }, async () => {
    const BATCH = 500;
    // Cancelling more than ~1000 streams at once on one connection trips HTTP/2
    // rapid-reset protection (GOAWAY), so each batch gets its own channel, as
    // separate proxies would; most streams are cancelled, one in eight half-closed.
    const cycles = async (n: number, tag: string) => {
      for (let b = 0; b < n / BATCH; b++) {
        const client = ownConnection(h.address);
        await Promise.all(
          Array.from({ length: BATCH }, async (_, i) => {
            const k = b * BATCH + i;
            const s = k % 2 ? client.sotw() : client.delta();
            s.send({ node: node(`${tag}-${k % 700}`), type_url: k % 3 ? CDS : LDS } as never);
            await s.next(10_000);
            if (k % 8 !== 7) s.close();
            else {
              s.call.end();
              await s.ended(10_000);
            }
          }),
        );
        client.close();
      }
    };
    const released = () => h.server.xds.streamCount() === 0 && h.server.xds.syncStatus().length === 0 && h.server.cache.watcherCount() === 0;
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    await cycles(500, 'warm');
    expect(await eventually(released)).toBe(true);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;

    await cycles(10_000, 'cycle');
    expect(await eventually(released)).toBe(true);
    expect(h.server.xds.streamCount()).toBe(0);
    expect(h.server.xds.syncStatus()).toEqual([]);
    expect(h.server.cache.watcherCount()).toBe(0);
    const text = await h.metrics();
    expect(metric(text, 'trellis_xds_streams', { api: 'ads-sotw' })).toBe(0);
    expect(metric(text, 'trellis_xds_streams', { api: 'ads-delta' })).toBe(0);
    await sleep(100);
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    // A leaked XdsStream with its TypeStates and closures is several KiB: 10k of them would be far more.
    expect(growth).toBeLessThan(16 * 1024 * 1024);
  });
});

