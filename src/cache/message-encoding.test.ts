/**
 * Route configurations are encoded from their virtual hosts' bytes, spliced
 * (issue 14): the bytes must be the whole message's, byte for byte (content
 * versions are hashes of them), and a bad host must still be named with its
 * place. Every translator test also checks real configurations this way
 * (translate/testing.ts encodeAll).
 */
import { describe, expect, it } from 'vitest';
import { messageType } from '../xds/protos.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { encodeMessage, encodeWhole } from './message-encoding.ts';
import { referencesOf } from './references.ts';
import { encodeResource } from './resource.ts';

const RC = messageType('envoy.config.route.v3.RouteConfiguration');

const host = (i: number) => ({
  name: `svc-${i}`,
  domains: [`svc-${i}.demo.svc.cluster.local`, `svc-${i}`],
  routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: `outbound|8080||svc-${i}.demo`, timeout: '3s' } }],
  request_headers_to_add: [{ header: { key: 'x-host', value: String(i) } }],
});

describe('route configurations encoded per virtual host (cache/message-encoding.ts)', () => {
  const cases: { name: string; rc: Record<string, unknown> }[] = [
    { name: 'hosts only', rc: { name: 'outbound', virtual_hosts: [host(1), host(2)] } },
    { name: 'fields after the hosts (headers, validate_clusters)', rc: { name: 'outbound', virtual_hosts: [host(1)], internal_only_headers: ['x-internal'], request_headers_to_add: [{ header: { key: 'k', value: 'v' } }], validate_clusters: false } },
    // A name longer than 127 bytes: its length is a two-byte varint.
    { name: 'a long name', rc: { name: 'n'.repeat(300), virtual_hosts: [host(1), host(2), host(3)] } },
    { name: 'no hosts', rc: { name: 'empty', virtual_hosts: [] } },
    { name: 'a thousand hosts', rc: { name: 'outbound', virtual_hosts: Array.from({ length: 1000 }, (_, i) => host(i)), validate_clusters: false } },
  ];
  for (const c of cases) {
    it(`${c.name}: the bytes of the whole message`, () => {
      expect(encodeMessage(TypeUrl.Route, c.rc).equals(encodeWhole(RC, c.rc))).toBe(true);
    });
  }

  it('a host shared by two configurations gives each the same bytes as encoding it alone', () => {
    const shared = host(7);
    const a = { name: 'a', virtual_hosts: [shared, host(1)] };
    const b = { name: 'b', virtual_hosts: [host(2), shared] };
    expect(encodeMessage(TypeUrl.Route, a).equals(encodeWhole(RC, a))).toBe(true);
    expect(encodeMessage(TypeUrl.Route, b).equals(encodeWhole(RC, b))).toBe(true);
  });

  it('a bad virtual host is named with its place in the configuration', () => {
    const bad = { name: 'outbound', virtual_hosts: [host(1), { ...host(2), domainz: ['x'] }] };
    expect(() => encodeResource(TypeUrl.Route, bad)).toThrow(/RouteConfiguration "outbound": .*virtual_hosts\[1\]\.domainz: unknown field/);
  });

  it('references are read per virtual host too: every cluster a host names, once, whichever configuration holds the host', () => {
    const weighted = { name: 'split', domains: ['split'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'c-v1', weight: 90 }, { name: 'c-v2', weight: 10 }] } } }] };
    const shared = host(7);
    const a = { name: 'a', virtual_hosts: [shared, weighted] };
    const b = { name: 'b', virtual_hosts: [host(1), shared, host(1)] };
    expect(referencesOf(TypeUrl.Route, 'a', a).clusters).toEqual(['c-v1', 'c-v2', 'outbound|8080||svc-7.demo']);
    expect(referencesOf(TypeUrl.Route, 'b', b).clusters).toEqual(['outbound|8080||svc-1.demo', 'outbound|8080||svc-7.demo']);
    expect(referencesOf(TypeUrl.Route, 'a', a)).toEqual(referencesOf(TypeUrl.Listener, 'a', a)); // the walk of the whole object
  });
});
