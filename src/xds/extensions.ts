/**
 * The Envoy extensions Trellis configures, decided once: each one's
 * well-known name (what a filter, transport socket or predicate is called in
 * config), the type URL of its typed_config, and the generated message type
 * that URL names. A new extension is an entry here, its proto in
 * protos/envoy-manifest.json, and `bash scripts/gen-envoy-types.sh`.
 *
 * `typedConfig` writes an Any the way the encoder reads it (proto3 JSON:
 * `{'@type': url, ...fields}`, expanded by src/xds/proto-json.ts), with the
 * fields checked at compile time against the message the URL names.
 */
import type {
  Any,
  ConnectionLimit,
  DownstreamTlsContext,
  HTTPFault,
  HttpLocalRateLimit,
  HttpRateLimit,
  FileAccessLog,
  GrpcStats,
  RawBuffer,
  HttpConnectionManager,
  HttpInspector,
  HttpProtocolOptions,
  HttpRbac,
  JwtAuthentication,
  NetworkRbac,
  OpenTelemetryConfig,
  OriginalDst,
  PreviousHostsPredicate,
  Router,
  StderrAccessLog,
  StdoutAccessLog,
  TcpProxy,
  TlsInspector,
  UpstreamTlsContext,
} from './envoy-types.ts';

/** What each extension's typed_config holds. */
export interface ExtensionMessages {
  HttpConnectionManager: HttpConnectionManager;
  Router: Router;
  HttpRbac: HttpRbac;
  JwtAuthn: JwtAuthentication;
  NetworkRbac: NetworkRbac;
  TcpProxy: TcpProxy;
  OriginalDst: OriginalDst;
  HttpInspector: HttpInspector;
  TlsInspector: TlsInspector;
  UpstreamTls: UpstreamTlsContext;
  DownstreamTls: DownstreamTlsContext;
  HttpProtocolOptions: HttpProtocolOptions;
  PreviousHosts: PreviousHostsPredicate;
  Fault: HTTPFault;
  LocalRateLimit: HttpLocalRateLimit;
  RateLimit: HttpRateLimit;
  ConnectionLimit: ConnectionLimit;
  FileAccessLog: FileAccessLog;
  StdoutAccessLog: StdoutAccessLog;
  StderrAccessLog: StderrAccessLog;
  OpenTelemetry: OpenTelemetryConfig;
  GrpcStats: GrpcStats;
  RawBuffer: RawBuffer;
}

export type ExtensionKey = keyof ExtensionMessages;

export const Extension = {
  HttpConnectionManager: {
    name: 'envoy.filters.network.http_connection_manager',
    typeUrl: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  },
  Router: { name: 'envoy.filters.http.router', typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
  HttpRbac: { name: 'envoy.filters.http.rbac', typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC' },
  JwtAuthn: { name: 'envoy.filters.http.jwt_authn', typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication' },
  NetworkRbac: { name: 'envoy.filters.network.rbac', typeUrl: 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC' },
  TcpProxy: { name: 'envoy.filters.network.tcp_proxy', typeUrl: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy' },
  OriginalDst: { name: 'envoy.filters.listener.original_dst', typeUrl: 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' },
  HttpInspector: { name: 'envoy.filters.listener.http_inspector', typeUrl: 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector' },
  TlsInspector: { name: 'envoy.filters.listener.tls_inspector', typeUrl: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' },
  UpstreamTls: { name: 'envoy.transport_sockets.tls', typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext' },
  DownstreamTls: { name: 'envoy.transport_sockets.tls', typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext' },
  // Keyed by its message name in a cluster's typed_extension_protocol_options.
  HttpProtocolOptions: {
    name: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    typeUrl: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  },
  PreviousHosts: {
    name: 'envoy.retry_host_predicates.previous_hosts',
    typeUrl: 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
  },
  Fault: { name: 'envoy.filters.http.fault', typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' },
  LocalRateLimit: { name: 'envoy.filters.http.local_ratelimit', typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit' },
  RateLimit: { name: 'envoy.filters.http.ratelimit', typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit' },
  ConnectionLimit: { name: 'envoy.filters.network.connection_limit', typeUrl: 'type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit' },
  FileAccessLog: { name: 'envoy.access_loggers.file', typeUrl: 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog' },
  StdoutAccessLog: { name: 'envoy.access_loggers.stdout', typeUrl: 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog' },
  StderrAccessLog: { name: 'envoy.access_loggers.stderr', typeUrl: 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog' },
  OpenTelemetry: { name: 'envoy.tracers.opentelemetry', typeUrl: 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig' },
  GrpcStats: { name: 'envoy.filters.http.grpc_stats', typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig' },
  RawBuffer: { name: 'envoy.transport_sockets.raw_buffer', typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' },
} as const satisfies { [K in ExtensionKey]: { name: string; typeUrl: `type.googleapis.com/${string}` } };

/** An Any holding `message`, in the form the encoder expands: `{'@type': url, ...fields}`. */
export function typedConfig<K extends ExtensionKey>(key: K, message: ExtensionMessages[K]): Any {
  return { '@type': Extension[key].typeUrl, ...message };
}

/** `{name, typed_config}`: a filter, listener filter, transport socket or retry predicate. */
export function extension<K extends ExtensionKey>(key: K, message: ExtensionMessages[K]): { name: string; typed_config: Any } {
  return { name: Extension[key].name, typed_config: typedConfig(key, message) };
}
