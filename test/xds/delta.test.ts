/**
 * XDS_RULES 12–17: the incremental (delta) protocol, over real ADS streams.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { node } from '../support/ads-client.ts';
import { cluster, endpoints, smallMesh } from '../support/fixtures.ts';
import { CDS, EDS, sorted, startHarness, type Harness } from '../support/conformance.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});
afterEach(() => h.closeStreams());
beforeEach(() => h.set(smallMesh()));

const mesh = (clusters: Array<[string, string?]>) =>
  smallMesh({
    clusters: clusters.map(([n, t]) => cluster(n, t ? { connect_timeout: t } : {})),
    endpoints: clusters.map(([n], i) => endpoints(n, [9000 + i])),
    routes: [{ name: 'r1', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: clusters[0]![0] } }] }] }],
  });
const versions = (r: { resources: Array<{ name?: string; version?: string }> }) => Object.fromEntries(r.resources.map((x) => [x.name!, x.version!]));

describe('rule 12: only changes; removals in removed_resources; a version per resource', () => {
  it('rule 12: wildcard CDS — a change sends that cluster alone with its new version; a deletion is a removal', async () => {
    const s = h.client.delta();
    s.send({ node: node('d12'), type_url: CDS });
    const r1 = await s.next();
    expect(sorted(r1.names)).toEqual(['a', 'b']);
    const v1 = versions(r1);
    expect(v1.a).toMatch(/\S/);
    expect(v1.a).not.toBe(v1.b);
    s.ack(r1);
    h.set(mesh([['a', '3s'], ['b']]));
    const r2 = await s.next();
    expect(r2.names).toEqual(['a']);
    expect(r2.removed_resources).toEqual([]);
    expect(versions(r2).a).not.toBe(v1.a);
    s.ack(r2);
    h.set(mesh([['a', '3s']]));
    const r3 = await s.next();
    expect(r3.names).toEqual([]);
    expect(r3.removed_resources).toEqual(['b']);
    s.close();
  });
});

describe('rule 13: a subscribed name that does not exist', () => {
  it('rule 13: is answered as removed, stays tracked, is sent when created and removed again when deleted', async () => {
    const s = h.client.delta();
    s.send({ node: node('d13'), type_url: CDS, resource_names_subscribe: ['ghost'] });
    const r1 = await s.next();
    expect(r1.names).toEqual([]);
    expect(r1.removed_resources).toEqual(['ghost']);
    s.ack(r1);
    h.set(mesh([['a'], ['b', '2s']])); // unrelated change
    expect(await s.silentFor(300)).toBe(true);
    h.set(mesh([['a'], ['b'], ['ghost']]));
    const r2 = await s.next();
    expect(r2.names).toEqual(['ghost']);
    s.ack(r2);
    h.set(mesh([['a'], ['b']]));
    const r3 = await s.next();
    expect(r3.removed_resources).toEqual(['ghost']);
    s.close();
  });
});

describe('rule 14: reconnect with initial_resource_versions', () => {
  it.each([
    ['legacy wildcard', [] as string[]],
    ['explicit *', ['*']],
  ])('rule 14 (%s): only what differs is sent, and removals for what the client holds that is gone', async (_l, subscribe) => {
    h.set(mesh([['a'], ['b'], ['keep']]));
    const first = h.client.delta();
    first.send({ node: node('d14'), type_url: CDS, resource_names_subscribe: subscribe });
    const held = versions(await first.next());
    first.close();
    // While disconnected: a changes, b is deleted, c appears, keep stays.
    h.set(mesh([['a', '9s'], ['keep'], ['c']]));
    const again = h.client.delta();
    again.send({ node: node('d14'), type_url: CDS, resource_names_subscribe: subscribe, initial_resource_versions: { ...held, 'gone-long-ago': 'v0' } });
    const r = await again.next();
    expect(sorted(r.names)).toEqual(['a', 'c']);
    expect(sorted(r.removed_resources)).toEqual(['b', 'gone-long-ago']);
    again.close();
  });

  it('rule 14 (explicit names): unchanged held resources are not resent; nothing differing means no response', async () => {
    const first = h.client.delta();
    first.send({ node: node('d14e'), type_url: EDS, resource_names_subscribe: ['a', 'b'] });
    const held = versions(await first.next());
    first.close();
    const same = h.client.delta();
    same.send({ node: node('d14e'), type_url: EDS, resource_names_subscribe: ['a', 'b'], initial_resource_versions: held });
    expect(await same.silentFor(400)).toBe(true);
    same.close();
    h.set(smallMesh({ clusters: [cluster('a')], endpoints: [endpoints('a', [9001])] })); // b deleted, a unchanged
    const later = h.client.delta();
    later.send({ node: node('d14e'), type_url: EDS, resource_names_subscribe: ['a', 'b'], initial_resource_versions: held });
    const r = await later.next();
    expect(r.names).toEqual([]);
    expect(r.removed_resources).toEqual(['b']);
    later.close();
  });
});

describe('rule 15: subscription changes apply whatever the nonce', () => {
  it.each([
    ['a stale nonce', 'not-a-nonce-we-sent'],
    ['no nonce', ''],
  ])('rule 15: subscribing with %s is answered', async (_l, nonce) => {
    const s = h.client.delta();
    s.send({ node: node(`d15-${nonce.length}`), type_url: EDS, resource_names_subscribe: ['a'] });
    const r1 = await s.next();
    s.ack(r1);
    s.send({ type_url: EDS, response_nonce: nonce, resource_names_subscribe: ['b'] });
    const r2 = await s.next();
    expect(r2.names).toEqual(['b']);
    // and unsubscribing with a stale nonce applies too: b's changes stop coming.
    s.send({ type_url: EDS, response_nonce: nonce || 'stale', resource_names_unsubscribe: ['b'] });
    await s.silentFor(200);
    h.set(smallMesh({ endpoints: [endpoints('a', [9001]), endpoints('b', [5555])] }));
    expect(await s.silentFor(300)).toBe(true);
    s.close();
  });
});

describe('rule 16: re-subscribe, phantom unsubscribe, wildcard plus explicit name', () => {
  it('rule 16: re-subscribing a name the client already has resends it', async () => {
    const s = h.client.delta();
    s.send({ node: node('d16a'), type_url: EDS, resource_names_subscribe: ['a'] });
    const r1 = await s.next();
    s.ack(r1);
    s.send({ type_url: EDS, response_nonce: r1.nonce, resource_names_subscribe: ['a'] });
    const r2 = await s.next();
    expect(r2.names).toEqual(['a']);
    expect(versions(r2).a).toBe(versions(r1).a);
    s.close();
  });

  it('rule 16: unsubscribing a name never subscribed is ignored', async () => {
    const s = h.client.delta();
    s.send({ node: node('d16b'), type_url: EDS, resource_names_subscribe: ['a'] });
    s.ack(await s.next());
    s.send({ type_url: EDS, resource_names_unsubscribe: ['never-heard-of-it', 'b'] });
    expect(await s.silentFor(300)).toBe(true);
    h.set(smallMesh({ endpoints: [endpoints('a', [1111]), endpoints('b', [9002])] }));
    expect((await s.next()).names).toEqual(['a']); // still subscribed to a, stream fine
    s.close();
  });

  it('rule 16: wildcard plus explicit names; dropping a name sends the resource (in the wildcard) or its removal (not)', async () => {
    const s = h.client.delta();
    s.send({ node: node('d16c'), type_url: CDS, resource_names_subscribe: ['*', 'a', 'ghost'] });
    const r1 = await s.next();
    expect(sorted(r1.names)).toEqual(['a', 'b']);
    expect(r1.removed_resources).toEqual(['ghost']);
    s.ack(r1);
    s.send({ type_url: CDS, response_nonce: r1.nonce, resource_names_unsubscribe: ['a'] });
    const r2 = await s.next();
    expect(r2.names).toEqual(['a']);
    expect(r2.removed_resources).toEqual([]);
    s.ack(r2);
    s.send({ type_url: CDS, response_nonce: r2.nonce, resource_names_unsubscribe: ['ghost'] });
    const r3 = await s.next();
    expect(r3.names).toEqual([]);
    expect(r3.removed_resources).toEqual(['ghost']);
    s.close();
  });
});

describe('rule 17: the first wildcard request is answered even when empty', () => {
  let empty: Harness;
  beforeAll(async () => {
    empty = await startHarness();
  });
  afterAll(async () => {
    await empty?.close();
  });

  it('before any config is published nothing is answered (an empty CDS would make a reconnecting Envoy drop everything); the first snapshot is', async () => {
    const s = empty.client.sotw();
    s.send({ node: node('d17-unpublished'), type_url: CDS });
    expect(await s.silentFor(300)).toBe(true);
    empty.set({});
    const r = await s.next();
    expect(r.type_url).toBe(CDS);
    expect(r.names).toEqual([]);
    s.close();
  });

  it.each(['sotw', 'delta'] as const)('rule 17 (%s): an empty CDS wildcard gets an empty response with a nonce', async (mode) => {
    empty.set({});
    const s = mode === 'sotw' ? empty.client.sotw() : empty.client.delta();
    s.send({ node: node(`d17-${mode}`), type_url: CDS } as never);
    const r = await s.next();
    expect(r.type_url).toBe(CDS);
    expect(r.names).toEqual([]);
    expect(r.nonce).not.toBe('');
    s.close();
  });

  it('rule 17: an explicit subscription to a missing EDS name (sotw) is not answered — only wildcards are', async () => {
    const s = empty.client.sotw();
    s.send({ node: node('d17-eds'), type_url: EDS, resource_names: ['nothing'] });
    expect(await s.silentFor(300)).toBe(true);
    s.close();
  });
});
