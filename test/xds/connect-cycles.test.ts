/**
 * Issue 16 bug 14: each connect/disconnect cycle kept ~200 B of heap. What it
 * kept was Node's timer list for grpc-js's per-connection maximum-age timer
 * (a duration of its own per connection, unref'd, so its emptied list stayed
 * until its due time, ~30 minutes later); see src/server/connection-age.ts.
 * Its own file: thousands of connections, so it runs beside the others.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { node } from '../support/ads-client.ts';
import { smallMesh } from '../support/fixtures.ts';
import { CDS, eventually, ownConnection, sleep, startHarness, type Harness } from '../support/conformance.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.set(smallMesh());
});
afterAll(async () => {
  await h?.close();
});

/** Node's (internal) timer-list class, found through a timer: one list per distinct duration. */
function timerListClass(): abstract new () => unknown {
  const t = setTimeout(() => {}, 987_654);
  const list = (t as unknown as { _idleNext?: { constructor: abstract new () => unknown } })._idleNext;
  clearTimeout(t);
  if (list?.constructor.name !== 'TimersList') throw new Error('Node timer internals changed: no TimersList behind a timer');
  return list.constructor;
}

describe('issue 16 bug 14: a connect cycle leaves nothing behind', () => {
  it('issue 16 bug 14: 2,000 connections, each with one stream, keep no timer list per connection and no heap', { timeout: 60_000 }, async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const TimersList = timerListClass();
    const lists = () => v8.queryObjects(TimersList, { format: 'count' }) as number;
    const heap = async () => {
      await sleep(50);
      gc();
      return process.memoryUsage().heapUsed;
    };
    let k = 0;
    // Each cycle on its own connection, as a proxy restarting would; 50 at a time.
    const cycles = async (n: number) => {
      for (let b = 0; b < n / 50; b++) {
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            const client = ownConnection(h.address);
            const s = client.sotw();
            s.send({ node: node(`cycle-${k++}`), type_url: CDS });
            await s.next(10_000);
            s.close();
            client.close();
          }),
        );
      }
      expect(await eventually(() => h.server.xds.streamCount() === 0 && h.server.cache.watcherCount() === 0)).toBe(true);
    };
    await cycles(200);
    const before = { lists: lists(), heap: await heap() };
    await cycles(2000);
    const after = { lists: lists(), heap: await heap() };
    // Connections share their age timers' lists now: at most 361 (whole
    // seconds of jitter, ±10% of 30 minutes), whatever their number. Before,
    // each connection left one (~2,000 here).
    expect(after.lists - before.lists).toBeLessThan(400);
    // Generous: a stream's state is KiBs; 2,000 leaked would be several MB.
    expect(after.heap - before.heap).toBeLessThan(3 * 1024 * 1024);
  });
});
