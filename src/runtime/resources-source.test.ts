/**
 * The raw resources file is watched like the YAML folder (PathWatcher): a
 * change is served, a broken or missing file keeps the last good config, and
 * the file is loaded again once it is back.
 */
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SnapshotCache } from '../cache/snapshot-cache.ts';
import { rootLogger } from '../log.ts';
import { XdsMetrics } from '../server/metrics.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { ResourcesFileSource, SHARED_KEY } from './resources-source.ts';

const clusters = (...names: string[]) => `clusters:\n${names.map((n) => `- {name: ${n}, type: STATIC, connect_timeout: 1s}\n`).join('')}`;

let dir: string;
let file: string;
let cache: SnapshotCache;
let source: ResourcesFileSource | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-resources-'));
  file = join(dir, 'resources.yaml');
  cache = new SnapshotCache();
});
afterEach(async () => {
  await source?.close();
  source = undefined;
  await rm(dir, { recursive: true, force: true });
});

function start(resyncMs?: number): ResourcesFileSource {
  source = new ResourcesFileSource({ file, cache, metrics: new XdsMetrics(), log: rootLogger.child({ level: 'silent' }), debounceMs: 20, resyncMs });
  return source;
}

const served = () => [...(cache.get(SHARED_KEY)?.get(TypeUrl.Cluster).items.keys() ?? [])];

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`still serving ${JSON.stringify(served())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ResourcesFileSource', () => {
  it('serves the file, then each change the watcher sees, including a file replaced by rename', async () => {
    await writeFile(file, clusters('a'));
    const s = start();
    expect(await s.reload()).toBe(true);
    expect(served()).toEqual(['a']);
    expect(s.notReadyReason()).toBeNull();
    await s.watch();
    await writeFile(file, clusters('a', 'b'));
    await until(() => served().length === 2);
    // Editors write a new file and rename it over the old one.
    await writeFile(join(dir, '.resources.yaml.tmp'), clusters('c'));
    await rename(join(dir, '.resources.yaml.tmp'), file);
    await until(() => served().join() === 'c');
  });

  it('issue 16 bug 7: after a save by rename, later edits (in place, by rename, a ConfigMap link swap) are served without the resync', async () => {
    await writeFile(file, clusters('a'));
    const s = start(60_000); // no safety resync within the test: fs events alone
    await s.reload();
    await s.watch();
    const renameOver = async (text: string) => {
      await writeFile(join(dir, '.resources.yaml.tmp'), text);
      await rename(join(dir, '.resources.yaml.tmp'), file);
    };
    await renameOver(clusters('b'));
    await until(() => served().join() === 'b');
    await writeFile(file, clusters('c'));
    await until(() => served().join() === 'c');
    await renameOver(clusters('d'));
    await until(() => served().join() === 'd');
    await writeFile(file, clusters('e'));
    await until(() => served().join() === 'e');
    // A ConfigMap volume: the file is a link into `..data`, a link that kubelet renames a new one over.
    await mkdir(join(dir, '..v1'));
    await writeFile(join(dir, '..v1', 'resources.yaml'), clusters('f'));
    await symlink('..v1', join(dir, '..data'));
    await rm(file);
    await symlink('..data/resources.yaml', file);
    await until(() => served().join() === 'f');
    await mkdir(join(dir, '..v2'));
    await writeFile(join(dir, '..v2', 'resources.yaml'), clusters('g'));
    await symlink('..v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await until(() => served().join() === 'g');
  });

  it('keeps the last good config while the file is broken or missing, and loads it once it is back', async () => {
    await writeFile(file, clusters('a'));
    const s = start();
    await s.reload();
    await writeFile(file, 'clusters: [');
    expect(await s.reload()).toBe(false);
    expect(served()).toEqual(['a']);
    expect(s.notReadyReason()).toBeNull(); // one version was served
    await rm(file);
    expect(await s.reload()).toBe(false);
    expect(served()).toEqual(['a']);
    await s.watch();
    await writeFile(file, clusters('b'));
    await until(() => served().join() === 'b');
    expect(await s.reload()).toBe(true);
  });

  it('is not ready until one version was served, and says why', async () => {
    await writeFile(file, 'listeners: {}');
    const s = start();
    expect(await s.reload()).toBe(false);
    expect(s.notReadyReason()).toMatch(/resources\.yaml:1: "listeners" must be a list/);
    expect(cache.get(SHARED_KEY)).toBeUndefined();
  });
});
