/**
 * Issue 14: a proxy's clusters as a shared base plus its own few
 * (TypeSet.layered). A layered set must behave exactly as the flat set of the
 * same resources wherever a stream or the consistency check reads it: same
 * items, same changes between two sets, same problems.
 */
import { describe, expect, it } from 'vitest';
import { TypeUrl } from '../xds/type-urls.ts';
import { LayeredMap } from './layered-map.ts';
import { encodeResource, type VersionedResource } from './resource.ts';
import { checkConsistency, Snapshot, TypeSet } from './snapshot.ts';

const eds = (name: string, timeout = 1): VersionedResource =>
  encodeResource(TypeUrl.Cluster, { name, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } }, connect_timeout: `${timeout}s` });
const cla = (name: string): VersionedResource => encodeResource(TypeUrl.Endpoint, { cluster_name: name, endpoints: [] });

/** Deterministic pseudo-random sequence, so a failure reproduces. */
function* lcg(seed: number): Generator<number> {
  let x = seed;
  for (;;) yield (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('LayeredMap', () => {
  it('reads as the union of its layers, base first, and refuses a key in both', () => {
    const m = new LayeredMap(new Map([['a', 1], ['b', 2]]), new Map([['c', 3]]));
    expect([m.size, m.get('a'), m.get('c'), m.get('x'), m.has('b'), m.has('x')]).toEqual([3, 1, 3, undefined, true, false]);
    expect([...m]).toEqual([['a', 1], ['b', 2], ['c', 3]]);
    expect([...m.keys()]).toEqual(['a', 'b', 'c']);
    expect(new Map(m)).toEqual(new Map([['a', 1], ['b', 2], ['c', 3]]));
    expect(() => new LayeredMap(new Map([['a', 1]]), new Map([['a', 2]]))).toThrow(/key a is in both layers/);
  });
});

describe('TypeSet.layered (issue 14)', () => {
  it('changedSince equals the flat sets\' answer over random edits of base and own parts, names moving between them included', () => {
    const rnd = lcg(7);
    const pick = () => rnd.next().value as number;
    const pool = Array.from({ length: 40 }, (_, i) => `c${i}`);
    const randomSplit = () => {
      const base: VersionedResource[] = [];
      const own: VersionedResource[] = [];
      for (const n of pool) {
        const r = pick();
        if (r < 0.15) continue; // absent
        const res = eds(n, 1 + Math.floor(pick() * 2)); // two contents per name
        (r < 0.8 ? base : own).push(res);
      }
      return { base, own };
    };
    for (let round = 0; round < 200; round++) {
      const a = randomSplit();
      const b = randomSplit();
      const la = TypeSet.layered(TypeSet.of(TypeUrl.Cluster, a.base), a.own);
      const lb = TypeSet.layered(TypeSet.of(TypeUrl.Cluster, b.base), b.own);
      const fa = TypeSet.of(TypeUrl.Cluster, [...a.base, ...a.own]);
      const fb = TypeSet.of(TypeUrl.Cluster, [...b.base, ...b.own]);
      expect(new Map(la.items)).toEqual(new Map(fa.items));
      expect([...lb.changedSince(la)].sort()).toEqual([...fb.changedSince(fa)].sort());
      // A layered set compared with a flat one takes the general path.
      expect([...lb.changedSince(fa)].sort()).toEqual([...fb.changedSince(fa)].sort());
    }
  });

  it('its version is a content hash: equal base version and own part give equal versions, any change another', () => {
    const base = [eds('a'), eds('b')];
    const v = (b: VersionedResource[], own: VersionedResource[]) => TypeSet.layered(TypeSet.of(TypeUrl.Cluster, b), own).version;
    expect(v(base, [eds('x')])).toBe(v([eds('a'), eds('b')], [eds('x')]));
    expect(v(base, [eds('x', 2)])).not.toBe(v(base, [eds('x')]));
    expect(v([eds('a', 2), eds('b')], [eds('x')])).not.toBe(v(base, [eds('x')]));
    expect(() => TypeSet.layered(TypeSet.of(TypeUrl.Cluster, base), [eds('a')])).toThrow(/in both layers/);
  });

  it('the consistency check finds the same problems in a layered snapshot as in the flat one', () => {
    const route = encodeResource(TypeUrl.Route, {
      name: 'r',
      virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'own', weight: 1 }, { name: 'gone', weight: 1 }] } } }] }],
    });
    const listener = encodeResource(TypeUrl.Listener, {
      name: 'l',
      address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', stat_prefix: 's', rds: { route_config_name: 'r', config_source: { ads: {} } }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }] } }] }],
    });
    const base = TypeSet.of(TypeUrl.Cluster, [eds('a'), eds('b')]);
    const own = [eds('own')];
    const rest = {
      [TypeUrl.Endpoint]: TypeSet.of(TypeUrl.Endpoint, [cla('a'), cla('own')]),
      [TypeUrl.Route]: TypeSet.of(TypeUrl.Route, [route]),
      [TypeUrl.Listener]: TypeSet.of(TypeUrl.Listener, [listener]),
    };
    const layered = new Snapshot({ ...rest, [TypeUrl.Cluster]: TypeSet.layered(base, own) });
    const flat = new Snapshot({ ...rest, [TypeUrl.Cluster]: TypeSet.of(TypeUrl.Cluster, [eds('a'), eds('b'), ...own]) });
    for (const endpointsShared of [true, false]) {
      const problems = checkConsistency(layered, { endpointsShared });
      expect(problems).toEqual(checkConsistency(flat, { endpointsShared }));
      expect(problems.map((p) => p.message).join('\n')).toMatch(/cluster "gone", which does not exist/);
    }
    expect(checkConsistency(layered, { endpointsShared: true }).map((p) => p.name)).toContain('b');
  });
});
