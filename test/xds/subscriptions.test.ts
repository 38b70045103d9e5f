/**
 * XDS_RULES 7–11: subscriptions, over real ADS streams.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { node } from '../support/ads-client.ts';
import { apiListener, cluster, endpoints, routeConfig, smallMesh } from '../support/fixtures.ts';
import { CDS, EDS, LDS, RDS, drain, sorted, startHarness, type Harness } from '../support/conformance.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});
afterEach(() => h.closeStreams());
beforeEach(() => h.set(smallMesh()));

/** Two listeners, two route configurations. */
const twoListeners = (routeA = 'a') =>
  smallMesh({
    listeners: [apiListener('svc:80', 'r1'), apiListener('other:80', 'r2')],
    routes: [routeConfig('r1', [{ cluster: routeA }]), routeConfig('r2', [{ cluster: 'b' }])],
  });

describe('rule 7: SotW LDS/CDS carry the full set; EDS/RDS may carry only changes', () => {
  it('rule 7: CDS — a change to one cluster resends all; a removed cluster is absent from the next full set', async () => {
    const s = h.client.sotw();
    s.send({ node: node('full-cds'), type_url: CDS });
    const r1 = await s.next();
    expect(sorted(r1.names)).toEqual(['a', 'b']);
    s.ack(r1);
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '3s' }), cluster('b')] }));
    const r2 = await s.next();
    expect(sorted(r2.names)).toEqual(['a', 'b']);
    s.ack(r2);
    // b is named by nothing: it goes, and the full set says so by leaving it out.
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '3s' })], endpoints: [endpoints('a', [9001])] }));
    const r3 = await s.next();
    expect(r3.names).toEqual(['a']);
    s.ack(r3);
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '3s' })], endpoints: [endpoints('a', [9001])], listeners: [], routes: [] }));
    expect(await s.silentFor(300)).toBe(true);
    s.close();
  });

  it('rule 7: CDS with explicit names carries every subscribed cluster, even unchanged ones', async () => {
    h.set(smallMesh({ clusters: [cluster('a'), cluster('b'), cluster('c')], endpoints: [endpoints('a', [1]), endpoints('b', [2]), endpoints('c', [3])] }));
    const s = h.client.sotw();
    s.send({ node: node('full-cds-named'), type_url: CDS, resource_names: ['a', 'c'] });
    const r1 = await s.next();
    expect(sorted(r1.names)).toEqual(['a', 'c']);
    s.ack(r1, ['a', 'c']);
    h.set(smallMesh({ clusters: [cluster('a'), cluster('b'), cluster('c', { connect_timeout: '4s' })], endpoints: [endpoints('a', [1]), endpoints('b', [2]), endpoints('c', [3])] }));
    const r2 = await s.next();
    expect(sorted(r2.names)).toEqual(['a', 'c']);
    s.close();
  });

  it('rule 7: LDS — adding a listener resends both; removing one sends the rest', async () => {
    const s = h.client.sotw();
    s.send({ node: node('full-lds'), type_url: LDS });
    const r1 = await s.next();
    expect(r1.names).toEqual(['svc:80']);
    s.ack(r1);
    h.set(twoListeners());
    const r2 = await s.next();
    expect(sorted(r2.names)).toEqual(['other:80', 'svc:80']);
    s.ack(r2);
    h.set(smallMesh());
    const r3 = await s.next();
    expect(r3.names).toEqual(['svc:80']);
    s.close();
  });

  it('rule 7: EDS and RDS responses carry only the changed resource', async () => {
    h.set(twoListeners());
    const s = h.client.sotw();
    s.send({ node: node('partial'), type_url: EDS, resource_names: ['a', 'b'] });
    s.send({ type_url: RDS, resource_names: ['r1', 'r2'] });
    for (const r of await drain(s)) s.ack(r, r.type_url === EDS ? ['a', 'b'] : ['r1', 'r2']);
    h.set({ ...twoListeners('b'), endpoints: [endpoints('a', [9001]), endpoints('b', [7777])] });
    const got = await drain(s);
    const eds = got.find((r) => r.type_url === EDS)!;
    const rds = got.find((r) => r.type_url === RDS)!;
    expect(eds.names).toEqual(['b']);
    expect(rds.names).toEqual(['r1']);
    s.close();
  });
});

