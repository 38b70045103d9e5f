/**
 * Issue 16 bug 8: a MeshConfig added beside the operator's took the mesh
 * over by alphabetical order (`evil` before `trellis`), and the error named
 * the operator's file. Here the newcomer keeps the trust domain but turns
 * authorization to Permissive (what the trust-domain rule of bug 4 cannot
 * see): a real `trellis serve` with a state dir on a copy of the demo mesh,
 * the newcomer added while it runs, then a restart on the same state dir.
 * The demo's MeshConfig must configure the mesh throughout, and the
 * newcomer's own file:line carry the error.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { demoCopy, startSecure, tempDir, type SecureHarness } from '../security/support.ts';

const EVIL = 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata:\n  name: evil\nspec:\n  trustDomain: trellis.local\n  authorization:\n    mode: Permissive\n';

const running: SecureHarness[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function serve(mesh: string, state: string): Promise<SecureHarness> {
  const h = await startSecure({ sourceDir: mesh, stateDir: state, reloadDebounceMs: 20 });
  running.push(h);
  return h;
}

function meshOf(h: SecureHarness) {
  const { source, authorization } = h.server.mesh!.model!.mesh;
  return { source, authorization };
}

describe('issue 16 bug 8: a new MeshConfig does not take the mesh over, running or after a restart', () => {
  it('the demo MeshConfig keeps the mesh; the newcomer is rejected at evil.yaml', async () => {
    const mesh = demoCopy();
    const state = tempDir('state');
    dirs.push(mesh, state);
    const first = await serve(mesh, state);
    expect(meshOf(first)).toEqual({ source: 'trellis', authorization: 'strict' });

    writeFileSync(path.join(mesh, 'evil.yaml'), EVIL);
    await first.server.mesh!.flush();
    expect(meshOf(first)).toEqual({ source: 'trellis', authorization: 'strict' });
    const evil = first.server.mesh!.statuses.find((s) => s.kind === 'MeshConfig' && s.name === 'evil')!;
    expect(evil.problems).toEqual([expect.objectContaining({ severity: 'error', reason: 'Conflict', file: path.join(mesh, 'evil.yaml'), line: 4, field: 'metadata.name' })]);
    expect(evil.problems[0]!.message).toContain(`MeshConfig "trellis" at ${path.join(mesh, 'mesh.yaml')}`);
    const operators = first.server.mesh!.statuses.find((s) => s.kind === 'MeshConfig' && s.name === 'trellis')!;
    expect(operators.problems).toEqual([]);

    running.splice(running.indexOf(first), 1);
    await first.close();
    const again = await serve(mesh, state);
    expect(meshOf(again)).toEqual({ source: 'trellis', authorization: 'strict' });
    expect(again.server.mesh!.statuses.find((s) => s.kind === 'MeshConfig' && s.name === 'evil')!.problems[0]).toMatchObject({ file: path.join(mesh, 'evil.yaml') });
  });
});
