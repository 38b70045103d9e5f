/**
 * TrafficPolicy `healthCheck` → the outbound cluster's active health checks.
 * Pure. Every caller's sidecar checks the endpoints itself, through the same
 * mTLS transport socket as its requests (so the destination's sidecar, and its
 * TrafficTarget RBAC, see the check as a request from the caller).
 *
 * How the three signals combine (Envoy's host health flags; a host is used
 * only when none is set) is documented in docs/intents.md "Active health
 * checks": EndpointSlice readiness (EDS health_status), the active check, and
 * outlier ejection.
 */
import type { HealthCheck, ServicePort } from '../model/types.ts';
import type { Cluster, HealthCheck as EnvoyHealthCheck } from '../xds/envoy-types.ts';
import { durationOf } from './cluster.ts';

export function healthChecks(hc: HealthCheck, port: ServicePort, host: string | undefined): EnvoyHealthCheck[] {
  const check: EnvoyHealthCheck = {
    timeout: durationOf(hc.timeoutMs),
    interval: durationOf(hc.intervalMs),
    // Envoy checks an idle cluster only every 60 s by default: a caller that has
    // not sent a request yet would route its first ones to a host found dead long ago.
    no_traffic_interval: durationOf(hc.intervalMs),
    unhealthy_threshold: hc.unhealthyThreshold,
    healthy_threshold: hc.healthyThreshold,
  };
  const c = hc.check;
  if ('http' in c) {
    check.http_health_check = {
      path: c.http.path,
      ...(c.http.host ?? host ? { host: c.http.host ?? host } : {}),
      // Envoy's ranges are half-open; the policy's are inclusive.
      expected_statuses: c.http.expectedStatuses.map((r) => ({ start: r.start, end: r.end + 1 })),
      ...(port.protocol === 'http2' || port.protocol === 'grpc' ? { codec_client_type: 'HTTP2' as const } : {}),
    };
  } else if ('grpc' in c) {
    check.grpc_health_check = { service_name: c.grpc.service, ...(host ? { authority: host } : {}) };
  } else {
    check.tcp_health_check = {};
  }
  return [check];
}

/**
 * The cluster fields that go with active checks. An endpoint the EndpointSlice
 * no longer lists is dropped at once, even while its checks still pass (Envoy
 * would otherwise keep it until they fail): the slice says the pod is gone.
 */
export function healthCheckedCluster(hc: HealthCheck, port: ServicePort, host: string | undefined): Pick<Cluster, 'health_checks' | 'ignore_health_on_host_removal'> {
  // gRPC checks need HTTP/2 (Envoy NACKs one on an HTTP/1 cluster); validation warned about such ports.
  if ('grpc' in hc.check && port.protocol !== 'grpc' && port.protocol !== 'http2') return {};
  return { health_checks: healthChecks(hc, port, host), ignore_health_on_host_removal: true };
}
