import { describe, expect, it } from 'vitest';
import { checkRepeated, DELTA_REPEATED, SOTW_REPEATED, TooManyEntries } from './request-scan.ts';
import { encodeDeltaRequest, encodeSotwRequest } from './wire.ts';

describe('checkRepeated (issue 16 bug 5: count before decoding)', () => {
  const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);
  const cases = [
    { name: 'sotw resource_names', bytes: encodeSotwRequest({ type_url: 't', resource_names: names(5) }), fields: SOTW_REPEATED, field: 'resource_names' },
    { name: 'delta subscribe', bytes: encodeDeltaRequest({ type_url: 't', resource_names_subscribe: names(5) }), fields: DELTA_REPEATED, field: 'resource_names_subscribe' },
    { name: 'delta unsubscribe', bytes: encodeDeltaRequest({ type_url: 't', resource_names_unsubscribe: names(5) }), fields: DELTA_REPEATED, field: 'resource_names_unsubscribe' },
    {
      name: 'delta initial_resource_versions',
      bytes: encodeDeltaRequest({ type_url: 't', initial_resource_versions: Object.fromEntries(names(5).map((n) => [n, 'v1'])) }),
      fields: DELTA_REPEATED,
      field: 'initial_resource_versions',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: at the limit passes, past it throws with the whole count`, () => {
      expect(() => checkRepeated(c.bytes, c.fields, 5)).not.toThrow();
      const err = (() => {
        try {
          checkRepeated(c.bytes, c.fields, 3);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(TooManyEntries);
      expect(err).toMatchObject({ field: c.field, count: 5, limit: 3 });
    });
  }

  it('malformed bytes are left for the decoder', () => {
    const bytes = encodeSotwRequest({ type_url: 't', resource_names: names(3) });
    expect(() => checkRepeated(bytes.subarray(0, bytes.length - 1), SOTW_REPEATED, 10)).not.toThrow();
  });
});
