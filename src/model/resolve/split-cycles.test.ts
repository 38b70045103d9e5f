/**
 * Issue 16 bug 14: cyclic TrafficSplits were accepted silently (web -> a ->
 * web sent web's calls to a's pods and a's to web's). Every split on a cycle
 * is rejected, with the cycle and where each of its splits is written; the
 * last good version of a split is still served.
 */
import { describe, expect, it } from 'vitest';
import { buildMeshKeepingLastGood } from '../last-good.ts';
import { isAccepted } from '../problem.ts';
import { BASE_MESH, brief, buildWith, objectsFrom, problemsOf } from '../testing.ts';

const split = (name: string, service: string, backends: Record<string, number>) =>
  `apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: ${name}, namespace: demo}\nspec:\n  service: ${service}\n  backends:\n${Object.entries(backends)
    .map(([s, w]) => `  - {service: ${s}, weight: ${w}}\n`)
    .join('')}`;
/** Each split above is 7 lines plus one per backend; `---` between them. */
const file = (...docs: string[]) => docs.join('---\n');

const acceptedSplits = (yaml: string) =>
  buildWith(yaml)
    .statuses.filter((s) => s.kind === 'TrafficSplit')
    .map((s) => [s.name, isAccepted(s)]);

describe('issue 16 bug 14: cyclic TrafficSplits are rejected, naming the cycle', () => {
  it('two splits that send traffic back to each other: both rejected, each at its own backend, naming the other', () => {
    const yaml = file(split('web', 'web', { 'web-v1': 90, 'web-v2': 10 }), split('back', 'web-v1', { web: 1 }));
    const result = buildWith(yaml);
    const problems = problemsOf(result).filter((p) => p.kind === 'TrafficSplit');
    expect(problems.map(brief)).toEqual([
      { severity: 'error', reason: 'Conflict', kind: 'TrafficSplit', namespace: 'demo', name: 'back', field: 'spec.backends[0].service', file: 'intents.yaml', line: 16 },
      { severity: 'error', reason: 'Conflict', kind: 'TrafficSplit', namespace: 'demo', name: 'web', field: 'spec.backends[0].service', file: 'intents.yaml', line: 7 },
    ]);
    expect(problems[1]!.message).toContain('web -> web-v1 -> web');
    expect(problems[1]!.message).toContain('"back" at intents.yaml:10');
    expect(problems[0]!.message).toContain('web-v1 -> web -> web-v1');
    expect(result.model.splits.size).toBe(0);
  });

  it('a longer cycle: every split on it is rejected; a split beside it is not', () => {
    const yaml = file(split('a', 'web', { 'web-v1': 1 }), split('b', 'web-v1', { 'web-v2': 1 }), split('c', 'web-v2', { web: 1 }), split('d', 'api', { 'web-v1': 1 }));
    expect(acceptedSplits(yaml)).toEqual([['a', false], ['b', false], ['c', false], ['d', true]]);
    const a = problemsOf(buildWith(yaml)).find((p) => p.name === 'a')!;
    expect(a.message).toContain('web -> web-v1 -> web-v2 -> web');
  });

  it('a chain is not a cycle, nor is a way back at weight 0', () => {
    expect(acceptedSplits(file(split('a', 'web', { 'web-v1': 1 }), split('b', 'web-v1', { 'web-v2': 1 })))).toEqual([['a', true], ['b', true]]);
    expect(acceptedSplits(file(split('a', 'web', { 'web-v1': 1 }), split('b', 'web-v1', { 'web-v2': 1, web: 0 })))).toEqual([['a', true], ['b', true]]);
  });

  it('closing a cycle keeps serving the split that was there (its last good version); the newcomer is left out', () => {
    const before = objectsFrom({ 'base.yaml': BASE_MESH, 'intents.yaml': split('web', 'web', { 'web-v1': 1 }) });
    const good = buildMeshKeepingLastGood(before, undefined);
    expect([...good.model.splits.keys()]).toEqual(['demo/web']);
    const after = objectsFrom({ 'base.yaml': BASE_MESH, 'intents.yaml': split('web', 'web', { 'web-v1': 1 }), 'back.yaml': split('back', 'web-v1', { web: 1 }) });
    const result = buildMeshKeepingLastGood(after, good.accepted);
    expect([...result.model.splits.keys()]).toEqual(['demo/web']);
    const back = result.statuses.find((s) => s.name === 'back')!;
    expect(isAccepted(back)).toBe(false);
    expect(back.problems[0]).toMatchObject({ file: 'back.yaml', field: 'spec.backends[0].service' });
  });

  it('an edit that closes a cycle is rejected and the edited split keeps its last good version', () => {
    const files = (back: Record<string, number>) => objectsFrom({ 'base.yaml': BASE_MESH, 'intents.yaml': split('web', 'web', { 'web-v1': 1 }), 'back.yaml': split('back', 'web-v1', back) });
    const good = buildMeshKeepingLastGood(files({ 'web-v2': 1 }), undefined);
    const result = buildMeshKeepingLastGood(files({ web: 1 }), good.accepted);
    expect([...result.model.splits.values()].map((s) => [s.name, s.backends.map((b) => b.service)])).toEqual([['back', ['demo/web-v2']], ['web', ['demo/web-v1']]]);
    const statuses = result.statuses.filter((s) => s.kind === 'TrafficSplit').map((s) => [s.name, isAccepted(s)]);
    expect(statuses).toEqual([['back', false], ['web', true]]);
  });
});