describe('rule 8: every requested name that exists is returned, newly added names even if sent before', () => {
  it.each([
    ['sotw EDS', EDS, [['a'], ['a', 'b'], ['b'], ['a', 'b']], [['a'], ['b'], [], ['a']]],
    ['sotw CDS', CDS, [['a'], ['a', 'b'], ['b'], ['a', 'b']], [['a'], ['a', 'b'], ['b'], ['a', 'b']]],
  ] as const)('rule 8: %s subscription steps each return every newly requested name', async (_l, type, steps, expected) => {
    const s = h.client.sotw();
    let last: Awaited<ReturnType<typeof s.next>> | undefined;
    for (const [i, names] of steps.entries()) {
      s.send({ node: i === 0 ? node(`add-${type.length}`) : undefined, type_url: type, resource_names: [...names], response_nonce: last?.nonce ?? '', version_info: last?.version_info ?? '' });
      if (expected[i]!.length === 0) {
        // EDS: dropping a name needs no response (the client forgets it itself).
        expect(await s.silentFor(300)).toBe(true);
        continue;
      }
      last = await s.next();
      expect(sorted(last.names)).toEqual([...expected[i]!]);
    }
    s.close();
  });
});

describe('rule 9: legacy wildcard and the spec four-step sequences', () => {
  it('rule 9: legacy wildcard ∅ → {*,A} → {A} → ∅ (sotw)', async () => {
    const s = h.client.sotw();
    // ∅ on a stream that never named anything: wildcard.
    s.send({ node: node('wild-sotw'), type_url: CDS });
    const r1 = await s.next();
    expect(sorted(r1.names)).toEqual(['a', 'b']);
    s.ack(r1, []);
    expect(await s.silentFor(200)).toBe(true); // an ACK with ∅ is still the wildcard, nothing new
    // {*, A}: wildcard continues, A newly requested so resent (full CDS state).
    s.send({ type_url: CDS, resource_names: ['*', 'a'], response_nonce: r1.nonce, version_info: r1.version_info });
    const r2 = await s.next();
    expect(sorted(r2.names)).toEqual(['a', 'b']);
    s.ack(r2, ['*', 'a']);
    // {A}: wildcard dropped, A continues: the full state is now just A.
    s.send({ type_url: CDS, resource_names: ['a'], response_nonce: r2.nonce, version_info: r2.version_info });
    const r3 = await s.next();
    expect(r3.names).toEqual(['a']);
    s.ack(r3, ['a']);
    // ∅ again: not a wildcard any more, it unsubscribes from everything.
    s.send({ type_url: CDS, resource_names: [], response_nonce: r3.nonce, version_info: r3.version_info });
    const r4 = await s.next();
    expect(r4.names).toEqual([]);
    s.ack(r4, []);
    // New and changed clusters are no longer this stream's business.
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '5s' }), cluster('b'), cluster('c')], endpoints: [endpoints('a', [1]), endpoints('b', [2]), endpoints('c', [3])] }));
    expect(await s.silentFor(400)).toBe(true);
    s.close();
  });

  it('rule 9: legacy wildcard ∅ → {*,A} → {A} → ∅ (delta)', async () => {
    const s = h.client.delta();
    // subscribe ∅ on the first request: wildcard.
    s.send({ node: node('wild-delta'), type_url: CDS });
    const r1 = await s.next();
    expect(sorted(r1.names)).toEqual(['a', 'b']);
    s.ack(r1);
    // subscribe A: wildcard continues, A added; A is provided even though the client has it.
    s.send({ type_url: CDS, resource_names_subscribe: ['a'] });
    const r2 = await s.next();
    expect(r2.names).toEqual(['a']);
    expect(r2.removed_resources).toEqual([]);
    s.ack(r2);
    // unsubscribe *: A continues; a request that only unsubscribes needs no response.
    s.send({ type_url: CDS, resource_names_unsubscribe: ['*'] });
    expect(await s.silentFor(300)).toBe(true);
    h.set(smallMesh({ clusters: [cluster('a'), cluster('b', { connect_timeout: '5s' })] }));
    expect(await s.silentFor(300)).toBe(true); // b is not subscribed any more
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '5s' }), cluster('b', { connect_timeout: '5s' })] }));
    const r3 = await s.next(); // A is
    expect(r3.names).toEqual(['a']);
    s.ack(r3);
    // unsubscribe A: nothing left, and an empty subscription is not a wildcard now.
    s.send({ type_url: CDS, resource_names_unsubscribe: ['a'] });
    expect(await s.silentFor(300)).toBe(true);
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '6s' }), cluster('b'), cluster('c')], endpoints: [endpoints('a', [1]), endpoints('b', [2]), endpoints('c', [3])] }));
    expect(await s.silentFor(400)).toBe(true);
    s.close();
  });
});

