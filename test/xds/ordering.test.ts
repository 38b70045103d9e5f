/**
 * XDS_RULES 18–20: ordering and warming on ADS (make-before-break).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeltaStream, SotwStream } from '../support/ads-client.ts';
import { node } from '../support/ads-client.ts';
import { apiListener, cluster, endpoints, routeConfig, type MeshSpec } from '../support/fixtures.ts';
import { CDS, EDS, LDS, RDS, SDS, clustersNamedBy, drain, settled, sorted, startHarness, type Harness } from '../support/conformance.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});
afterEach(() => h.closeStreams());

/** a and b, the route sending /b to b and the rest to a. */
const withB: MeshSpec = {
  clusters: [cluster('a'), cluster('b')],
  endpoints: [endpoints('a', [9001]), endpoints('b', [9002])],
  listeners: [apiListener('svc:80', 'r1')],
  routes: [routeConfig('r1', [{ prefix: '/b', cluster: 'b' }, { cluster: 'a' }])],
};
/** One change: cluster b, its endpoints and the route naming it all go. */
const withoutB: MeshSpec = {
  clusters: [cluster('a')],
  endpoints: [endpoints('a', [9001])],
  listeners: [apiListener('svc:80', 'r1')],
  routes: [routeConfig('r1', [{ cluster: 'a' }])],
};

const EDS_NAMES = ['a', 'b', 'c'];
const RDS_NAMES = ['r1', 'r2'];
const namesFor = (t: string) => (t === EDS ? EDS_NAMES : t === RDS ? RDS_NAMES : t === SDS ? ['ca'] : []);

/** Subscribes like Envoy on ADS (CDS and LDS wildcard, EDS and RDS by name) and ACKs everything. */
async function sotwEnvoy(id: string, withSecrets = false): Promise<SotwStream> {
  const s = h.client.sotw();
  s.send({ node: node(id), type_url: CDS });
  if (withSecrets) s.send({ type_url: SDS, resource_names: ['ca'] });
  s.send({ type_url: EDS, resource_names: EDS_NAMES });
  s.send({ type_url: LDS });
  s.send({ type_url: RDS, resource_names: RDS_NAMES });
  for (const r of await drain(s)) s.ack(r, namesFor(r.type_url));
  await settled(h, id);
  return s;
}
async function deltaEnvoy(id: string): Promise<DeltaStream> {
  const s = h.client.delta();
  s.send({ node: node(id), type_url: CDS });
  s.send({ type_url: EDS, resource_names_subscribe: EDS_NAMES });
  s.send({ type_url: LDS });
  s.send({ type_url: RDS, resource_names_subscribe: RDS_NAMES });
  for (const r of await drain(s)) s.ack(r);
  await settled(h, id);
  return s;
}

async function heldClusters(id: string): Promise<string[]> {
  const { body } = await h.json<{ types: Record<string, Array<{ name: string }>> }>(`/api/v1/proxies/${encodeURIComponent(id)}/config`);
  return sorted((body.types.cds ?? []).map((r) => r.name));
}

