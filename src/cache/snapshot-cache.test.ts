/**
 * The ConfigWatcher contract (config-watcher.ts) as SnapshotCache keeps it:
 * what a watch hears and when, in which order, and what a listener may do.
 */
import { describe, expect, it } from 'vitest';
import { TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';
import type { NodeInfo } from '../xds/wire.ts';
import { encodeResource } from './resource.ts';
import { Snapshot, TypeSet } from './snapshot.ts';
import { SnapshotCache } from './snapshot-cache.ts';

const node = (id: string): NodeInfo => ({ id, cluster: 't' });
/** A snapshot with one cluster whose content is `n`, the other types empty. */
function snapshot(n: number): Snapshot {
  const cluster = encodeResource(TypeUrl.Cluster, { name: 'a', type: 'STATIC', connect_timeout: `${n}s` });
  return new Snapshot({ [TypeUrl.Cluster]: TypeSet.of(TypeUrl.Cluster, [cluster]) });
}
const short = (types: ReadonlySet<ResourceTypeUrl>) => [...types].map((t) => t.split('.').at(-1));

describe('SnapshotCache as a ConfigWatcher', () => {
  it('a watch hears the changes of its node only, with the types that changed (all, the first time); an equal snapshot notifies nobody', () => {
    const cache = new SnapshotCache((n) => n.id);
    const contentOf = new Map([1, 2, 3].map((n) => [snapshot(n).get(TypeUrl.Cluster).version, n]));
    const heard: string[] = [];
    const w = cache.createWatch(node('a'), (next, changed) => heard.push(`${contentOf.get(next.get(TypeUrl.Cluster).version)}: ${short(changed)}`));
    expect(w.current()).toBeUndefined();
    cache.set('a', snapshot(1));
    cache.set('b', snapshot(2));
    cache.set('a', snapshot(1));
    cache.set('a', snapshot(3));
    expect(heard).toEqual(['1: Secret,Cluster,ClusterLoadAssignment,Listener,RouteConfiguration', '3: Cluster']);
    expect(contentOf.get(w.current()!.get(TypeUrl.Cluster).version)).toBe(3);
  });

  it('watches of one node are notified in the order they were created', () => {
    const cache = new SnapshotCache(() => 'k');
    const order: number[] = [];
    for (const i of [1, 2, 3]) cache.createWatch(node(`n${i}`), () => order.push(i));
    cache.set('k', snapshot(1));
    expect(order).toEqual([1, 2, 3]);
  });

  it('a listener may run inside createWatch, before it returns (a writer publishing on demand)', () => {
    const cache = new SnapshotCache((n) => n.id);
    cache.onDemand({ onDemand: (key) => cache.set(key, snapshot(1)) });
    let heard = 0;
    const w = cache.createWatch(node('a'), () => heard++);
    expect(heard).toBe(1);
    expect(w.current()).toBeDefined();
  });

  it('a write from inside a listener throws (it would reorder what the others hear)', () => {
    const cache = new SnapshotCache(() => 'k');
    cache.createWatch(node('a'), () => cache.set('k', snapshot(2)));
    expect(() => cache.set('k', snapshot(1))).toThrow(/inside a watch listener/);
  });

  it('a listener may cancel watches: one cancelled before its turn hears nothing more', () => {
    const cache = new SnapshotCache(() => 'k');
    const heard: string[] = [];
    const second = { cancel: () => {} };
    cache.createWatch(node('a'), () => {
      heard.push('first');
      second.cancel();
    });
    second.cancel = cache.createWatch(node('b'), () => heard.push('second')).cancel;
    cache.set('k', snapshot(1));
    cache.set('k', snapshot(2));
    expect(heard).toEqual(['first', 'first']);
  });

  it('cancel is idempotent: the node goes idle once, and a later watch is not disturbed', () => {
    const cache = new SnapshotCache(() => 'k');
    const idle: string[] = [];
    cache.onDemand({ onIdle: (key) => idle.push(key) });
    const w = cache.createWatch(node('a'), () => {});
    w.cancel();
    w.cancel();
    expect(idle).toEqual(['k']);
    let heard = 0;
    cache.createWatch(node('b'), () => heard++);
    w.cancel();
    cache.set('k', snapshot(1));
    expect({ idle, heard, watchers: cache.watcherCount() }).toEqual({ idle: ['k'], heard: 1, watchers: 1 });
  });
});
