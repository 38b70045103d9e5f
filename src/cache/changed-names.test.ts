/**
 * The changed-names memo (TypeSet.changedSince) holds no set older than a
 * stream still holds, and answers exactly what a full comparison would,
 * whichever order streams at different sets ask in.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { TypeUrl } from '../xds/type-urls.ts';
import { encodeResource, type VersionedResource } from './resource.ts';
import { Snapshot, TypeSet } from './snapshot.ts';
import { SnapshotCache } from './snapshot-cache.ts';

const { Endpoint: EDS } = TypeUrl;

/** One ClusterLoadAssignment of `size` endpoints; `generation` moves one endpoint's port, so each is new content. */
function assignment(name: string, size: number, generation: number): VersionedResource {
  return encodeResource(EDS, {
    cluster_name: name,
    endpoints: [
      {
        lb_endpoints: Array.from({ length: size }, (_, k) => ({
          endpoint: { address: { socket_address: { address: `10.${(k >> 8) & 255}.${k & 255}.1`, port_value: k === 0 ? 1000 + generation : 8080 } } },
        })),
      },
    ],
  });
}

/** What changedSince must answer: a full comparison, no memo. */
function fullComparison(to: TypeSet, from: TypeSet): string[] {
  const names = new Set<string>();
  for (const [n, r] of to.items) if (from.items.get(n) !== r) names.add(n);
  for (const n of from.items.keys()) if (!to.items.has(n)) names.add(n);
  return [...names].sort();
}

describe('TypeSet.changedSince (the changed-names memo)', () => {
  it('issue 16 bug 1: memory does not grow with the number of config changes (a 3,000-endpoint set rewritten 150 times)', { timeout: 120_000 }, async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    // WeakRef targets (the interned resources) live until the current job ends: measure in a new one.
    const used = async () => {
      await new Promise((r) => setImmediate(r));
      gc();
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.external;
    };
    const cache = new SnapshotCache(() => 'k');
    let heard = 0;
    cache.watch('k', { id: 'n', cluster: 't' }, () => heard++);
    // A slow stream: still holds the set it was sent 5 changes ago, and compares the current one to it.
    const held: TypeSet[] = [];
    let g = 0;
    const change = () => {
      const set = TypeSet.of(EDS, [assignment('big', 3000, g++), assignment('small', 3, 0)]);
      expect(cache.setType('k', set, { endpointsShared: true }).ok).toBe(true);
      held.push(set);
      if (held.length > 5) expect([...set.changedSince(held.shift()!)]).toEqual(['big']);
    };
    for (let i = 0; i < 30; i++) change();
    const before = await used();
    for (let i = 0; i < 150; i++) change();
    const growth = (await used()) - before;
    expect(heard).toBe(180);
    // Each set carries ~3 copies of a ~40 KB encoding (value, SotW Any, delta
    // Resource): kept since start, 150 changes held ~30 MB; the live sets (the
    // current one, five held back) are the same before and after.
    expect(growth).toBeLessThan(8 * 1024 * 1024);
  });

  it('issue 16 bug 1: once no stream holds an old set, neither memo keeps it (changed names, consistency checks)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const cache = new SnapshotCache(() => 'k');
    cache.watch('k', { id: 'n', cluster: 't' }, () => {});
    const clusters = TypeSet.of(TypeUrl.Cluster, [
      encodeResource(TypeUrl.Cluster, { name: 'big', type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: { ads: {} } } }),
    ]);
    // The full path (cache.set), as the publisher takes it: each snapshot is checked for consistency.
    const publish = (g: number) => {
      const endpoints = TypeSet.of(EDS, [assignment('big', 10, g)]);
      expect(cache.set('k', new Snapshot({ [TypeUrl.Cluster]: clusters, [EDS]: endpoints }), { endpointsShared: true }).ok).toBe(true);
      return new WeakRef(endpoints);
    };
    const first = publish(0);
    for (let g = 1; g <= 3; g++) publish(g);
    await new Promise((r) => setImmediate(r));
    gc();
    expect(first.deref()).toBeUndefined();
  });

  it('issue 16 bug 1: streams at different sets asking in any order each get what a full comparison gives', () => {
    const r = (name: string, v: number) => assignment(name, 2, v);
    // Names added, removed, changed and kept across five sets.
    const sets = [
      TypeSet.of(EDS, [r('a', 0), r('b', 0), r('c', 0)]),
      TypeSet.of(EDS, [r('a', 1), r('b', 0), r('c', 0)]),
      TypeSet.of(EDS, [r('a', 1), r('c', 0), r('d', 0)]),
      TypeSet.of(EDS, [r('a', 2), r('c', 1), r('d', 0), r('e', 0)]),
      TypeSet.of(EDS, [r('a', 2), r('b', 3), r('e', 0)]),
    ];
    // A fast stream (one set behind), a slow one (at the first set) and a
    // fresh one (at an empty set) interleave, then ask again: memo hits and
    // misses must agree with the full comparison every time.
    const empty = TypeSet.of(EDS, []);
    for (let round = 0; round < 2; round++) {
      for (let i = 1; i < sets.length; i++) {
        const to = sets[i]!;
        for (const from of [sets[i - 1]!, sets[0]!, empty, to, sets[i - 1]!]) {
          expect([...to.changedSince(from)].sort()).toEqual(fullComparison(to, from));
        }
      }
    }
    expect([...sets[4]!.changedSince(sets[0]!)].sort()).toEqual(['a', 'b', 'c', 'e']);
  });
});
