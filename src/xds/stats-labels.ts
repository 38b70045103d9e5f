/**
 * The labels and metric names of the sidecars' golden-metric stats, decided
 * once: translate/stats.ts makes Envoy write them (stats tags), the metrics
 * reader (admin/golden/) and Prometheus queries read them, docs/telemetry.md
 * lists them. A rename here is a change of contract for every dashboard.
 */

export const LABELS = {
  sourceWorkload: 'source_workload',
  sourceNamespace: 'source_namespace',
  /** A SPIFFE ID without `spiffe://` (Envoy turns `://` into `_` in stat names; the fixed source tag follows suit). */
  sourcePrincipal: 'source_principal',
  destinationService: 'destination_service',
  destinationNamespace: 'destination_namespace',
  destinationPort: 'destination_port',
  /** The destination's SPIFFE IDs without `spiffe://`, joined by `,`. */
  destinationPrincipal: 'destination_principal',
  route: 'route',
  /** Envoy's own: 1..5 for 1xx..5xx. */
  responseCodeClass: 'envoy_response_code_class',
} as const;

/** The labels that make an edge (source workload -> destination service port), with `route` for per-route edges. */
export const EDGE_LABELS = [
  LABELS.sourceNamespace, LABELS.sourceWorkload, LABELS.sourcePrincipal,
  LABELS.destinationNamespace, LABELS.destinationService, LABELS.destinationPort, LABELS.destinationPrincipal,
] as const;

/** Envoy's Prometheus names of the golden stats, per outbound cluster (`cluster`) and per route (`route`). */
export const GOLDEN_METRICS = {
  cluster: {
    responses: 'envoy_cluster_upstream_rq_xx',
    latencyBucket: 'envoy_cluster_upstream_rq_time_bucket',
    connections: 'envoy_cluster_upstream_cx_total',
    bytesReceived: 'envoy_cluster_upstream_cx_rx_bytes_total',
    bytesSent: 'envoy_cluster_upstream_cx_tx_bytes_total',
    /** gRPC calls whose grpc-status is not OK, from the grpc_stats filter of the outbound listener. */
    grpcFailure: 'envoy_cluster_grpc_failure',
  },
  route: {
    responses: 'envoy_vhost_route_upstream_rq_xx',
    latencyBucket: 'envoy_vhost_route_upstream_rq_time_bucket',
  },
} as const;

export function spiffeIdOfPrincipal(principal: string): string {
  return `spiffe://${principal}`;
}
