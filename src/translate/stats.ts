/**
 * The sidecar's golden-metric stats (docs/telemetry.md): the bootstrap's
 * stats_config, whose tags turn Envoy's stat names into Prometheus labels
 * naming source and destination, and the listener that serves them to
 * Prometheus on STATS_PORT. Pure.
 *
 * Where each label comes from:
 *   - source_workload, source_namespace, source_principal: fixed tags of the
 *     sidecar (the bootstrap knows whose it is). Every metric the stats
 *     listener serves is an outbound one, so the sidecar is their source.
 *   - destination_service, destination_namespace, destination_port,
 *     destination_principal: taken apart from the outbound cluster's stat name
 *     (names.ts outboundClusterStatName) and, for per-route stats, from the
 *     virtual host's name (names.ts virtualHostName, `svc.ns:port`).
 *   - route: the route's stat prefix (names.ts routeStatPrefix).
 * Tag regexes are std::regex (ECMAScript) in Envoy, matched on the whole
 * stat name; the first group is cut from the name, the second is the value.
 * So `cluster.outbound|8080|ratings|demo|td/ns/demo/sa/ratings|.upstream_rq_total`
 * becomes `envoy_cluster_upstream_rq_total{destination_service="ratings",...}`.
 */
import type { Cluster, Listener, StatsConfig, TagSpecifier } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { LABELS } from '../xds/stats-labels.ts';
import { singleAddress, socketAddress } from './fragments.ts';
import { ADMIN_CLUSTER, principalOf, STATS_LISTENER } from './names.ts';
import { READY_PATH, STATS_PATH } from './sidecar.ts';

/** Who the sidecar is: the source of every metric it serves. */
export interface StatsSource {
  namespace: string;
  /** The workload's name: its `app` label, else the pod name without replica suffixes. */
  workload: string;
  /** Its SPIFFE ID, when known at bootstrap. */
  identity?: string;
}

const CLUSTER = String.raw`^cluster\.outbound\|`;
// vhost.<svc>.<ns>:<port>.route.<route>|.<stat>
const VHOST = String.raw`^vhost\.`;

/** Regexes of the extracted tags: exported for the unit test that runs them on names.ts's names. */
export const TAG_REGEXES: ReadonlyArray<readonly [string, string]> = [
  [LABELS.destinationPort, String.raw`^cluster\.(outbound\|(\d+)\|)`],
  [LABELS.destinationService, String.raw`${CLUSTER}\d+\|(([^|]+)\|)`],
  [LABELS.destinationNamespace, String.raw`${CLUSTER}\d+\|[^|]+\|(([^|]+)\|)`],
  [LABELS.destinationPrincipal, String.raw`${CLUSTER}\d+\|[^|]+\|[^|]+\|(([^|]*)\|\.)`],
  [LABELS.destinationService, String.raw`${VHOST}(([^.:]+)\.)[^.:]+:\d+\.route\.`],
  [LABELS.destinationNamespace, String.raw`${VHOST}[^.:]+\.(([^.:]+):)\d+\.route\.`],
  [LABELS.destinationPort, String.raw`${VHOST}[^.:]+\.[^.:]+:((\d+)\.)route\.`],
  [LABELS.route, String.raw`${VHOST}[^.:]+\.[^.:]+:\d+\.route\.(([^|]*)\|\.)`],
  // Envoy's own cluster_name tag, but not for outbound clusters (their name is taken apart above).
  ['envoy.cluster_name', String.raw`^cluster\.((?!outbound\|)(.+?)\.)`],
];

/** Envoy's default tags kept (the others are off: their regexes would cut into the names above). */
const DEFAULT_TAGS = ['envoy.response_code', 'envoy.response_code_class', 'envoy.http_conn_manager_prefix', 'envoy.listener_address', 'envoy.tcp_prefix'];

export function statsConfig(source: StatsSource): StatsConfig {
  const fixed: TagSpecifier[] = [
    { tag_name: LABELS.sourceWorkload, fixed_value: source.workload },
    { tag_name: LABELS.sourceNamespace, fixed_value: source.namespace },
    ...(source.identity ? [{ tag_name: LABELS.sourcePrincipal, fixed_value: principalOf(source.identity) }] : []),
  ];
  return {
    use_all_default_tags: false,
    stats_tags: [...fixed, ...TAG_REGEXES.map(([tag_name, regex]) => ({ tag_name, regex })), ...DEFAULT_TAGS.map((tag_name) => ({ tag_name }))],
  };
}

/**
 * What the stats listener serves of the admin's stats (RE2, on Envoy's stat
 * names): the golden metrics of outbound clusters and routes, nothing else,
 * so a scrape stays small however many clusters a sidecar holds.
 */
export const GOLDEN_STATS_FILTER = String.raw`^(cluster\.outbound\|.*\||vhost\..*\.route\..*\|)\.(upstream_rq_(total|completed|time|[1-5]xx)|upstream_cx_(total|active|rx_bytes_total|tx_bytes_total)|grpc\.(success|failure|total))$`;

/**
 * The Prometheus listener: GET STATS_PATH on `address:port`, answered by the
 * admin's `/stats/prometheus?usedonly&filter=...` through ADMIN_CLUSTER.
 * Nothing else of the admin page is reachable through it.
 */
export function statsListener(o: { address: string; port: number }): Listener {
  const rewrite = `${STATS_PATH}?usedonly&filter=${encodeURIComponent(GOLDEN_STATS_FILTER)}`;
  return {
    name: STATS_LISTENER,
    address: socketAddress(o.address, o.port),
    filter_chains: [{
      filters: [extension('HttpConnectionManager', {
        stat_prefix: STATS_LISTENER,
        codec_type: 'AUTO',
        route_config: {
          name: STATS_LISTENER,
          virtual_hosts: [{
            name: STATS_LISTENER,
            domains: ['*'],
            routes: [
              { match: { path: STATS_PATH, headers: [{ name: ':method', string_match: { exact: 'GET' } }] }, route: { cluster: ADMIN_CLUSTER, prefix_rewrite: rewrite, timeout: '5s' } },
              { match: { path: READY_PATH, headers: [{ name: ':method', string_match: { exact: 'GET' } }] }, route: { cluster: ADMIN_CLUSTER, timeout: '2s' } },
            ],
          }],
        },
        http_filters: [extension('Router', {})],
      })],
    }],
  };
}

/** The sidecar's own admin page, as a cluster the stats listener can route to. */
export function adminCluster(admin: { address: string; port: number }): Cluster {
  return { name: ADMIN_CLUSTER, type: 'STATIC', connect_timeout: '1s', load_assignment: singleAddress(ADMIN_CLUSTER, admin.address, admin.port) };
}