describe('rule 18: push order and make-before-break', () => {
  it('rule 18 (sotw): removing a cluster and the route naming it: RDS first, CDS drops the cluster only after the route ACK', async () => {
    h.set(withB);
    const s = await sotwEnvoy('mbb-sotw');
    h.set(withoutB);
    const rds = await s.next();
    expect(rds.type_url).toBe(RDS);
    expect(clustersNamedBy(rds.resources[0]!.value)).toEqual(['a']);
    expect(await s.silentFor(300)).toBe(true); // CDS waits: the client still runs a route naming b
    expect(await heldClusters('mbb-sotw')).toEqual(['a', 'b']);
    s.ack(rds, RDS_NAMES);
    const cds = await s.next();
    expect(cds.type_url).toBe(CDS);
    expect(cds.names).toEqual(['a']);
    s.ack(cds);
    expect(await s.silentFor(200)).toBe(true);
    s.close();
  });

  it('rule 18 (delta): RDS first; after its ACK the cluster and then its endpoints are removed', async () => {
    h.set(withB);
    const s = await deltaEnvoy('mbb-delta');
    h.set(withoutB);
    const rds = await s.next();
    expect(rds.type_url).toBe(RDS);
    expect(await s.silentFor(300)).toBe(true);
    s.ack(rds);
    const cds = await s.next();
    expect([cds.type_url, cds.removed_resources]).toEqual([CDS, ['b']]);
    s.ack(cds);
    const eds = await s.next();
    expect([eds.type_url, eds.removed_resources]).toEqual([EDS, ['b']]);
    s.close();
  });

  it('rule 18: while the client NACKs the new route, the cluster its running route names is kept', async () => {
    h.set(withB);
    const s = await sotwEnvoy('mbb-nack');
    h.set(withoutB);
    const rds = await s.next();
    expect(rds.type_url).toBe(RDS);
    s.send({ type_url: RDS, resource_names: RDS_NAMES, response_nonce: rds.nonce, version_info: '', error_detail: { code: 3, message: 'route rejected' } });
    expect(await s.silentFor(400)).toBe(true);
    expect(await heldClusters('mbb-nack')).toEqual(['a', 'b']);
    s.close();
  });

  it('rule 18: a route whose ACK arrived stale (after a newer route was sent) still keeps the clusters it names', async () => {
    const cfg = (present: string[], target: string): MeshSpec => ({
      clusters: present.map((c) => cluster(c)),
      endpoints: present.map((c, i) => endpoints(c, [9300 + i])),
      listeners: [apiListener('svc:80', 'r1')],
      routes: [routeConfig('r1', [{ cluster: target }])],
    });
    h.set(cfg(['a'], 'a'));
    const s = h.client.sotw();
    s.send({ node: node('stale-route-ack'), type_url: CDS });
    s.send({ type_url: RDS, resource_names: ['r1'] });
    for (const r of await drain(s)) s.ack(r, r.type_url === RDS ? ['r1'] : []);
    await settled(h, 'stale-route-ack');
    h.set(cfg(['b'], 'b')); // route a → b
    const [c1, toB] = [await s.next(), await s.next()];
    expect([c1.type_url, toB.type_url]).toEqual([CDS, RDS]);
    s.ack(c1);
    h.set(cfg(['c'], 'c')); // route b → c before the client's ACK of "→ b" arrives
    const [c2, toC] = [await s.next(), await s.next()];
    expect([c2.type_url, toC.type_url]).toEqual([CDS, RDS]);
    s.ack(c2);
    s.ack(toB, ['r1']); // stale now: no response, and the client runs "→ b"
    s.send({ type_url: RDS, resource_names: ['r1'], response_nonce: toC.nonce, error_detail: { code: 3, message: 'c rejected' } });
    expect(await s.silentFor(300)).toBe(true);
    h.set(cfg(['c', 'd'], 'c')); // any CDS change recomputes what may go
    const c3 = await s.next();
    expect(c3.type_url).toBe(CDS);
    expect(c3.names).toEqual(expect.arrayContaining(['b', 'c', 'd']));
  });

  it('rule 18: one change touching every type arrives SDS → CDS → EDS → LDS → RDS', async () => {
    h.set(withB);
    const s = await sotwEnvoy('push-order', true);
    const tls = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        common_tls_context: { validation_context_sds_secret_config: { name: 'ca', sds_config: { ads: {}, resource_api_version: 'V3' } } },
      },
    };
    h.set({
      clusters: [...withB.clusters!, cluster('c', { transport_socket: tls })],
      endpoints: [...withB.endpoints!, endpoints('c', [9003])],
      listeners: [...withB.listeners!, apiListener('new:80', 'r2')],
      routes: [...withB.routes!, routeConfig('r2', [{ cluster: 'c' }])],
      secrets: [{ name: 'ca', validation_context: { trusted_ca: { inline_string: 'not really a CA' } } }],
    });
    const got = await drain(s);
    expect(got.map((r) => r.type_url)).toEqual([SDS, CDS, EDS, LDS, RDS]);
    expect(got.map((r) => sorted(r.names))).toEqual([['ca'], ['a', 'b', 'c'], ['c'], ['new:80', 'svc:80'], ['r2']]);
    s.close();
  });
});

