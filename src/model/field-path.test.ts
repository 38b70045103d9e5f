import { describe, expect, it } from 'vitest';
import { childPath, parentPath } from './field-path.ts';

describe('field paths', () => {
  const cases: { name: string; parent: string; key: string | number; path: string; back: string }[] = [
    { name: 'root field', parent: '', key: 'spec', path: 'spec', back: '' },
    { name: 'nested field', parent: 'spec', key: 'service', path: 'spec.service', back: 'spec' },
    { name: 'list item', parent: 'spec.backends', key: 1, path: 'spec.backends[1]', back: 'spec.backends' },
    { name: 'key with dots and slash is quoted', parent: 'metadata.labels', key: 'kubernetes.io/service-name', path: 'metadata.labels["kubernetes.io/service-name"]', back: 'metadata.labels' },
    { name: 'quoted key containing a bracket', parent: 'a', key: 'x[0].y', path: 'a["x[0].y"]', back: 'a' },
  ];
  it.each(cases)('$name', ({ parent, key, path, back }) => {
    expect(childPath(parent, key)).toBe(path);
    expect(parentPath(path)).toBe(back);
  });

  it('walks up to the root', () => {
    const seen: string[] = [];
    for (let p: string | undefined = 'spec.backends[1].weight'; p !== undefined; p = parentPath(p)) seen.push(p);
    expect(seen).toEqual(['spec.backends[1].weight', 'spec.backends[1]', 'spec.backends', 'spec', '']);
  });
});
