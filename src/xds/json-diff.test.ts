import { describe, expect, it } from 'vitest';
import { formatFieldChange, jsonDiff } from './json-diff.ts';

describe('jsonDiff', () => {
  it('equal values: nothing', () => {
    expect(jsonDiff({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toEqual([]);
  });

  it('a leaf: its path, before and after; an absent side is undefined', () => {
    expect(jsonDiff({ t: [{ max: 100 }] }, { t: [{ max: 200 }], extra: true })).toEqual([
      { path: '.t.0.max', before: 100, after: 200 },
      { path: '.extra', before: undefined, after: true },
    ]);
  });

  it('a list of named elements is compared by name: removing the first is one change, not every index', () => {
    const before = { hosts: [{ name: 'a', port: 1 }, { name: 'b', port: 2 }, { name: 'c', port: 3 }] };
    const after = { hosts: [{ name: 'b', port: 2 }, { name: 'c', port: 4 }] };
    expect(jsonDiff(before, after)).toEqual([
      { path: '.hosts[a]', before: { name: 'a', port: 1 }, after: undefined },
      { path: '.hosts[c].port', before: 3, after: 4 },
    ]);
  });

  it('duplicate names fall back to indexes; limit caps the list', () => {
    expect(jsonDiff([{ name: 'x', v: 1 }, { name: 'x', v: 2 }], [{ name: 'x', v: 1 }, { name: 'x', v: 3 }])).toEqual([{ path: '.1.v', before: 2, after: 3 }]);
    expect(jsonDiff({ a: 1, b: 2, c: 3 }, { a: 0, b: 0, c: 0 }, 2)).toHaveLength(2);
  });

  it('formatted: JSON values, long ones cut, (none) for absent', () => {
    expect(formatFieldChange({ path: '.w', before: 90, after: 50 })).toBe('.w: 90 → 50');
    expect(formatFieldChange({ path: '.s', before: undefined, after: 'x'.repeat(200) })).toMatch(/^\.s: \(none\) → "x{99}…$/);
  });
});
