/**
 * The pure parts of `trellis status` / `trellis config-dump` as tables: the
 * --type and --admin arguments an operator types, and the filter's shape.
 * The commands end to end are in test/cli/status.test.ts and config-dump.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { OperatorError, UsageError } from '../errors.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { adminBaseUrl } from './client.ts';
import { filterConfig, parseTypeFilter } from './config-dump.ts';
import type { ProxyConfigView } from './proxies.ts';

describe('--type', () => {
  it.each([
    ['cds', 'cds'],
    ['CDS', 'cds'],
    ['Eds', 'eds'],
    ['sds', 'sds'],
    [TypeUrl.Route, 'rds'],
    [TypeUrl.Secret, 'sds'],
  ])('%s -> %s', (arg, want) => expect(parseTypeFilter(arg)).toBe(want));

  it.each(['xds', 'clusters', 'type.googleapis.com/envoy.config.cluster.v3.Nope', ''])('%j is a usage error', (arg) => {
    expect(() => parseTypeFilter(arg)).toThrow(UsageError);
  });
});

describe('--admin', () => {
  it.each([
    ['127.0.0.1:19000', 'http://127.0.0.1:19000'],
    ['http://127.0.0.1:19000/', 'http://127.0.0.1:19000'],
    ['https://trellis.example:443/admin/', 'https://trellis.example/admin'],
    ['localhost:8080', 'http://localhost:8080'],
  ])('%s -> %s', (arg, want) => expect(adminBaseUrl(arg)).toBe(want));

  it.each(['ftp://x:1', 'http://', 'http://[::1'])('%j is a usage error', (arg) => {
    expect(() => adminBaseUrl(arg)).toThrow(UsageError);
  });
});

describe('filterConfig', () => {
  const held = (name: string) => ({ name, version: 'v1', status: 'ACKED' as const, resource: { name } });
  const config: ProxyConfigView = { node: 'n', types: { lds: [held('l1')], cds: [held('a'), held('b')], sds: [held('a')] } };

  it.each([
    { name: 'no filter: every type, in cds..sds order', filter: {}, want: { cds: ['a', 'b'], lds: ['l1'], sds: ['a'] } },
    { name: 'a type', filter: { type: 'cds' }, want: { cds: ['a', 'b'] } },
    { name: 'a name in two types', filter: { name: 'a' }, want: { cds: ['a'], sds: ['a'] } },
    { name: 'a type and a name', filter: { type: 'sds', name: 'a' }, want: { sds: ['a'] } },
    { name: 'a type the node does not hold: empty, not an error', filter: { type: 'eds' }, want: {} },
  ])('$name', ({ filter, want }) => {
    const out = filterConfig(config, filter);
    expect(Object.keys(out.types)).toEqual(Object.keys(want));
    expect(Object.fromEntries(Object.entries(out.types).map(([t, rs]) => [t, rs.map((r) => r.name)]))).toEqual(want);
  });

  it('a name it does not hold names what it holds', () => {
    expect(() => filterConfig(config, { type: 'cds', name: 'c' })).toThrow(new OperatorError('proxy "n" holds no CDS resource named "c" (it holds: a, b)'));
    expect(() => filterConfig(config, { type: 'eds', name: 'c' })).toThrow(/holds no EDS resource named "c" \(it holds none\)/);
  });
});