describe('rule 19: a route never names a cluster the client has not received', () => {
  /** Route r1 points at `target`; clusters are exactly `present`. */
  const config = (present: string[], target: string): MeshSpec => ({
    clusters: present.map((c) => cluster(c)),
    endpoints: present.map((c, i) => endpoints(c, [9100 + i])),
    listeners: [apiListener('svc:80', 'r1')],
    routes: [routeConfig('r1', [{ cluster: target }])],
  });
  // Each step adds the next cluster, moves the route to it and drops the previous one, in one change.
  const steps: Array<[string[], string]> = [
    [['a'], 'a'],
    [['b'], 'b'],
    [['a', 'c'], 'c'],
    [['a'], 'a'],
    [['b', 'c'], 'b'],
    [['c'], 'c'],
  ];

  it.each(['sotw', 'delta'] as const)('rule 19 (%s): through a series of re-routes, every route names only clusters already held', async (mode) => {
    h.set(config(...steps[0]!));
    const held = new Set<string>();
    const violations: string[] = [];
    const see = (r: { type_url: string; names: string[]; resources: Array<{ value: Record<string, unknown> }>; removed_resources?: string[] }) => {
      if (r.type_url === CDS) {
        if (mode === 'sotw') held.clear();
        for (const n of r.names) held.add(n);
        for (const n of r.removed_resources ?? []) held.delete(n);
      }
      if (r.type_url === RDS) {
        for (const res of r.resources) for (const c of clustersNamedBy(res.value)) if (!held.has(c)) violations.push(`route names ${c}, held: ${[...held]}`);
      }
    };
    if (mode === 'sotw') {
      const s = h.client.sotw();
      s.send({ node: node('r19-sotw'), type_url: CDS });
      s.send({ type_url: LDS });
      s.send({ type_url: RDS, resource_names: ['r1'] });
      const pump = async () => {
        // ACK each response as it arrives, as a client does.
        for (;;) {
          const r = await s.next(300).catch(() => undefined);
          if (!r) return settled(h, 'r19-sotw');
          see(r);
          s.ack(r, r.type_url === RDS ? ['r1'] : []);
        }
      };
      await pump();
      for (const step of steps.slice(1)) {
        h.set(config(...step));
        await pump();
        expect(sorted([...held])).toEqual(sorted(step[0]));
      }
      s.close();
    } else {
      const s = h.client.delta();
      s.send({ node: node('r19-delta'), type_url: CDS });
      s.send({ type_url: LDS });
      s.send({ type_url: RDS, resource_names_subscribe: ['r1'] });
      const pump = async () => {
        for (;;) {
          const r = await s.next(300).catch(() => undefined);
          if (!r) return settled(h, 'r19-delta');
          see(r);
          s.ack(r);
        }
      };
      await pump();
      for (const step of steps.slice(1)) {
        h.set(config(...step));
        await pump();
        expect(sorted([...held])).toEqual(sorted(step[0]));
      }
      s.close();
    }
    expect(violations).toEqual([]);
  });
});

describe('rule 20: after a cluster update its endpoints are sent again', () => {
  it.each(['sotw', 'delta'] as const)('rule 20 (%s): an updated cluster is followed by its unchanged endpoints', async (mode) => {
    h.set(withB);
    const updated = { ...withB, clusters: [cluster('a', { connect_timeout: '4s' }), cluster('b')] };
    if (mode === 'sotw') {
      const s = await sotwEnvoy('warm-sotw');
      const before = h.server.cache.get('*')!.get(EDS).get('a')!.version;
      h.set(updated);
      const got = await drain(s);
      expect(got.map((r) => [r.type_url, r.names])).toEqual([
        [CDS, ['a', 'b']],
        [EDS, ['a']],
      ]);
      expect(got[1]!.resources[0]!.value).toMatchObject({ cluster_name: 'a' });
      expect(h.server.cache.get('*')!.get(EDS).get('a')!.version).toBe(before); // really unchanged
      s.close();
    } else {
      const s = await deltaEnvoy('warm-delta');
      h.set(updated);
      const got = await drain(s);
      expect(got.map((r) => [r.type_url, r.names])).toEqual([
        [CDS, ['a']],
        [EDS, ['a']],
      ]);
      s.close();
    }
  });
});
