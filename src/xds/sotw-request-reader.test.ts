import { describe, expect, it } from 'vitest';
import { SotwRequestReader } from './sotw-request-reader.ts';
import { decodeSotwRequest, encodeSotwRequest, type SotwRequest } from './wire.ts';
import { OverBudget } from './request-scan.ts';

const T = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

describe('SotwRequestReader', () => {
  const cases: Array<{ name: string; req: Partial<SotwRequest>; lean: boolean }> = [
    { name: 'an ACK with names', req: { type_url: T, version_info: 'v1', response_nonce: 'n1', resource_names: ['a', 'b', 'c'] }, lean: true },
    { name: 'an empty wildcard request', req: { type_url: T }, lean: true },
    { name: 'a request with a node goes to the full decoder', req: { node: { id: 'x', cluster: 'c' }, type_url: T }, lean: false },
    { name: 'a NACK goes to the full decoder', req: { type_url: T, response_nonce: 'n', error_detail: { code: 3, message: 'bad' } }, lean: false },
  ];
  for (const c of cases) {
    it(`${c.name}: reads what the full decoder reads`, () => {
      const bytes = encodeSotwRequest(c.req);
      const got = new SotwRequestReader().read(bytes);
      if (!c.lean) return expect(got).toBeUndefined();
      const full = decodeSotwRequest(bytes);
      expect(got).toEqual({ version_info: full.version_info, resource_names: full.resource_names, type_url: full.type_url, response_nonce: full.response_nonce });
    });
  }

  it('reuses the previous name list when the names are byte-for-byte the same, per type', () => {
    const reader = new SotwRequestReader();
    const names = Array.from({ length: 1000 }, (_, i) => `svc-${i}.ns:8080`);
    const a = reader.read(encodeSotwRequest({ type_url: T, version_info: 'v1', response_nonce: '1', resource_names: names }))!;
    const b = reader.read(encodeSotwRequest({ type_url: T, version_info: 'v2', response_nonce: '2', resource_names: names }))!;
    expect(b.resource_names).toBe(a.resource_names);
    expect(b.version_info).toBe('v2');
    const c = reader.read(encodeSotwRequest({ type_url: T, version_info: 'v2', response_nonce: '3', resource_names: [...names, 'new'] }))!;
    expect(c.resource_names).not.toBe(a.resource_names);
    expect(c.resource_names.at(-1)).toBe('new');
    // Equal bytes share one array across types and streams (never mutated downstream).
    const other = new SotwRequestReader().read(encodeSotwRequest({ type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', resource_names: names }))!;
    expect(other.resource_names).toBe(a.resource_names);
    expect(Object.isFrozen(other.resource_names) || other.resource_names.length === 1000).toBe(true);
  });

  it('issue 14: a run that only starts like the previous list, or repeats another type\'s, reads as its own names', () => {
    const C = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
    const reader = new SotwRequestReader();
    const names = Array.from({ length: 50 }, (_, i) => `svc-${i}`);
    const read = (type_url: string, resource_names: string[]) => reader.read(encodeSotwRequest({ type_url, version_info: 'v', response_nonce: 'n', resource_names }))!;
    const a = read(T, names);
    // The same bytes for another type: that type's list, the same shared array.
    expect(read(C, names).resource_names).toBe(a.resource_names);
    // Longer (the run goes on past the previous list's bytes), shorter, then the first again.
    expect(read(T, [...names, 'x']).resource_names).toEqual([...names, 'x']);
    expect(read(T, names.slice(0, 10)).resource_names).toEqual(names.slice(0, 10));
    expect(read(T, names).resource_names).toBe(a.resource_names);
    expect(read(C, names.slice(1)).resource_names).toEqual(names.slice(1));
    expect(read(T, names).resource_names).toBe(a.resource_names);
  });

  it('issue 16 bug 5: names under a type URL Trellis does not serve are read but never kept or shared', () => {
    const reader = new SotwRequestReader();
    const names = ['x', 'y'];
    const a = reader.read(encodeSotwRequest({ type_url: 'type.googleapis.com/some.Unknown', resource_names: names }))!;
    const b = reader.read(encodeSotwRequest({ type_url: 'type.googleapis.com/some.Unknown', resource_names: names }))!;
    expect(a.resource_names).toEqual(names);
    expect(b.resource_names).not.toBe(a.resource_names);
  });

  it('issue 16 bug 5: more names than the cap throw OverBudget before any is decoded', () => {
    const bytes = encodeSotwRequest({ type_url: T, resource_names: ['a', 'b', 'c'] });
    expect(() => new SotwRequestReader(2).read(bytes)).toThrow(OverBudget);
    expect(new SotwRequestReader(3).read(bytes)!.resource_names).toEqual(['a', 'b', 'c']);
  });

  it('truncated bytes throw (the stream answers INVALID_ARGUMENT)', () => {
    const bytes = encodeSotwRequest({ type_url: T, resource_names: ['abc'] });
    expect(() => new SotwRequestReader().read(bytes.subarray(0, bytes.length - 2))).toThrow();
  });
});
