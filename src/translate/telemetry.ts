/**
 * What a sidecar's HTTP connection managers add for telemetry (docs/telemetry.md):
 * an access log (MeshConfig spec.accessLog, per mesh, namespace or workload)
 * and OpenTelemetry tracing (MeshConfig spec.tracing), and the collector's
 * cluster. Pure.
 */
import type { AccessLogPolicy, AccessLogSettings, MeshSettings, TracingSettings, Workload } from '../model/types.ts';
import type { AccessLog, Cluster, HttpConnectionManager } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { http2Only, singleAddress } from './fragments.ts';
import { TRACING_CLUSTER } from './names.ts';

/** The name a workload goes by in metrics and traces: its `app` label, else its pod name. */
export function workloadLabel(w: Pick<Workload, 'name' | 'labels'>): string {
  return w.labels.app ?? w.name;
}

/** The access log setting for one workload: a selector's override, else its namespace's, else the mesh's. */
export function accessLogOf(policy: AccessLogPolicy | undefined, w: Workload | undefined): AccessLogSettings {
  if (!policy) return { format: 'off' };
  if (!w) return policy.mesh;
  const inNamespace = policy.overrides.filter((o) => o.namespace === w.namespace);
  const bySelector = inNamespace.find((o) => o.selector && Object.entries(o.selector).every(([k, v]) => w.labels[k] === v));
  return (bySelector ?? inNamespace.find((o) => !o.selector))?.settings ?? policy.mesh;
}

export type Direction = 'outbound' | 'inbound';

/**
 * The fields of an access log line (docs/telemetry.md lists them; keep the
 * two in step). The sidecar's own identity is written in, the peer's comes
 * from the TLS handshake: on the inbound side the caller's certificate, on
 * the outbound side the destination's.
 */
export function accessLogFields(direction: Direction, self: string | undefined): Record<string, string> {
  const selfId = self ?? '-';
  return {
    start_time: '%START_TIME%',
    direction,
    source_identity: direction === 'outbound' ? selfId : '%DOWNSTREAM_PEER_URI_SAN%',
    destination_identity: direction === 'outbound' ? '%UPSTREAM_PEER_URI_SAN%' : selfId,
    source_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
    method: '%REQ(:METHOD)%',
    authority: '%REQ(:AUTHORITY)%',
    path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
    protocol: '%PROTOCOL%',
    route: '%ROUTE_NAME%',
    upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
    upstream_host: '%UPSTREAM_HOST%',
    response_code: '%RESPONSE_CODE%',
    response_flags: '%RESPONSE_FLAGS%',
    response_code_details: '%RESPONSE_CODE_DETAILS%',
    grpc_status: '%GRPC_STATUS_NUMBER%',
    duration_ms: '%DURATION%',
    request_duration_ms: '%REQUEST_DURATION%',
    response_duration_ms: '%RESPONSE_DURATION%',
    upstream_service_time_ms: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
    bytes_received: '%BYTES_RECEIVED%',
    bytes_sent: '%BYTES_SENT%',
    request_id: '%REQ(X-REQUEST-ID)%',
    trace_id: '%TRACE_ID%',
  };
}

function accessLog(settings: AccessLogSettings, direction: Direction, self: string | undefined): AccessLog[] {
  if (settings.format === 'off') return [];
  const log_format = { json_format: accessLogFields(direction, self) };
  if (settings.path === '/dev/stdout') return [extension('StdoutAccessLog', { log_format })];
  if (settings.path === '/dev/stderr') return [extension('StderrAccessLog', { log_format })];
  return [extension('FileAccessLog', { path: settings.path, log_format })];
}

/** HCM fields for traces: OTLP/gRPC to the collector's cluster, named for the workload. */
function tracing(t: TracingSettings, serviceName: string): HttpConnectionManager['tracing'] {
  return {
    random_sampling: { value: t.samplingPercent },
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: extension('OpenTelemetry', { grpc_service: { envoy_grpc: { cluster_name: TRACING_CLUSTER }, timeout: '1s' }, service_name: serviceName }).typed_config,
    },
  };
}

/** What telemetry adds to one direction's HTTP connection managers of one sidecar. */
export type HcmTelemetry = Pick<HttpConnectionManager, 'access_log' | 'tracing'>;

/** Both directions' additions for a sidecar: empty objects when the mesh has neither logs nor tracing. */
export function hcmTelemetry(mesh: MeshSettings, w: Workload | undefined): Record<Direction, HcmTelemetry> {
  const log = accessLogOf(mesh.accessLog, w);
  const of = (direction: Direction): HcmTelemetry => {
    const out: HcmTelemetry = {};
    const logs = accessLog(log, direction, w?.identity);
    if (logs.length > 0) out.access_log = logs;
    if (mesh.tracing) out.tracing = tracing(mesh.tracing, w ? `${workloadLabel(w)}.${w.namespace}` : 'unknown');
    return out;
  };
  return { outbound: of('outbound'), inbound: of('inbound') };
}

/** The collector, over HTTP/2 (OTLP/gRPC); by DNS unless it is an IP address. */
export function tracingCluster(t: TracingSettings): Cluster {
  return {
    name: TRACING_CLUSTER,
    type: /^[\d.]+$|:/.test(t.collector.host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    typed_extension_protocol_options: http2Only(),
    load_assignment: singleAddress(TRACING_CLUSTER, t.collector.host, t.collector.port),
  };
}
