/**
 * No push storm after a restart: versions are content hashes (XDS_RULES 4),
 * so a reconnecting SotW client that names the version it runs, when that is
 * the current version, is recorded as holding it and sent nothing; a delta
 * client whose initial_resource_versions are the current ones likewise.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { node } from '../support/ads-client.ts';
import { smallMesh, cluster } from '../support/fixtures.ts';
import { CDS, EDS, startHarness, type Harness } from '../support/conformance.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.set(smallMesh());
});
afterEach(() => h.closeStreams());
afterAll(async () => h?.close());

describe('reconnect with the current version', () => {
  it('first request names the current CDS version: nothing is resent, the stream counts as ACKed', async () => {
    const first = h.client.sotw();
    first.send({ node: node('resume-a'), type_url: CDS });
    const r = await first.next();
    first.ack(r);
    first.close();

    const again = h.client.sotw();
    again.send({ node: node('resume-a'), type_url: CDS, version_info: r.version_info });
    expect(await again.silentFor(400)).toBe(true);
    const metrics = await h.metrics();
    expect(metrics).toMatch(/trellis_xds_resumed_total\{type="cds"\} [1-9]/);
    // It still follows changes from there.
    h.set(smallMesh({ clusters: [cluster('a'), cluster('b'), cluster('c')], endpoints: [...smallMesh().endpoints!, { cluster_name: 'c', endpoints: [] }] }));
    const next = await again.next();
    expect(next.names.sort()).toEqual(['a', 'b', 'c']);
    expect(next.version_info).not.toBe(r.version_info);
  });

  it('a reconnect naming an older version gets the current state', async () => {
    const s = h.client.sotw();
    s.send({ node: node('resume-b'), type_url: CDS, version_info: 'some-older-version' });
    const r = await s.next();
    expect(r.names.length).toBeGreaterThan(0);
  });

  it('delta: initial_resource_versions equal to the current ones: nothing is resent, and the proxies view shows the type ACKed at the current version', async () => {
    const first = h.client.delta();
    first.send({ node: node('resume-d'), type_url: EDS, resource_names_subscribe: ['a', 'b'] });
    const r = await first.next();
    first.ack(r);
    first.close();

    const again = h.client.delta();
    const held = Object.fromEntries(r.resources.map((x) => [x.name!, x.version!]));
    again.send({ node: node('resume-d'), type_url: EDS, resource_names_subscribe: ['a', 'b'], initial_resource_versions: held });
    expect(await again.silentFor(400)).toBe(true);
    const { body } = await h.json<{ proxies: Array<{ node: string; streams: Array<{ types: Record<string, { ackedVersion: string | null; sentVersion: string | null; inSync: boolean }> }> }> }>('/api/v1/proxies');
    const eds = body.proxies.find((p) => p.node === 'resume-d')!.streams[0]!.types.eds!;
    expect(eds.inSync).toBe(true);
    expect(eds.ackedVersion).toBe(r.system_version_info);
    expect(eds.sentVersion).toBe(r.system_version_info);
    expect(await h.metrics()).toMatch(/trellis_xds_resumed_total\{type="eds"\} [1-9]/);
  });
});
