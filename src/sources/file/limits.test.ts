/**
 * Issue 16 bug 14: a 10 MB file took the server to 476 MB, with no cap. A
 * source file over 4 MiB is refused before it is read, one object over
 * 1.5 MiB (the API server's limit) is refused at its line; either way the
 * error names the file and the limit, and the file's last good objects stay.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rootLogger } from '../../log.ts';
import { formatSourceError } from '../../model/problem.ts';
import { MAX_FILE_BYTES, MAX_OBJECT_BYTES } from './limits.ts';
import { loadPaths } from './load.ts';
import { parseYamlFile } from './parse.ts';
import { FileWatcher, type FileSourceSnapshot } from './watch.ts';

const sa = (name: string, annotation = '') =>
  `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${name}\n  namespace: demo\n${annotation ? `  annotations:\n    big: "${annotation}"\n` : ''}`;
/** A folder's worth of small objects: over the file limit without any object being large. */
const manyObjects = (bytes: number) => {
  const docs: string[] = [];
  for (let i = 0, size = 0; size <= bytes; i++) {
    const doc = sa(`sa-${i}`, 'x'.repeat(400));
    docs.push(doc);
    size += doc.length + 4;
  }
  return docs.join('---\n');
};

let dir: string;
let watcher: FileWatcher | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-limits-'));
});
afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('issue 16 bug 14: source file and object size caps', () => {
  it('an object over 1.5 MiB is an error at its line, naming it and the limit (in a List too)', () => {
    const huge = 'x'.repeat(MAX_OBJECT_BYTES);
    const { objects, errors } = parseYamlFile('big.yaml', `${sa('small')}---\n${sa('huge', huge)}`);
    expect(objects.map((o) => o.metadata.name)).toEqual(['small']);
    expect(errors).toEqual([expect.objectContaining({ file: 'big.yaml', line: 7, kind: 'ServiceAccount', name: 'huge', namespace: 'demo' })]);
    expect(formatSourceError(errors[0]!)).toMatch(/^big\.yaml:7: ServiceAccount demo\/huge: -: object is [\d,]+ bytes of YAML, over the limit of 1\.5 MiB \(1,572,864 bytes\) for one object/);

    const list = `apiVersion: v1\nkind: List\nitems:\n- ${sa('fine').trimEnd().replace(/\n/g, '\n  ')}\n- ${sa('huge', huge).trimEnd().replace(/\n/g, '\n  ')}\n`;
    const listed = parseYamlFile('list.yaml', list);
    expect(listed.objects.map((o) => o.metadata.name)).toEqual(['fine']);
    expect(listed.errors).toEqual([expect.objectContaining({ file: 'list.yaml', line: 9, kind: 'ServiceAccount', name: 'huge' })]);
  });

  it('the watcher refuses a file grown over 4 MiB without parsing it, and keeps serving its last good objects', async () => {
    await writeFile(join(dir, 'a.yaml'), sa('a'));
    let last: FileSourceSnapshot | undefined;
    watcher = new FileWatcher({ root: dir, debounceMs: 20, logger: rootLogger.child({ level: 'silent' }), onChange: (s) => (last = s) });
    await watcher.start();
    const heapBefore = process.memoryUsage().heapUsed;
    await writeFile(join(dir, 'a.yaml'), manyObjects(MAX_FILE_BYTES + 1024));
    await watcher.flush();
    expect(last?.objects.map((o) => o.metadata.name)).toEqual(['a']);
    expect(last?.errors).toEqual([expect.objectContaining({ file: join(dir, 'a.yaml'), line: 1 })]);
    expect(last?.errors[0]?.message).toMatch(/^file is [\d,]+ bytes, over the limit of 4 MiB \(4,194,304 bytes\) for one source file/);
    // Not parsed: parsing ~4 MiB of YAML into objects costs ~150 MB of heap (a generous bound, not a timing).
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);

    await writeFile(join(dir, 'a.yaml'), sa('a2'));
    await watcher.flush();
    expect(last?.objects.map((o) => o.metadata.name)).toEqual(['a2']);
    expect(last?.errors).toEqual([]);
  });

  it('validate reports a file over 4 MiB at its first line, without reading it', async () => {
    await writeFile(join(dir, 'big.yaml'), manyObjects(MAX_FILE_BYTES + 1024));
    await writeFile(join(dir, 'ok.yaml'), sa('ok'));
    const loaded = await loadPaths([dir]);
    expect(loaded.objects.map((o) => o.metadata.name)).toEqual(['ok']);
    expect(loaded.errors.map(formatSourceError)).toEqual([expect.stringMatching(/big\.yaml:1: document 1: -: file is [\d,]+ bytes, over the limit of 4 MiB \(4,194,304 bytes\) for one source file; it is not read/)]);
  });
});
