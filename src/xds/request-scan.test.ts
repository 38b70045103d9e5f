import { describe, expect, it } from 'vitest';
import { checkRequest, DELTA_SHAPE, OverBudget, SOTW_SHAPE } from './request-scan.ts';
import { encodeDeltaRequest, encodeSotwRequest } from './wire.ts';

const thrown = (f: () => void): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('checkRequest (issue 16 bug 5: sizes checked before decoding)', () => {
  const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);
  const roomy = { maxEntries: 1000, maxNodeBytes: 1000 };
  const cases = [
    { name: 'sotw resource_names', bytes: encodeSotwRequest({ type_url: 't', resource_names: names(5) }), shape: SOTW_SHAPE, field: 'resource_names' },
    { name: 'delta subscribe', bytes: encodeDeltaRequest({ type_url: 't', resource_names_subscribe: names(5) }), shape: DELTA_SHAPE, field: 'resource_names_subscribe' },
    { name: 'delta unsubscribe', bytes: encodeDeltaRequest({ type_url: 't', resource_names_unsubscribe: names(5) }), shape: DELTA_SHAPE, field: 'resource_names_unsubscribe' },
    {
      name: 'delta initial_resource_versions',
      bytes: encodeDeltaRequest({ type_url: 't', initial_resource_versions: Object.fromEntries(names(5).map((n) => [n, 'v1'])) }),
      shape: DELTA_SHAPE,
      field: 'initial_resource_versions',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: at the limit passes, past it throws with the whole count`, () => {
      expect(() => checkRequest(c.bytes, c.shape, { ...roomy, maxEntries: 5 })).not.toThrow();
      const err = thrown(() => checkRequest(c.bytes, c.shape, { ...roomy, maxEntries: 3 }));
      expect(err).toBeInstanceOf(OverBudget);
      expect(err).toMatchObject({ reason: 'too_many_names', message: `5 entries in ${c.field}; at most 3 per request` });
    });
  }

  it.each([
    ['sotw', encodeSotwRequest({ node: { id: 'x'.repeat(500), cluster: 'c' }, type_url: 't' }), SOTW_SHAPE],
    ['delta', encodeDeltaRequest({ node: { id: 'x'.repeat(500), cluster: 'c' }, type_url: 't' }), DELTA_SHAPE],
  ] as const)('%s: a node over its byte budget throws', (_mode, bytes, shape) => {
    expect(() => checkRequest(bytes, shape, roomy)).not.toThrow();
    expect(thrown(() => checkRequest(bytes, shape, { ...roomy, maxNodeBytes: 100 }))).toMatchObject({ reason: 'node_too_large' });
  });

  it('malformed bytes are left for the decoder', () => {
    const bytes = encodeSotwRequest({ type_url: 't', resource_names: names(3) });
    expect(() => checkRequest(bytes.subarray(0, bytes.length - 1), SOTW_SHAPE, roomy)).not.toThrow();
    // A node whose length runs past the end is malformed, not large.
    expect(() => checkRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), DELTA_SHAPE, roomy)).not.toThrow();
  });
});
