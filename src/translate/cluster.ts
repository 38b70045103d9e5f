/**
 * Cluster builders. Pure: (input, options) -> envoy.config.cluster.v3.Cluster
 * as a plain object in proto3 JSON form.
 */
import type { CircuitBreaker, EffectivePolicy, LoadBalancer, OutlierDetection, ServicePort } from '../model/types.ts';
import type { CircuitBreakers, CircuitBreakerThresholds, Cluster, OutlierDetection as EnvoyOutlierDetection } from '../xds/envoy-types.ts';
import { adsConfigSource, http2Only, singleAddress } from './fragments.ts';
import { healthCheckedCluster } from './health-check.ts';
import { upstreamTransport } from './permissive.ts';

/** A Duration in its proto3 JSON form: "0.25s", "3s". */
export function durationOf(ms: number): `${string}s` {
  return `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')}s`;
}

export function circuitBreakers(cb: CircuitBreaker | undefined, budget: { percent: number; minConcurrency: number } | undefined): CircuitBreakers | undefined {
  if (!cb && !budget) return undefined;
  const t: CircuitBreakerThresholds = { priority: 'DEFAULT' };
  if (cb?.maxConnections !== undefined) t.max_connections = cb.maxConnections;
  if (cb?.maxPendingRequests !== undefined) t.max_pending_requests = cb.maxPendingRequests;
  if (cb?.maxRequests !== undefined) t.max_requests = cb.maxRequests;
  if (cb?.maxRetries !== undefined) t.max_retries = cb.maxRetries;
  if (budget) t.retry_budget = { budget_percent: { value: budget.percent }, min_retry_concurrency: budget.minConcurrency };
  return { thresholds: [t] };
}

export function outlier(o: OutlierDetection | undefined, activeChecks = false): EnvoyOutlierDetection | undefined {
  if (!o) return undefined;
  const out: EnvoyOutlierDetection = {
    interval: durationOf(o.intervalMs),
    base_ejection_time: durationOf(o.baseEjectionTimeMs),
    max_ejection_percent: o.maxEjectionPercent,
  };
  // Real requests failing outweigh a health path that answers: an ejected host
  // stays out for its ejection time even if its active checks pass (Envoy's
  // default would bring it back at the first passing check).
  if (activeChecks) out.successful_active_health_check_uneject_host = false;
  if (o.consecutive5xx !== undefined) out.consecutive_5xx = o.consecutive5xx;
  if (o.consecutiveGatewayErrors !== undefined) {
    out.consecutive_gateway_failure = o.consecutiveGatewayErrors;
    out.enforcing_consecutive_gateway_failure = 100;
  }
  return out;
}

function lbFields(lb: LoadBalancer | undefined): Pick<Cluster, 'lb_policy' | 'least_request_lb_config' | 'ring_hash_lb_config'> {
  switch (lb?.policy) {
    case 'LeastRequest':
      return { lb_policy: 'LEAST_REQUEST', ...(lb.choiceCount ? { least_request_lb_config: { choice_count: lb.choiceCount } } : {}) };
    case 'RingHash':
      return { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: lb.minimumRingSize ?? 1024 } };
    default:
      return { lb_policy: 'ROUND_ROBIN' };
  }
}

export interface OutboundClusterOptions {
  name: string;
  port: ServicePort;
  policy?: EffectivePolicy;
  /** Present for Envoy sidecars: mTLS to the destination's identities. */
  tls?: { peerIdentities: readonly string[]; sni: string };
  /** With `tls`: endpoints without a sidecar (ServicePort.plaintext) are called in plaintext. */
  plaintext?: 'some' | 'all';
  connectTimeoutMs?: number;
  /** EDS resource name, when not the cluster's own */
  edsName?: string;
  /** The name its stats go by (names.ts outboundClusterStatName). */
  statName?: string;
}

export function outboundCluster(o: OutboundClusterOptions): Cluster {
  const policy = o.policy;
  const cluster: Cluster = {
    name: o.name,
    type: 'EDS',
    // PreferSameZone: the endpoints come from the caller zone's variant (names.ts zonalEndpointsName).
    eds_cluster_config: { eds_config: adsConfigSource(), service_name: o.edsName ?? o.name },
    connect_timeout: durationOf(o.connectTimeoutMs ?? policy?.timeouts?.connectMs ?? 1000),
    ...lbFields(policy?.loadBalancer),
    ...(o.statName ? { alt_stat_name: o.statName } : {}),
  };
  const cb = circuitBreakers(policy?.circuitBreaker, policy?.retries?.budget);
  if (cb) cluster.circuit_breakers = cb;
  const od = outlier(policy?.outlierDetection, policy?.healthCheck !== undefined);
  if (od) cluster.outlier_detection = od;
  if (policy?.healthCheck) Object.assign(cluster, healthCheckedCluster(policy.healthCheck, o.port, o.tls?.sni));
  if (o.port.protocol === 'grpc' || o.port.protocol === 'http2') cluster.typed_extension_protocol_options = http2Only();
  if (o.tls) Object.assign(cluster, upstreamTransport(o.tls, o.plaintext));
  return cluster;
}

/** The local application behind an inbound port. Static: it is always there. */
export function inboundCluster(options: { name: string; address: string; port: number; http2: boolean }): Cluster {
  const cluster: Cluster = {
    name: options.name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: singleAddress(options.name, options.address, options.port),
  };
  if (options.http2) cluster.typed_extension_protocol_options = http2Only();
  return cluster;
}

/** Transparent mode: connections to addresses outside the mesh go where they were going (`source`: the address they leave from). */
export function passthroughCluster(name: string, source?: string): Cluster {
  return { name, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '1s', ...(source ? { upstream_bind_config: { source_address: { address: source, port_value: 0 } } } : {}) };
}
