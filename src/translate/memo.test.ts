import { describe, expect, it } from 'vitest';
import { Memo } from './memo.ts';

function counting() {
  const memo = new Memo<{ built: number }>();
  let builds = 0;
  const get = (parts: unknown[]) => memo.get(parts, () => ({ built: ++builds }));
  return { memo, get, builds: () => builds };
}

describe('Memo: equal inputs give the very same result', () => {
  const same: { name: string; a: unknown[]; b: unknown[] }[] = [
    { name: 'same parts', a: ['x', 1, true], b: ['x', 1, true] },
    { name: 'equal objects that are different instances', a: ['c', { port: 80, policy: { lb: 'RR' } }], b: ['c', { port: 80, policy: { lb: 'RR' } }] },
    { name: 'equal nested lists', a: [['a', ['b']], { x: [1, 2] }], b: [['a', ['b']], { x: [1, 2] }] },
    { name: 'undefined parts', a: ['c', undefined], b: ['c', undefined] },
  ];
  for (const c of same) {
    it(c.name, () => {
      const { get, builds } = counting();
      expect(get(c.b)).toBe(get(c.a));
      expect(builds()).toBe(1);
    });
  }

  const different: { name: string; a: unknown[]; b: unknown[] }[] = [
    { name: 'a different string', a: ['x'], b: ['y'] },
    { name: 'a number and its string', a: [1], b: ['1'] },
    { name: 'undefined, null and the strings that spell them', a: [undefined, null], b: ['undefined', 'null'] },
    { name: 'undefined and null', a: [undefined], b: [null] },
    { name: 'objects that differ deep inside', a: [{ p: { lb: 'RR' } }], b: [{ p: { lb: 'LR' } }] },
    { name: 'a list and its items spread', a: [['a', 'b']], b: ['a', 'b'] },
    { name: 'a boolean and its string', a: [true], b: ['true'] },
    { name: 'more parts', a: ['a'], b: ['a', undefined] },
  ];
  for (const c of different) {
    it(`different: ${c.name}`, () => {
      const { get, builds } = counting();
      expect(get(c.b)).not.toBe(get(c.a));
      expect(builds()).toBe(2);
    });
  }

  it('counts hits and misses', () => {
    const { memo, get } = counting();
    get(['a']);
    get(['a']);
    get(['b']);
    expect({ hits: memo.hits, misses: memo.misses }).toEqual({ hits: 1, misses: 2 });
  });
});

describe('Memo.sweep: generations', () => {
  it('an entry used in the last generation survives a sweep and is still the same object', () => {
    const { memo, get, builds } = counting();
    const first = get(['a']);
    memo.sweep();
    expect(get(['a'])).toBe(first);
    memo.sweep();
    expect(get(['a'])).toBe(first);
    expect(builds()).toBe(1);
  });

  it('an entry unused for a whole generation is dropped and rebuilt on demand', () => {
    const { memo, get, builds } = counting();
    const first = get(['a']);
    memo.sweep(); // generation 2: 'a' not used
    get(['b']);
    memo.sweep(); // 'a' is forgotten here
    const again = get(['a']);
    expect(again).not.toBe(first);
    expect(builds()).toBe(3);
  });

  it('an object part is keyed by its content when first seen: model objects are immutable', () => {
    const { get, builds } = counting();
    const policy = { timeoutMs: 1000 };
    get(['c', policy]);
    get(['c', { timeoutMs: 1000 }]);
    expect(builds()).toBe(1);
  });
});