describe('rule 10: a name requested before it exists is remembered', () => {
  it.each(['sotw', 'delta'] as const)('rule 10 (%s): EDS and CDS names that appear later are pushed', async (mode) => {
    const later = smallMesh({ clusters: [cluster('a'), cluster('b'), cluster('late')], endpoints: [endpoints('a', [9001]), endpoints('b', [9002]), endpoints('late', [9003])] });
    if (mode === 'sotw') {
      const s = h.client.sotw();
      s.send({ node: node('early-sotw'), type_url: EDS, resource_names: ['a', 'late'] });
      const r1 = await s.next();
      expect(r1.names).toEqual(['a']);
      s.ack(r1, ['a', 'late']);
      s.send({ type_url: CDS, resource_names: ['late'] });
      const c1 = await s.next(); // full-state CDS answers even when nothing asked for exists
      expect(c1.names).toEqual([]);
      s.ack(c1, ['late']);
      h.set(later);
      const got = await drain(s);
      expect(got.map((r) => [r.type_url, r.names])).toEqual([
        [CDS, ['late']],
        [EDS, ['late']],
      ]);
      s.close();
    } else {
      const s = h.client.delta();
      s.send({ node: node('early-delta'), type_url: EDS, resource_names_subscribe: ['a', 'late'] });
      const r1 = await s.next();
      expect(r1.names).toEqual(['a']);
      expect(r1.removed_resources).toEqual(['late']);
      s.ack(r1);
      h.set(later);
      const r2 = await s.next();
      expect(r2.names).toEqual(['late']);
      s.close();
    }
  });
});

describe('rule 11: SotW stale nonces', () => {
  it('rule 11: a request with a stale nonce gets no response, and its subscription change is not lost', async () => {
    const s = h.client.sotw();
    s.send({ node: node('stale'), type_url: EDS, resource_names: ['a'] });
    const r1 = await s.next();
    s.ack(r1, ['a']);
    h.set(smallMesh({ endpoints: [endpoints('a', [4242]), endpoints('b', [9002])] }));
    const r2 = await s.next();
    expect(r2.names).toEqual(['a']);
    // Written by the client before it saw r2: it names r1's nonce and asks for b too.
    s.send({ type_url: EDS, resource_names: ['a', 'b'], response_nonce: r1.nonce, version_info: r1.version_info });
    expect(await s.silentFor(400)).toBe(true);
    // The client ACKs r2 with its current list: b arrives now.
    s.ack(r2, ['a', 'b']);
    const r3 = await s.next();
    expect(r3.names).toEqual(['b']);
    s.close();
  });

  it('rule 11: a stale NACK is ignored (it does not record a rejection of the newer response)', async () => {
    const s = h.client.sotw();
    s.send({ node: node('stale-nack'), type_url: CDS });
    const r1 = await s.next();
    s.ack(r1);
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '3s' }), cluster('b')] }));
    const r2 = await s.next();
    s.send({ type_url: CDS, response_nonce: r1.nonce, version_info: '', error_detail: { code: 3, message: 'late complaint about r1' } });
    expect(await s.silentFor(300)).toBe(true);
    const { body } = await h.json<{ proxies: Array<{ node: string; streams: Array<{ types: Record<string, { lastNack: unknown }> }> }> }>('/api/v1/proxies');
    expect(body.proxies.find((p) => p.node === 'stale-nack')!.streams[0]!.types.cds!.lastNack).toBeNull();
    s.ack(r2);
    s.close();
  });
});
