import { describe, expect, it } from 'vitest';
import { buildMesh } from './build.ts';
import { buildWith, objectsFrom, BASE_MESH } from './testing.ts';
import { same } from './share.ts';

const SPLIT = (w1: number, w2: number) => `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends:
  - {service: web-v1, weight: ${w1}}
  - {service: web-v2, weight: ${w2}}
`;
const POLICY = (max: number) => `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: api, namespace: demo}
spec:
  targetRef: {kind: Service, name: api}
  circuitBreaker: {maxConnections: ${max}}
`;

/** The model of the base mesh plus these intents, built after `before` was (its model the previous one). */
const after = (before: string, intents: string) => {
  const first = buildWith(before).model;
  const files = { 'base.yaml': BASE_MESH, 'intents.yaml': intents };
  return { first, next: buildMesh(objectsFrom(files), { previousModel: first }).model, fresh: buildMesh(objectsFrom(files)).model };
};

describe('issue 14: a model build reuses the previous model’s unchanged entities', () => {
  it('a TrafficPolicy edit: only its service is a new object; the model equals a fresh build', () => {
    const { first, next, fresh } = after(`${SPLIT(80, 20)}---\n${POLICY(100)}`, `${SPLIT(80, 20)}---\n${POLICY(200)}`);
    expect(next).toEqual(fresh);
    expect(next.services.get('demo/api')).not.toBe(first.services.get('demo/api'));
    for (const key of ['demo/web', 'demo/web-v1', 'demo/web-v2']) expect(next.services.get(key), key).toBe(first.services.get(key));
    expect(next.workloads, 'no workload serves api: the very map').toBe(first.workloads);
    expect(next.splits).toBe(first.splits);
    expect(next.mesh).toBe(first.mesh);
    expect(next.policies.get('demo/api')).not.toBe(first.policies.get('demo/api'));
  });

  it('a split weight edit: the split and its root service are new (a service’s digest reads its splits), the rest shared', () => {
    const { first, next, fresh } = after(SPLIT(80, 20), SPLIT(50, 50));
    expect(next).toEqual(fresh);
    expect(next.splits.get('demo/web')).not.toBe(first.splits.get('demo/web'));
    expect(next.services.get('demo/web')).not.toBe(first.services.get('demo/web'));
    expect(next.services.get('demo/api')).toBe(first.services.get('demo/api'));
  });

  it('an entity removed or added: the map is new, the other entities shared', () => {
    const { first, next, fresh } = after(`${SPLIT(80, 20)}---\n${POLICY(100)}`, SPLIT(80, 20));
    expect(next).toEqual(fresh);
    expect(next.policies).not.toBe(first.policies);
    expect(next.policies.size).toBe(0);
    expect(next.services.get('demo/web')).toBe(first.services.get('demo/web'));
  });

  it('equal means equal as plain data, key order included', () => {
    expect(same({ a: 1, b: [1, { c: 'x' }] }, { a: 1, b: [1, { c: 'x' }] })).toBe(true);
    expect(same({ a: 1, b: 2 }, { b: 2, a: 1 }), 'key order is part of the JSON').toBe(false);
    expect(same({ a: undefined }, {})).toBe(false);
    expect(same([1, 2], [1, 2, 3])).toBe(false);
    expect(same(new Map([['a', 1]]), new Map([['a', 1]])), 'not plain data: never shared').toBe(false);
    expect(same(Number.NaN, Number.NaN)).toBe(false);
  });
});
