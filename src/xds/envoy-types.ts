/**
 * The Envoy message types Trellis writes, by short name: the input
 * ("permissive") types generated from the pinned protos into ./generated/
 * (scripts/gen-envoy-types.sh), so builders import them from one place and a
 * misspelt field or enum value fails to compile. Fields are snake_case, as
 * in Envoy's YAML; well-known types take their proto3 JSON form ("1s", bare
 * wrapper values), which src/xds/proto-json.ts converts before encoding.
 * Types only: nothing here exists at run time.
 */

// Resources (the five xDS types Trellis serves)
export type { Cluster } from './generated/envoy/config/cluster/v3/Cluster.ts';
export type { ClusterLoadAssignment } from './generated/envoy/config/endpoint/v3/ClusterLoadAssignment.ts';
export type { Listener } from './generated/envoy/config/listener/v3/Listener.ts';
export type { RouteConfiguration } from './generated/envoy/config/route/v3/RouteConfiguration.ts';
export type { Secret } from './generated/envoy/extensions/transport_sockets/tls/v3/Secret.ts';

// Clusters and endpoints
export type { CircuitBreakers, _envoy_config_cluster_v3_CircuitBreakers_Thresholds as CircuitBreakerThresholds } from './generated/envoy/config/cluster/v3/CircuitBreakers.ts';
export type { OutlierDetection } from './generated/envoy/config/cluster/v3/OutlierDetection.ts';
export type { HealthCheck } from './generated/envoy/config/core/v3/HealthCheck.ts';
export type { LocalityLbEndpoints } from './generated/envoy/config/endpoint/v3/LocalityLbEndpoints.ts';
export type { HealthStatus } from './generated/envoy/config/core/v3/HealthStatus.ts';

// Shared core messages
export type { Address } from './generated/envoy/config/core/v3/Address.ts';
export type { ConfigSource } from './generated/envoy/config/core/v3/ConfigSource.ts';
export type { ApiConfigSource } from './generated/envoy/config/core/v3/ApiConfigSource.ts';
export type { Node } from './generated/envoy/config/core/v3/Node.ts';
export type { TransportSocket } from './generated/envoy/config/core/v3/TransportSocket.ts';
export type { Http2ProtocolOptions } from './generated/envoy/config/core/v3/Http2ProtocolOptions.ts';
export type { GrpcService } from './generated/envoy/config/core/v3/GrpcService.ts';
export type { Any } from './generated/google/protobuf/Any.ts';
export type { Duration } from './generated/google/protobuf/Duration.ts';

// Listeners
export type { Filter } from './generated/envoy/config/listener/v3/Filter.ts';
export type { FilterChain } from './generated/envoy/config/listener/v3/FilterChain.ts';
export type { ListenerFilter } from './generated/envoy/config/listener/v3/ListenerFilter.ts';
export type { ListenerFilterChainMatchPredicate } from './generated/envoy/config/listener/v3/ListenerFilterChainMatchPredicate.ts';
export type { HttpFilter } from './generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.ts';

// Routes
export type { VirtualHost } from './generated/envoy/config/route/v3/VirtualHost.ts';
export type { Route } from './generated/envoy/config/route/v3/Route.ts';
export type { RouteMatch } from './generated/envoy/config/route/v3/RouteMatch.ts';
export type { RouteAction, _envoy_config_route_v3_RouteAction_HashPolicy as HashPolicy } from './generated/envoy/config/route/v3/RouteAction.ts';
export type { RetryPolicy } from './generated/envoy/config/route/v3/RetryPolicy.ts';
export type { HedgePolicy } from './generated/envoy/config/route/v3/HedgePolicy.ts';
export type { HeaderMatcher } from './generated/envoy/config/route/v3/HeaderMatcher.ts';
export type { RegexMatcher } from './generated/envoy/type/matcher/v3/RegexMatcher.ts';

// RBAC
export type { Policy as RbacPolicy } from './generated/envoy/config/rbac/v3/Policy.ts';
export type { Permission as RbacPermission } from './generated/envoy/config/rbac/v3/Permission.ts';
export type { Principal as RbacPrincipal } from './generated/envoy/config/rbac/v3/Principal.ts';

