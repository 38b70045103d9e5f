import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sdsChannels, sdsMeshFiles } from '../../bench/sds-mesh.ts';
import { MAX_FILE_BYTES } from '../../src/sources/file/limits.ts';
import { loadFile } from '../../src/sources/file/load.ts';
import { XDS_LIMITS } from '../../src/server/limits.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-sds-mesh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('issue 14: the SDS restart benchmark at 10,000 streams stays within the server\'s limits', () => {
  it('every mesh file is under the file source\'s limit and loads without errors', async () => {
    // One pods.yaml of 10,000 Pods was over 4 MiB: refused whole, no workload
    // existed, and every stream received the trust bundle alone.
    const files = sdsMeshFiles({ workloads: 10_000, services: 50, identities: 10_000 });
    const sizes = Object.entries(files).map(([name, text]) => [name, Buffer.byteLength(text)] as const);
    for (const [name, size] of sizes) expect(size, name).toBeLessThanOrEqual(MAX_FILE_BYTES);
    const [largest] = sizes.toSorted((a, b) => b[1] - a[1]);
    const file = path.join(dir, largest![0]);
    writeFileSync(file, files[largest![0]]!);
    const loaded = await loadFile(file);
    expect(loaded.errors).toEqual([]);
    expect(loaded.objects.length).toBeGreaterThan(0);
  });

  it('no connection carries more streams than the server admits on one', () => {
    // 10 connections for 2,000 streams left 1,000 queued behind the 100 the server admits.
    for (const [workloads, clients] of [[2_000, 2], [10_000, 2], [10_000, 3], [150, 1]] as const) {
      const channels = sdsChannels(workloads, clients);
      expect(Math.ceil(workloads / clients / channels), `${workloads} streams, ${clients} clients`).toBeLessThanOrEqual(XDS_LIMITS.maxStreamsPerConnection);
    }
    expect(sdsChannels(100, 2, 7)).toBe(7);
  });
});
