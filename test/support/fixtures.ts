/**
 * Envoy resources for protocol tests, written the way an operator writes
 * Envoy YAML (snake_case, durations as strings, `@type` on typed configs).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { encodeResource, type VersionedResource } from '../../src/cache/resource.ts';
import { Snapshot, TypeSet } from '../../src/cache/snapshot.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';

export function cluster(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    type: 'EDS',
    connect_timeout: '1s',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    ...extra,
  };
}

export function endpoints(name: string, ports: number[], zone = 'z1'): Record<string, unknown> {
  return {
    cluster_name: name,
    endpoints: [
      {
        locality: { zone },
        load_balancing_weight: 1,
        lb_endpoints: ports.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })),
      },
    ],
  };
}

export function routeConfig(name: string, routes: Array<{ prefix?: string; cluster?: string; weighted?: Array<[string, number]> }>, domains = ['*']) {
  return {
    name,
    virtual_hosts: [
      {
        name: 'vh',
        domains,
        routes: routes.map((r) => ({
          match: { prefix: r.prefix ?? '' },
          route: r.weighted
            ? { weighted_clusters: { clusters: r.weighted.map(([c, w]) => ({ name: c, weight: w })) } }
            : { cluster: r.cluster },
        })),
      },
    ],
  };
}

/** An API listener (what proxyless gRPC clients ask for) using RDS over ADS. */
export function apiListener(name: string, routeName: string) {
  return {
    name,
    api_listener: {
      api_listener: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'trellis',
        rds: { route_config_name: routeName, config_source: { ads: {}, resource_api_version: 'V3' } },
        http_filters: [{ name: 'router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      },
    },
  };
}

export interface MeshSpec {
  clusters?: Record<string, unknown>[];
  endpoints?: Record<string, unknown>[];
  listeners?: Record<string, unknown>[];
  routes?: Record<string, unknown>[];
  secrets?: Array<Record<string, unknown> & { __owner?: string }>;
}

export function snapshotOf(spec: MeshSpec, createdAt = Date.now()): Snapshot {
  const enc = (t: (typeof TypeUrl)[keyof typeof TypeUrl], list: Record<string, unknown>[] = []): VersionedResource[] =>
    list.map((o) => {
      const { __owner, ...rest } = o as Record<string, unknown> & { __owner?: string };
      return encodeResource(t, rest, { owner: __owner });
    });
  return new Snapshot({
    [TypeUrl.Cluster]: TypeSet.of(TypeUrl.Cluster, enc(TypeUrl.Cluster, spec.clusters), createdAt),
    [TypeUrl.Endpoint]: TypeSet.of(TypeUrl.Endpoint, enc(TypeUrl.Endpoint, spec.endpoints), createdAt),
    [TypeUrl.Listener]: TypeSet.of(TypeUrl.Listener, enc(TypeUrl.Listener, spec.listeners), createdAt),
    [TypeUrl.Route]: TypeSet.of(TypeUrl.Route, enc(TypeUrl.Route, spec.routes), createdAt),
    [TypeUrl.Secret]: TypeSet.of(TypeUrl.Secret, enc(TypeUrl.Secret, spec.secrets), createdAt),
  });
}

/** A small consistent mesh: clusters a, b; their endpoints; one API listener + route. */
export function smallMesh(overrides: Partial<MeshSpec> = {}): MeshSpec {
  return {
    clusters: [cluster('a'), cluster('b')],
    endpoints: [endpoints('a', [9001]), endpoints('b', [9002])],
    listeners: [apiListener('svc:80', 'r1')],
    routes: [routeConfig('r1', [{ cluster: 'a' }])],
    ...overrides,
  };
}

/** A MeshSpec as the YAML of a resources file (src/runtime/resources-file.ts). */
export function resourcesYaml(spec: MeshSpec): string {
  return stringify(spec);
}

/**
 * Writes a resources file the way editors do (temp file, then rename), so a
 * watching server never reads it half-written.
 */
export function writeResourcesFile(file: string, spec: MeshSpec): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, resourcesYaml(spec));
  renameSync(tmp, file);
}
