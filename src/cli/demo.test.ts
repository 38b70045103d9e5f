import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildMesh } from '../model/index.ts';
import { loadPaths } from '../sources/file/load.ts';
import { splitKindOf } from './demo.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const smi = mkdtempSync(path.join(os.tmpdir(), 'trellis-demo-smi-'));
afterAll(() => rmSync(smi, { recursive: true, force: true }));

async function modelOf(dir: string) {
  return buildMesh((await loadPaths([dir])).objects).model;
}

describe('trellis demo summary: what to edit for the split', () => {
  it('the demo routes recommendation by its HTTPRoute; the SMI copy (examples/smi/README.md) by its TrafficSplit', async () => {
    expect(splitKindOf(await modelOf(path.join(repo, 'examples/demo')))).toBe('HTTPRoute');
    cpSync(path.join(repo, 'examples/demo'), smi, { recursive: true });
    cpSync(path.join(repo, 'examples/smi/intents.yaml'), path.join(smi, 'intents.yaml'));
    expect(splitKindOf(await modelOf(smi))).toBe('TrafficSplit');
  });
});