// TLS
export type { SdsSecretConfig } from './generated/envoy/extensions/transport_sockets/tls/v3/SdsSecretConfig.ts';
export type { CertificateValidationContext } from './generated/envoy/extensions/transport_sockets/tls/v3/CertificateValidationContext.ts';
export type { DataSource } from './generated/envoy/config/core/v3/DataSource.ts';

// Extensions (typed_config), by the names src/xds/extensions.ts gives them
export type { HttpConnectionManager } from './generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.ts';
export type { Router } from './generated/envoy/extensions/filters/http/router/v3/Router.ts';
export type { RBAC as HttpRbac } from './generated/envoy/extensions/filters/http/rbac/v3/RBAC.ts';
export type { JwtAuthentication } from './generated/envoy/extensions/filters/http/jwt_authn/v3/JwtAuthentication.ts';
export type { JwtProvider } from './generated/envoy/extensions/filters/http/jwt_authn/v3/JwtProvider.ts';
export type { RBAC as NetworkRbac } from './generated/envoy/extensions/filters/network/rbac/v3/RBAC.ts';
export type { TcpProxy } from './generated/envoy/extensions/filters/network/tcp_proxy/v3/TcpProxy.ts';
export type { OriginalDst } from './generated/envoy/extensions/filters/listener/original_dst/v3/OriginalDst.ts';
export type { HttpInspector } from './generated/envoy/extensions/filters/listener/http_inspector/v3/HttpInspector.ts';
export type { TlsInspector } from './generated/envoy/extensions/filters/listener/tls_inspector/v3/TlsInspector.ts';
export type { UpstreamTlsContext } from './generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.ts';
export type { DownstreamTlsContext } from './generated/envoy/extensions/transport_sockets/tls/v3/DownstreamTlsContext.ts';
export type { HttpProtocolOptions } from './generated/envoy/extensions/upstreams/http/v3/HttpProtocolOptions.ts';
export type { PreviousHostsPredicate } from './generated/envoy/extensions/retry/host/previous_hosts/v3/PreviousHostsPredicate.ts';
export type { HTTPFault } from './generated/envoy/extensions/filters/http/fault/v3/HTTPFault.ts';
export type { LocalRateLimit as HttpLocalRateLimit } from './generated/envoy/extensions/filters/http/local_ratelimit/v3/LocalRateLimit.ts';
export type { RateLimit as HttpRateLimit } from './generated/envoy/extensions/filters/http/ratelimit/v3/RateLimit.ts';
export type { ConnectionLimit } from './generated/envoy/extensions/filters/network/connection_limit/v3/ConnectionLimit.ts';

// Rate limits on routes (what the ratelimit filter sends to the rate limit service)
export type { RateLimit as RouteRateLimit } from './generated/envoy/config/route/v3/RateLimit.ts';
export type { TokenBucket } from './generated/envoy/type/v3/TokenBucket.ts';
export type { FileAccessLog } from './generated/envoy/extensions/access_loggers/file/v3/FileAccessLog.ts';
export type { StdoutAccessLog } from './generated/envoy/extensions/access_loggers/stream/v3/StdoutAccessLog.ts';
export type { StderrAccessLog } from './generated/envoy/extensions/access_loggers/stream/v3/StderrAccessLog.ts';
export type { OpenTelemetryConfig } from './generated/envoy/config/trace/v3/OpenTelemetryConfig.ts';
export type { FilterConfig as GrpcStats } from './generated/envoy/extensions/filters/http/grpc_stats/v3/FilterConfig.ts';

// Observability: access logs, tracing, the bootstrap's stats config
export type { AccessLog } from './generated/envoy/config/accesslog/v3/AccessLog.ts';
export type { _envoy_extensions_filters_network_http_connection_manager_v3_HttpConnectionManager_Tracing as HcmTracing } from './generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.ts';
export type { StatsConfig } from './generated/envoy/config/metrics/v3/StatsConfig.ts';
export type { TagSpecifier } from './generated/envoy/config/metrics/v3/TagSpecifier.ts';
export type { AccessLogFilter } from './generated/envoy/config/accesslog/v3/AccessLogFilter.ts';
export type { RawBuffer } from './generated/envoy/extensions/transport_sockets/raw_buffer/v3/RawBuffer.ts';
