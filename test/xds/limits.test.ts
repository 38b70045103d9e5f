/**
 * The xDS port's memory budget (issue 16 bug 5; src/server/limits.ts): what
 * an unauthenticated client can make the server keep. Real grpc-js clients
 * on a real server; retained memory is measured after a forced GC with
 * generous bounds (the attack before the fix kept ~100 MiB).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { XDS_LIMITS } from '../../src/server/limits.ts';
import { grpcServerOptions } from '../../src/server/xds-server.ts';
import { node } from '../support/ads-client.ts';
import { smallMesh } from '../support/fixtures.ts';
import { CDS, EDS, grpc, sleep, sorted, closedAfter, startHarness, type Harness } from '../support/conformance.ts';

let h: Harness;
const opened: Array<{ close(): void }> = [];
beforeAll(async () => {
  h = await startHarness();
  h.set(smallMesh());
});
afterAll(async () => {
  await h?.close();
});
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});
const client = () => closedAfter(h.address, opened);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
async function retained(): Promise<number> {
  await sleep(50);
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** ~1.9 MiB of distinct names (48,000 of 40 characters: under the per-request cap). */
const namesBatch = (tag: string, length = 40) => Array.from({ length: (48_000 * 40) / length }, (_, i) => `${tag}-${i}`.padEnd(length, '.'));
const MiB = 1024 * 1024;

describe('issue 16 bug 5: unauthenticated memory exhaustion on the xDS port', () => {
  it('issue 16 bug 5 (sotw): 40 requests of ~1.9 MiB of names under 40 unknown type URLs keep nothing; the stream carries on', { timeout: 60_000 }, async () => {
    const s = client().sotw();
    s.send({ node: node('bug5-sotw'), type_url: CDS });
    expect(sorted((await s.next(5000)).names)).toEqual(['a', 'b']);
    const before = await retained();
    for (let i = 0; i < 40; i++) s.send({ type_url: `type.googleapis.com/attack.Unknown${i}`, resource_names: namesBatch(`u${i}`) });
    // Requests are handled in order: once this answer comes, all 40 were read.
    s.send({ type_url: EDS, resource_names: ['a'] });
    expect((await s.next(20_000)).names).toEqual(['a']);
    const growth = (await retained()) - before;
    // Before the fix: the request reader kept each unknown type's list, ~100 MiB.
    expect(growth).toBeLessThan(16 * MiB);
    expect(s.status).toBeUndefined();
  });

  it('issue 16 bug 5 (sotw): a request over the per-request cap ends the stream with RESOURCE_EXHAUSTED naming the limit', { timeout: 30_000 }, async () => {
    const s = client().sotw();
    s.send({ node: node('bug5-cap'), type_url: EDS, resource_names: Array.from({ length: XDS_LIMITS.maxNamesPerRequest + 1 }, (_, i) => `n${i}`) });
    const status = await s.ended(20_000);
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toContain(`${XDS_LIMITS.maxNamesPerRequest + 1} entries in resource_names`);
    expect(status.details).toContain('Limits');
  });

  it('issue 16 bug 5 (delta): subscriptions growing request by request stop at the per-type budget with RESOURCE_EXHAUSTED; memory stays bounded', { timeout: 60_000 }, async () => {
    const s = client().delta();
    s.send({ node: node('bug5-delta'), type_url: CDS });
    expect(sorted((await s.next(5000)).names)).toEqual(['a', 'b']);
    const before = await retained();
    // Unknown types first (decoded, then dropped), then EDS names that accumulate.
    for (let i = 0; i < 10; i++) s.send({ type_url: `type.googleapis.com/attack.Unknown${i}`, resource_names_subscribe: namesBatch(`u${i}`) });
    // One at a time (each is answered: unknown names come back as removed), so
    // no request waits in the client's own buffers, which this process also holds.
    for (let i = 0; i < 40; i++) {
      s.send({ type_url: EDS, resource_names_subscribe: namesBatch(`e${i}`, 200) });
      const answered = await s.next(20_000).then(() => true, () => false);
      if (!answered) break;
    }
    const status = await s.ended(20_000);
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toMatch(/characters of eds names; at most \d+ per type on a stream/);
    const growth = (await retained()) - before;
    // Before the fix: 40 × 1.9 MiB of names subscribed, well over 76 MiB.
    expect(growth).toBeLessThan(16 * MiB);
  });

  it.each(['sotw', 'delta'] as const)('issue 16 bug 5 (%s): a legitimate EDS request naming 10,000 clusters is served', { timeout: 30_000 }, async (mode) => {
    const names = [...Array.from({ length: 9_998 }, (_, i) => `outbound|8080||svc-${i}.shop.svc.cluster.local`), 'a', 'b'];
    const c = client();
    const s = mode === 'sotw' ? c.sotw() : c.delta();
    if (mode === 'sotw') (s as ReturnType<typeof c.sotw>).send({ node: node(`bug5-eds-${mode}`), type_url: EDS, resource_names: names });
    else (s as ReturnType<typeof c.delta>).send({ node: node(`bug5-eds-${mode}`), type_url: EDS, resource_names_subscribe: names });
    const r = await s.next(10_000);
    expect(sorted(r.names)).toEqual(['a', 'b']);
    expect(s.status).toBeUndefined();
  });

  it('issue 16 bug 5: a node over its budget is refused before it is kept: a long node.id, or 1 MiB of node', { timeout: 30_000 }, async () => {
    const long = client().sotw();
    long.send({ node: node('n'.repeat(XDS_LIMITS.maxNodeIdChars + 1)), type_url: CDS });
    const a = await long.ended(10_000);
    expect(a.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(a.details).toContain(`at most ${XDS_LIMITS.maxNodeIdChars}`);
    const big = client().delta();
    big.send({ node: { ...node('bug5-big-node'), client_features: Array.from({ length: 1024 }, (_, i) => `${i}`.padEnd(1024, 'f')) }, type_url: CDS });
    const b = await big.ended(10_000);
    expect(b.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(b.details).toMatch(/node of \d+ bytes; at most 262144/);
  });

  it('issue 16 bug 5: the transport limits are the documented ones', () => {
    const o = grpcServerOptions({});
    expect(o['grpc.max_concurrent_streams']).toBe(XDS_LIMITS.maxStreamsPerConnection);
    expect(o['grpc.max_receive_message_length']).toBe(XDS_LIMITS.maxRequestBytes);
    expect(XDS_LIMITS.maxStreamsPerConnection).toBeLessThanOrEqual(100);
    // XDS_RULES 27: tens of MiB, room for a delta reconnect; no more, since grpc-js holds each message whole.
    expect(XDS_LIMITS.maxRequestBytes).toBeGreaterThanOrEqual(20 * MiB);
    expect(XDS_LIMITS.maxRequestBytes).toBeLessThanOrEqual(32 * MiB);
  });
});
