import { describe, expect, it } from 'vitest';
import { encodeResource } from '../cache/resource.ts';
import { TypeUrl, type ResourceTypeUrl } from './type-urls.ts';
import { envoyJson } from './envoy-json.ts';

/** What an operator writes in Envoy YAML comes back the same from the admin API. */
describe('envoyJson: round trip of Envoy-style JSON', () => {
  const cases: Array<{ name: string; type: ResourceTypeUrl; resource: Record<string, unknown> }> = [
    { name: 'durations and wrappers', type: TypeUrl.Cluster, resource: { name: 'a', type: 'EDS', connect_timeout: '0.25s', per_connection_buffer_limit_bytes: 1024, eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } } } },
    { name: 'Struct metadata as plain JSON', type: TypeUrl.Cluster, resource: { name: 'b', metadata: { filter_metadata: { team: { owner: 'x', replicas: 3, on: true, tags: ['a'] } } } } },
    { name: 'Any expanded with @type, nested wrappers', type: TypeUrl.Route, resource: { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 80 }, { name: 'b', weight: 20 }] }, timeout: '3s' } }] }] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = encodeResource(c.type, c.resource);
      expect(envoyJson(c.type, r.value)).toEqual(c.resource);
    });
  }
});
