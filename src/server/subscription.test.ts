/**
 * Subscription apply for both protocol variants, as tables of request
 * sequences (after go-control-plane's subscription tests): each step is one
 * request for one type on one stream, with the subscription it leaves and
 * the names it asks to resend. XDS_RULES 8, 9 and 16; the same sequences run
 * over real streams in test/xds/subscriptions.test.ts and delta.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { deltaSubscriptionChange } from './delta-stream.ts';
import { sotwSubscriptionChange } from './sotw-stream.ts';
import { applySotwShared, Subscription } from './subscription.ts';

interface Want {
  wildcard: boolean;
  names: string[];
  resend?: string[];
  /** the request left the subscription as it was (the same object) */
  unchanged?: boolean;
}

function expectStep(before: Subscription, change: { sub: Subscription; resend: readonly string[] }, want: Want): void {
  expect({
    wildcard: change.sub.wildcard,
    names: [...change.sub.names].sort(),
    resend: [...change.resend].sort(),
    unchanged: change.sub === before,
  }).toEqual({ wildcard: want.wildcard, names: want.names, resend: want.resend ?? [], unchanged: want.unchanged ?? false });
}

describe('state of the world: resource_names of each request', () => {
  const cases: Array<{ name: string; steps: Array<[string[], Want]> }> = [
    { name: 'legacy wildcard: an empty first list means *', steps: [[[], { wildcard: true, names: [] }]] },
    { name: 'explicit * beside names', steps: [[['*', 'a'], { wildcard: true, names: ['a'] }]] },
    { name: 'explicit names only', steps: [[['a', 'b'], { wildcard: false, names: ['a', 'b'] }]] },
    {
      name: 'once names were given, an empty list means nothing (rule 9)',
      steps: [
        [['a'], { wildcard: false, names: ['a'] }],
        [[], { wildcard: false, names: [] }],
      ],
    },
    {
      name: 'the spec sequence ∅ → {*,A} → {A} → ∅ (rule 9)',
      steps: [
        [[], { wildcard: true, names: [] }],
        [['*', 'A'], { wildcard: true, names: ['A'], resend: ['A'] }],
        [['A'], { wildcard: false, names: ['A'] }],
        [[], { wildcard: false, names: [] }],
      ],
    },
    {
      name: 'a name added to the list is resent, the ones already asked for are not (rule 8)',
      steps: [
        [['a'], { wildcard: false, names: ['a'] }],
        [['a', 'b'], { wildcard: false, names: ['a', 'b'], resend: ['b'] }],
        [['b', 'c'], { wildcard: false, names: ['b', 'c'], resend: ['c'] }],
      ],
    },
    {
      name: 'the first request resends nothing (nothing was sent)',
      steps: [[['a', 'b'], { wildcard: false, names: ['a', 'b'] }]],
    },
    {
      name: 'an ACK repeating the list leaves the subscription as it was',
      steps: [
        [['a', 'b'], { wildcard: false, names: ['a', 'b'] }],
        [['a', 'b'], { wildcard: false, names: ['a', 'b'], unchanged: true }],
      ],
    },
    {
      name: 'the same names in another order are the same subscription',
      steps: [
        [['a', 'b'], { wildcard: false, names: ['a', 'b'] }],
        [['b', 'a'], { wildcard: false, names: ['a', 'b'], unchanged: true }],
      ],
    },
    {
      name: 'an empty list repeated under the legacy wildcard stays the wildcard',
      steps: [
        [[], { wildcard: true, names: [] }],
        [[], { wildcard: true, names: [], unchanged: true }],
      ],
    },
    {
      name: 'names, then * alone: wildcard without names',
      steps: [
        [['a'], { wildcard: false, names: ['a'] }],
        [['*'], { wildcard: true, names: [] }],
      ],
    },
  ];

  it.each(cases)('$name', ({ steps }) => {
    let sub = Subscription.NONE;
    steps.forEach(([names, want], i) => {
      const change = sotwSubscriptionChange(sub, names, i > 0);
      expectStep(sub, change, want);
      sub = change.sub;
    });
  });
});

