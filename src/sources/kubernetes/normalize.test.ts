import { describe, expect, it } from 'vitest';
import { contentKey, toSourceObject } from './normalize.ts';
import { resourceOf } from './resources.ts';

const split = resourceOf('split.smi-spec.io/v1alpha4', 'TrafficSplit')!;
const pod = resourceOf('v1', 'Pod')!;

const stored = (extra: Record<string, unknown> = {}) => ({
  metadata: {
    name: 'reviews', namespace: 'shop', uid: 'u1', resourceVersion: '42', generation: 3,
    creationTimestamp: '2026-01-01T00:00:00Z', labels: { app: 'reviews' },
    managedFields: [{ manager: 'kubectl' }],
  },
  spec: { service: 'reviews', backends: [{ service: 'v1', weight: 1 }] },
  ...extra,
});

describe('toSourceObject', () => {
  it('list items get apiVersion and kind; bookkeeping moves to the origin', () => {
    const o = toSourceObject(split, stored());
    expect(o.raw).toEqual({
      apiVersion: 'split.smi-spec.io/v1alpha4', kind: 'TrafficSplit',
      metadata: { name: 'reviews', namespace: 'shop', uid: 'u1', generation: 3, creationTimestamp: '2026-01-01T00:00:00Z', labels: { app: 'reviews' } },
      spec: { service: 'reviews', backends: [{ service: 'v1', weight: 1 }] },
    });
    expect(o.metadata).toEqual({ name: 'reviews', namespace: 'shop', labels: { app: 'reviews' }, annotations: {}, generation: 3, creationTimestamp: '2026-01-01T00:00:00Z' });
    expect(o.origin).toEqual({ source: 'kubernetes', uid: 'u1', resourceVersion: '42' });
  });

  it.each([
    ['an intent drops the status Trellis wrote', split, false],
    ['a pod keeps its status (the kubelet wrote it)', pod, true],
  ] as const)('%s', (_name, resource, kept) => {
    const o = toSourceObject(resource, stored({ status: { podIP: '10.0.0.1' } }));
    expect('status' in o.raw).toBe(kept);
  });

  it('a status write or a new resourceVersion is not a content change', () => {
    const a = toSourceObject(split, stored());
    const b = toSourceObject(split, { ...stored({ status: { conditions: [] } }), metadata: { ...stored().metadata, resourceVersion: '43' } });
    expect(contentKey(a)).toBe(contentKey(b));
    const c = toSourceObject(split, { ...stored(), spec: { service: 'reviews', backends: [] } });
    expect(contentKey(c)).not.toBe(contentKey(a));
  });
});
