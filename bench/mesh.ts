/**
 * The benchmark's mesh: N services, each an EDS cluster with 3–10 endpoints,
 * one API listener using RDS and one RouteConfiguration with a virtual host
 * per service. Pure builders (no I/O, no clock, no randomness: endpoint counts
 * and addresses come from the service index) so every run serves the same
 * bytes and the load generator can derive the names it subscribes to.
 */

export const ROUTE_NAME = 'bench-routes';
export const LISTENER_NAME = 'bench-listener';

export function serviceName(i: number): string {
  return `svc-${String(i).padStart(4, '0')}.bench`;
}

export function serviceNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => serviceName(i));
}

/** 3..10, spread evenly but not in index order. */
export function endpointCount(i: number): number {
  return 3 + ((i * 7919) % 8);
}

export function cluster(i: number): Record<string, unknown> {
  return {
    name: serviceName(i),
    type: 'EDS',
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    circuit_breakers: { thresholds: [{ max_connections: 1024, max_pending_requests: 1024, max_requests: 1024 }] },
  };
}

/** `generation` moves endpoint ports, so every generation is new content. */
export function endpoints(i: number, generation = 0): Record<string, unknown> {
  const n = endpointCount(i);
  const zones = ['z1', 'z2'];
  return {
    cluster_name: serviceName(i),
    endpoints: zones.map((zone, z) => ({
      locality: { region: 'bench', zone },
      load_balancing_weight: 1,
      lb_endpoints: Array.from({ length: n }, (_, k) => k)
        .filter((k) => k % zones.length === z)
        .map((k) => ({
          endpoint: {
            address: {
              socket_address: {
                address: `10.${(i >> 8) & 255}.${i & 255}.${k + 1}`,
                port_value: 8080 + generation,
              },
            },
          },
          health_status: 'HEALTHY',
          load_balancing_weight: 1,
        })),
    })),
  };
}

export function listener(): Record<string, unknown> {
  return {
    name: LISTENER_NAME,
    api_listener: {
      api_listener: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'bench',
        rds: { route_config_name: ROUTE_NAME, config_source: { ads: {}, resource_api_version: 'V3' } },
        http_filters: [{ name: 'router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      },
    },
  };
}

export function routeConfiguration(count: number): Record<string, unknown> {
  return {
    name: ROUTE_NAME,
    virtual_hosts: Array.from({ length: count }, (_, i) => {
      const host = serviceName(i);
      const short = host.slice(0, host.indexOf('.'));
      return {
        name: host,
        domains: [short, `${short}:80`, host, `${host}.svc.cluster.local`],
        routes: [{ match: { prefix: '/' }, route: { cluster: host, timeout: '15s' } }],
      };
    }),
  };
}