describe('delta: subscribe and unsubscribe of each request', () => {
  type Req = { subscribe?: string[]; unsubscribe?: string[] };
  const cases: Array<{ name: string; steps: Array<[Req, Want]> }> = [
    { name: 'legacy wildcard: an empty first subscribe means *', steps: [[{}, { wildcard: true, names: [] }]] },
    {
      name: 'an empty later request changes nothing',
      steps: [
        [{ subscribe: ['a'] }, { wildcard: false, names: ['a'] }],
        [{}, { wildcard: false, names: ['a'], unchanged: true }],
      ],
    },
    { name: 'explicit names on the first request are no wildcard and resend nothing', steps: [[{ subscribe: ['a', 'b'] }, { wildcard: false, names: ['a', 'b'] }]] },
    {
      name: 'the spec sequence ∅ → {*,A} → {A} → ∅ (rule 9)',
      steps: [
        [{}, { wildcard: true, names: [] }],
        [{ subscribe: ['*', 'A'] }, { wildcard: true, names: ['A'], resend: ['A'] }],
        [{ unsubscribe: ['*'] }, { wildcard: false, names: ['A'] }],
        [{ unsubscribe: ['A'] }, { wildcard: false, names: [] }],
      ],
    },
    {
      name: 're-subscribing a name the client has resends it (rule 16)',
      steps: [
        [{ subscribe: ['a'] }, { wildcard: false, names: ['a'] }],
        [{ subscribe: ['a'] }, { wildcard: false, names: ['a'], resend: ['a'], unchanged: true }],
      ],
    },
    {
      name: 'unsubscribing a name never subscribed is ignored (rule 16)',
      steps: [
        [{ subscribe: ['a'] }, { wildcard: false, names: ['a'] }],
        [{ unsubscribe: ['zzz'] }, { wildcard: false, names: ['a'], unchanged: true }],
      ],
    },
    {
      name: 'wildcard plus an explicit name, then dropping the name: resend it (rule 16)',
      steps: [
        [{ subscribe: ['*', 'a'] }, { wildcard: true, names: ['a'] }],
        [{ unsubscribe: ['a'] }, { wildcard: true, names: [], resend: ['a'] }],
      ],
    },
    {
      name: 'dropping an explicit name without a wildcard resends nothing (the removal is the diff’s)',
      steps: [
        [{ subscribe: ['a', 'b'] }, { wildcard: false, names: ['a', 'b'] }],
        [{ unsubscribe: ['a'] }, { wildcard: false, names: ['b'] }],
      ],
    },
    {
      name: 'subscribe and unsubscribe in one request',
      steps: [
        [{ subscribe: ['a'] }, { wildcard: false, names: ['a'] }],
        [{ subscribe: ['b'], unsubscribe: ['a'] }, { wildcard: false, names: ['b'], resend: ['b'] }],
      ],
    },
  ];

  it.each(cases)('$name', ({ steps }) => {
    let sub = Subscription.NONE;
    steps.forEach(([req, want], i) => {
      const change = deltaSubscriptionChange(sub, req.subscribe ?? [], req.unsubscribe ?? [], i === 0);
      expectStep(sub, change, want);
      sub = change.sub;
    });
  });
});

describe('issue 14: one subscription for the streams that send the same shared name list', () => {
  it('a frozen (shared) list applied to the same subscription gives the same interned object; the content is applySotw\'s', () => {
    const list = Object.freeze(['a', 'b', 'c']);
    const first = applySotwShared(Subscription.NONE, list);
    expect(applySotwShared(Subscription.NONE, list)).toBe(first);
    expect(first.equals(Subscription.NONE.applySotw(list))).toBe(true);
    // Applied again to what it made: nothing changes.
    expect(applySotwShared(first, list)).toBe(first);
    // The same names in a list no stream shares: an equal value, built as before.
    const own = applySotwShared(Subscription.NONE, ['a', 'b', 'c']);
    expect(own.equals(first)).toBe(true);
  });
});
