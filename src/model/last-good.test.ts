/** Keeping the last good version of an object whose new version is rejected. */
import { describe, expect, it } from 'vitest';
import type { SourceObject } from './object.ts';
import { buildMeshKeepingLastGood } from './last-good.ts';
import { isAccepted } from './problem.ts';
import { BASE_MESH, objectsFrom } from './testing.ts';

const split = (backends: string) => `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends:
${backends}`;
const GOOD = split('  - {service: web-v1, weight: 90}\n  - {service: web-v2, weight: 10}\n');

/** Objects of the base mesh plus intents, with the watcher-style generation. */
function version(intents: string, generation: number, base = BASE_MESH): SourceObject[] {
  return objectsFrom({ 'base.yaml': base, 'intents.yaml': intents }).map((o) =>
    o.kind === 'TrafficSplit' ? { ...o, metadata: { ...o.metadata, generation } } : o,
  );
}

const weights = (r: ReturnType<typeof buildMeshKeepingLastGood>) => r.model.splits.get('demo/web')?.backends.map((b) => b.weight);
const splitStatus = (r: ReturnType<typeof buildMeshKeepingLastGood>) => r.statuses.find((s) => s.kind === 'TrafficSplit');

describe('buildMeshKeepingLastGood', () => {
  const first = buildMeshKeepingLastGood(version(GOOD, 1), undefined);

  const cases: { name: string; next: SourceObject[]; weights: number[] | undefined; accepted: boolean; served?: number; field?: string }[] = [
    { name: 'a valid new version replaces the old one', next: version(split('  - {service: web-v1, weight: 50}\n  - {service: web-v2, weight: 50}\n'), 2), weights: [50, 50], accepted: true },
    { name: 'an invalid new version keeps the old one served', next: version(split('  - {service: web-v1, weight: 50}\n  - {service: web-v2, weight: -50}\n'), 2), weights: [90, 10], accepted: false, served: 1, field: 'spec.backends[1].weight' },
    { name: 'a new version naming a missing backend keeps the old one', next: version(split('  - {service: web-v1, weight: 50}\n  - {service: web-v9, weight: 50}\n'), 2), weights: [90, 10], accepted: false, served: 1, field: 'spec.backends[1].service' },
    { name: 'a deleted object is gone', next: version('', 2), weights: undefined, accepted: false },
    {
      name: 'the old version is not served if it no longer fits',
      next: version(split('  - {service: web-v1, weight: 50}\n  - {service: web-v2, weight: -1}\n'), 2, BASE_MESH.replace(/name: web-v2, namespace: demo\}\nspec:\n  selector/, 'name: web-v3, namespace: demo}\nspec:\n  selector')),
      weights: undefined, accepted: false, field: 'spec.backends[1].weight',
    },
  ];

  it.each(cases)('$name', ({ next, weights: expected, accepted, served, field }) => {
    expect(weights(first)).toEqual([90, 10]);
    const result = buildMeshKeepingLastGood(next, first.accepted);
    expect(weights(result)).toEqual(expected);
    const status = splitStatus(result);
    if (!status) return expect(expected).toBeUndefined();
    expect(isAccepted(status)).toBe(accepted);
    expect(status.generation).toBe(2);
    expect(status.servedGeneration).toBe(served);
    if (field) expect(status.problems.map((p) => p.field)).toContain(field);
    if (served) expect(status.conditions.find((c) => c.type === 'Accepted')?.message).toContain('generation 1');
  });

  it('carries the served version forward while the object stays broken', () => {
    const broken = version(split('  - {service: web-v1, weight: -1}\n'), 2);
    const second = buildMeshKeepingLastGood(broken, first.accepted);
    const third = buildMeshKeepingLastGood(version(split('  - {service: web-v1, weight: -2}\n'), 3), second.accepted);
    expect(weights(third)).toEqual([90, 10]);
    expect(splitStatus(third)).toMatchObject({ generation: 3, servedGeneration: 1 });
  });
});
