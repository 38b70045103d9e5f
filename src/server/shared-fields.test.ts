import { describe, expect, it } from 'vitest';
import { encodeResource, type VersionedResource } from '../cache/resource.ts';
import { TypeSet } from '../cache/snapshot.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { internSubscription, Subscription } from './subscription.ts';
import { firstAnswer, upsertFields } from './shared-fields.ts';

function eds(name: string): VersionedResource {
  const endpoint = { address: { socket_address: { address: '10.0.0.1', port_value: 8000 } } };
  return encodeResource(TypeUrl.Endpoint, { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint }] }] });
}

const names = Array.from({ length: 20 }, (_, i) => `svc-${i}`);
const set = TypeSet.of(TypeUrl.Endpoint, names.map(eds));
const sub = (list: string[]) => internSubscription(Subscription.NONE.applySotw(list));

describe('issue 14: response fields shared by streams sending the same thing', () => {
  it('everything a subscription covers is one buffer, the same for every stream of that subscription', () => {
    const all = [...set.items.values()];
    // The first stream's answer is its own fields: a set only one stream sends keeps no buffer.
    expect(upsertFields(all, set, sub(names), 'sotwField')).toEqual(all.map((r) => r.sotwField));
    const a = upsertFields(all, set, sub(names), 'sotwField');
    const b = upsertFields([...all].reverse(), set, sub([...names]), 'sotwField');
    expect(a).toHaveLength(1);
    expect(b[0]).toBe(a[0]);
    expect(a[0]).toEqual(Buffer.concat(all.map((r) => r.sotwField)));
    upsertFields(all, set, sub(names), 'deltaField');
    const d = upsertFields(all, set, sub(names), 'deltaField');
    expect(d).toHaveLength(1);
    expect(d[0]).toEqual(Buffer.concat(all.map((r) => r.deltaField)));
  });

  it('part of what is covered (a change) goes as its own fields', () => {
    const some = [...set.items.values()].slice(0, 10);
    expect(upsertFields(some, set, sub(names), 'sotwField')).toEqual(some.map((r) => r.sotwField));
  });

  it('a name subscribed but missing does not count as covered', () => {
    const all = [...set.items.values()];
    upsertFields(all, set, sub([...names, 'missing']), 'sotwField');
    const out = upsertFields(all, set, sub([...names, 'missing']), 'sotwField');
    expect(out).toHaveLength(1);
    expect(out[0]).toEqual(Buffer.concat(all.map((r) => r.sotwField)));
  });
});

describe('issue 14: a first answer to explicit names, shared from the second stream on', () => {
  it('the same arrays for every later stream of the subscription; the first keeps nothing', () => {
    const s = sub([...names.slice(0, 5), 'missing']);
    const a = firstAnswer(set, s);
    const b = firstAnswer(set, s);
    const c = firstAnswer(set, s);
    expect(a.upsert.map((r) => r.name)).toEqual(names.slice(0, 5));
    expect(a.removed).toEqual(['missing']);
    expect(b).not.toBe(a);
    expect(c).toBe(b);
    expect(c.upsert.map((r) => r.name)).toEqual(names.slice(0, 5));
  });
});
