/**
 * What a stream lacks, as a table (after go-control-plane's tests): given
 * what was sent and under which subscription, what the client says it holds
 * (delta reconnect), names forced and the subscription now, TypeState.diff
 * says what to upsert, what to remove and what the client holds that it no
 * longer asks for. Resources are real encoded ClusterLoadAssignments.
 */
import { describe, expect, it } from 'vitest';
import { encodeResource, type VersionedResource } from '../cache/resource.ts';
import { TypeSet } from '../cache/snapshot.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { Subscription } from './subscription.ts';
import { TypeState } from './type-state.ts';

/** Endpoints `name` at content `n`: a different n is a different version. */
function eds(name: string, n: number): VersionedResource {
  const endpoint = { address: { socket_address: { address: '10.0.0.1', port_value: 8000 + n } } };
  return encodeResource(TypeUrl.Endpoint, { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint }] }] });
}

/** `{a: 1, b: 2}`: a set holding a at content 1 and b at content 2. */
const set = (items: Record<string, number>) => TypeSet.of(TypeUrl.Endpoint, Object.entries(items).map(([k, n]) => eds(k, n)));
/** `['*', 'a']`: the subscription a SotW request with these names makes. */
const sub = (names: string[]) => (names.length === 0 ? Subscription.NONE : Subscription.NONE.applySotw(names));

interface Case {
  name: string;
  /** the subscription when the last response was sent, and what it was sent from */
  sent?: { sub: string[]; set: Record<string, number> };
  /** delta reconnect: initial_resource_versions, as contents */
  clientHolds?: Record<string, number | 'stale'>;
  forced?: string[];
  /** the subscription now */
  now: string[];
  current: Record<string, number>;
  want: { upsert?: string[]; removed?: string[]; dropped?: string[] };
}

const cases: Case[] = [
  { name: 'nothing sent, explicit names: those that exist are upserted, a missing one is removed (rule 13)', now: ['a', 'x'], current: { a: 1, b: 1 }, want: { upsert: ['a'], removed: ['x'] } },
  { name: 'nothing sent, wildcard: everything that exists, no removals', now: ['*'], current: { a: 1, b: 1 }, want: { upsert: ['a', 'b'] } },
  { name: 'sent and unchanged: nothing', sent: { sub: ['a'], set: { a: 1 } }, now: ['a'], current: { a: 1 }, want: {} },
  { name: 'one of two changed: only it (rule 12)', sent: { sub: ['a', 'b'], set: { a: 1, b: 1 } }, now: ['a', 'b'], current: { a: 2, b: 1 }, want: { upsert: ['a'] } },
  { name: 'a change to a name not subscribed: nothing (rule 26)', sent: { sub: ['a'], set: { a: 1, b: 1 } }, now: ['a'], current: { a: 1, b: 2 }, want: {} },
  { name: 'deleted under a wildcard: removed (rules 7, 12)', sent: { sub: ['*'], set: { a: 1, b: 1 } }, now: ['*'], current: { a: 1 }, want: { removed: ['b'] } },
  { name: 'created under a wildcard: upserted', sent: { sub: ['*'], set: { a: 1 } }, now: ['*'], current: { a: 1, c: 1 }, want: { upsert: ['c'] } },
  { name: 'deleted explicit name the client had: removed', sent: { sub: ['a', 'b'], set: { a: 1, b: 1 } }, now: ['a', 'b'], current: { a: 1 }, want: { removed: ['b'] } },
  { name: 'explicit name answered as absent and still absent: not removed again', sent: { sub: ['x'], set: {} }, now: ['x'], current: {}, want: {} },
  { name: 'a name asked for before it exists is sent when it appears (rule 10)', sent: { sub: ['x'], set: {} }, now: ['x'], current: { x: 1 }, want: { upsert: ['x'] } },
  { name: 'unsubscribed name the client holds: dropped', sent: { sub: ['a', 'b'], set: { a: 1, b: 1 } }, now: ['a'], current: { a: 1, b: 1 }, want: { dropped: ['b'] } },
  { name: 'newly subscribed name: upserted', sent: { sub: ['a'], set: { a: 1, b: 1 } }, now: ['a', 'b'], current: { a: 1, b: 1 }, want: { upsert: ['b'] } },
  { name: 'wildcard dropped for explicit names: the others are dropped', sent: { sub: ['*'], set: { a: 1, b: 1 } }, now: ['a'], current: { a: 1, b: 1 }, want: { dropped: ['b'] } },
  { name: 'forced and unchanged: resent (rules 16, 20)', sent: { sub: ['a'], set: { a: 1 } }, forced: ['a'], now: ['a'], current: { a: 1 }, want: { upsert: ['a'] } },
  { name: 'forced and absent: answered as removed', sent: { sub: ['x'], set: {} }, forced: ['x'], now: ['x'], current: {}, want: { removed: ['x'] } },
  {
    name: 'delta reconnect: held at the current version not resent, stale resent, held and gone removed (rule 14)',
    clientHolds: { a: 1, b: 'stale', c: 1 },
    now: ['a', 'b', 'c'],
    current: { a: 1, b: 1 },
    want: { upsert: ['b'], removed: ['c'] },
  },
  { name: 'delta reconnect under a wildcard: the rest is sent, what no longer exists removed', clientHolds: { a: 1, z: 1 }, now: ['*'], current: { a: 1, b: 1 }, want: { upsert: ['b'], removed: ['z'] } },
];

describe('TypeState.diff: what the client lacks', () => {
  it.each(cases)('$name', (c) => {
    const st = new TypeState(TypeUrl.Endpoint);
    if (c.sent) {
      st.subscribe(sub(c.sent.sub), []);
      st.recordSent('1', set(c.sent.set), 0);
    }
    if (c.clientHolds) {
      const versions = Object.entries(c.clientHolds).map(([k, n]): [string, string] => [k, n === 'stale' ? 'stale-version' : eds(k, n).version]);
      st.clientHolds(new Map(versions));
    }
    st.subscribe(sub(c.now), c.forced ?? []);
    const d = st.diff(set(c.current));
    expect({
      upsert: d.upsert.map((r) => r.name).sort(),
      removed: [...d.removed].sort(),
      dropped: [...d.dropped].sort(),
    }).toEqual({ upsert: c.want.upsert ?? [], removed: c.want.removed ?? [], dropped: c.want.dropped ?? [] });
  });
});

describe('TypeState: what a full-state response covers', () => {
  it.each([
    { name: 'wildcard: everything', now: ['*'], want: ['a', 'b'] },
    { name: 'explicit: only the names that exist', now: ['a', 'x'], want: ['a'] },
  ])('$name', ({ now, want }) => {
    const st = new TypeState(TypeUrl.Endpoint);
    st.subscribe(sub(now), []);
    expect(st.covered(set({ a: 1, b: 1 })).map((r) => r.name).sort()).toEqual(want);
  });

  it.each([
    { name: 'wildcard', now: ['*'] },
    { name: 'explicit', now: ['a', 'c', 'x'] },
  ])('issue 14: over a layered set ($name), the response fields are the bytes of exactly what it covers', ({ now }) => {
    const st = new TypeState(TypeUrl.Endpoint);
    st.subscribe(sub(now), []);
    const layered = TypeSet.layered(set({ a: 1, b: 2 }), [eds('c', 3)]);
    const bytes = Buffer.concat(st.coveredFields(layered));
    expect(bytes.equals(Buffer.concat(st.covered(layered).map((r) => r.sotwField)))).toBe(true);
    expect(bytes.length).toBeGreaterThan(0);
  });
});
