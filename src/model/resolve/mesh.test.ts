/**
 * Issue 16 bug 8: a new MeshConfig file took the mesh over by alphabetical
 * order (`evil` before `trellis`), and the error named the operator's file.
 * The MeshConfig that configures the mesh now keeps it, whatever the names;
 * the newcomer is rejected at its own file and line. Builds go through
 * buildMeshKeepingLastGood with the previous build's accepted objects, as
 * the running pipeline does (and as a restart does, given the persisted last
 * good objects).
 */
import { describe, expect, it } from 'vitest';
import { buildMeshKeepingLastGood } from '../last-good.ts';
import { isAccepted } from '../problem.ts';
import { BASE_MESH, brief, objectsFrom, problemsOf } from '../testing.ts';
import type { BuildResult } from '../build.ts';

const meshConfig = (name: string, trustDomain: string, created?: string) =>
  `apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata:\n  name: ${name}\n${created ? `  creationTimestamp: "${created}"\n` : ''}spec:\n  trustDomain: ${trustDomain}\n`;
const TRELLIS = meshConfig('trellis', 'trellis.local');
const EVIL = meshConfig('evil', 'evil.local');

const build = (files: Record<string, string>, previous?: BuildResult) => buildMeshKeepingLastGood(objectsFrom({ 'base.yaml': BASE_MESH, ...files }), previous?.accepted);
const meshConfigs = (r: BuildResult) => r.statuses.filter((s) => s.kind === 'MeshConfig').map((s) => [s.name, isAccepted(s)]);

describe('issue 16 bug 8: a new MeshConfig never takes the mesh over; the error names the newcomer', () => {
  it('the running MeshConfig keeps the mesh whatever the newcomer is called; the newcomer is rejected at its own file and line', () => {
    const running = build({ 'mesh.yaml': TRELLIS });
    expect(running.model.mesh).toMatchObject({ source: 'trellis', trustDomain: 'trellis.local' });
    for (const name of ['evil', 'zzz']) {
      const after = build({ 'mesh.yaml': TRELLIS, 'new.yaml': meshConfig(name, 'evil.local') }, running);
      expect(after.model.mesh).toMatchObject({ source: 'trellis', trustDomain: 'trellis.local' });
      expect(meshConfigs(after)).toEqual(name === 'evil' ? [['evil', false], ['trellis', true]] : [['trellis', true], ['zzz', false]]);
      const problems = problemsOf(after).filter((p) => p.kind === 'MeshConfig');
      expect(problems.map(brief)).toEqual([{ severity: 'error', reason: 'Conflict', kind: 'MeshConfig', namespace: '', name, field: 'metadata.name', file: 'new.yaml', line: 4 }]);
      expect(problems[0]!.message).toContain('MeshConfig "trellis" at mesh.yaml:1 configures the mesh');
    }
  });

  it('a newcomer with an empty spec (all defaults, trust domain cluster.local) does not change the trust domain either (bug 4\'s second case)', () => {
    const running = build({ 'mesh.yaml': TRELLIS });
    const after = build({ 'mesh.yaml': TRELLIS, 'a.yaml': 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: a}\nspec: {}\n' }, running);
    expect(after.model.mesh).toMatchObject({ source: 'trellis', trustDomain: 'trellis.local' });
  });

  it('and keeps it while the newcomer stays, through later builds and a restart from the last good objects', () => {
    let r = build({ 'mesh.yaml': TRELLIS });
    for (let i = 0; i < 3; i++) r = build({ 'mesh.yaml': TRELLIS, 'evil.yaml': EVIL }, r);
    expect(r.model.mesh.source).toBe('trellis');
    // A restart hands the pipeline the accepted objects it persisted: the same rule, the same winner.
    const restarted = buildMeshKeepingLastGood(objectsFrom({ 'base.yaml': BASE_MESH, 'mesh.yaml': TRELLIS, 'evil.yaml': EVIL }), r.accepted);
    expect(restarted.model.mesh.source).toBe('trellis');
  });

  it('an invalid edit of the running MeshConfig does not hand the mesh to the newcomer', () => {
    const running = build({ 'mesh.yaml': TRELLIS });
    const after = build({ 'mesh.yaml': meshConfig('trellis', 'Not A Domain'), 'evil.yaml': EVIL }, running);
    expect(after.model.mesh).toMatchObject({ source: 'trellis', trustDomain: 'trellis.local' });
    expect(meshConfigs(after)).toEqual([['evil', false], ['trellis', false]]);
  });

  it('deleting the running MeshConfig hands the mesh to the other (deletion is the operator saying so)', () => {
    const running = build({ 'mesh.yaml': TRELLIS });
    const both = build({ 'mesh.yaml': TRELLIS, 'evil.yaml': EVIL }, running);
    expect(build({ 'evil.yaml': EVIL }, both).model.mesh.source).toBe('evil');
  });

  it('with nothing running (first start, validate): the older by creation time, else the first by name; both files are named', () => {
    const first = build({ 'mesh.yaml': TRELLIS, 'evil.yaml': EVIL });
    expect(first.model.mesh.source).toBe('evil');
    const problems = problemsOf(first).filter((p) => p.kind === 'MeshConfig').map(brief);
    expect(problems).toEqual([
      { severity: 'warning', reason: 'Conflict', kind: 'MeshConfig', namespace: '', name: 'evil', field: 'metadata.name', file: 'evil.yaml', line: 4 },
      { severity: 'error', reason: 'Conflict', kind: 'MeshConfig', namespace: '', name: 'trellis', field: 'metadata.name', file: 'mesh.yaml', line: 4 },
    ]);
    const cluster = build({ 'mesh.yaml': meshConfig('trellis', 'trellis.local', '2026-01-01T00:00:00Z'), 'evil.yaml': meshConfig('evil', 'evil.local', '2026-12-01T00:00:00Z') });
    expect(cluster.model.mesh.source).toBe('trellis');
    expect(meshConfigs(cluster)).toEqual([['evil', false], ['trellis', true]]);
  });
});
