/**
 * The server knows the cache through one seam (cache/config-watcher.ts) and
 * nothing else of it; the generic Interner is the one other module it may
 * use. A test rather than a comment, so a new import of a cache internal
 * (changedNames, SnapshotCache, snapshot.ts) fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const ALLOWED = ['../cache/config-watcher.ts', '../cache/interner.ts'];

describe('server -> cache seam', () => {
  it('src/server imports from src/cache only config-watcher.ts and interner.ts', () => {
    const found: string[] = [];
    for (const file of readdirSync(here).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const text = readFileSync(path.join(here, file), 'utf8');
      for (const m of text.matchAll(/from '(\.\.\/cache\/[^']+)'/g)) if (!ALLOWED.includes(m[1]!)) found.push(`${file}: ${m[1]}`);
    }
    expect(found).toEqual([]);
  });
});
