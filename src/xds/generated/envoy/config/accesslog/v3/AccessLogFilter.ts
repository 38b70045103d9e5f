// Original file: node_modules/@grpc/grpc-js-xds/deps/envoy-api/envoy/config/accesslog/v3/accesslog.proto

import type { StatusCodeFilter as _envoy_config_accesslog_v3_StatusCodeFilter, StatusCodeFilter__Output as _envoy_config_accesslog_v3_StatusCodeFilter__Output } from '../../../../envoy/config/accesslog/v3/StatusCodeFilter.ts';
import type { DurationFilter as _envoy_config_accesslog_v3_DurationFilter, DurationFilter__Output as _envoy_config_accesslog_v3_DurationFilter__Output } from '../../../../envoy/config/accesslog/v3/DurationFilter.ts';
import type { NotHealthCheckFilter as _envoy_config_accesslog_v3_NotHealthCheckFilter, NotHealthCheckFilter__Output as _envoy_config_accesslog_v3_NotHealthCheckFilter__Output } from '../../../../envoy/config/accesslog/v3/NotHealthCheckFilter.ts';
import type { TraceableFilter as _envoy_config_accesslog_v3_TraceableFilter, TraceableFilter__Output as _envoy_config_accesslog_v3_TraceableFilter__Output } from '../../../../envoy/config/accesslog/v3/TraceableFilter.ts';
import type { RuntimeFilter as _envoy_config_accesslog_v3_RuntimeFilter, RuntimeFilter__Output as _envoy_config_accesslog_v3_RuntimeFilter__Output } from '../../../../envoy/config/accesslog/v3/RuntimeFilter.ts';
import type { AndFilter as _envoy_config_accesslog_v3_AndFilter, AndFilter__Output as _envoy_config_accesslog_v3_AndFilter__Output } from '../../../../envoy/config/accesslog/v3/AndFilter.ts';
import type { OrFilter as _envoy_config_accesslog_v3_OrFilter, OrFilter__Output as _envoy_config_accesslog_v3_OrFilter__Output } from '../../../../envoy/config/accesslog/v3/OrFilter.ts';
import type { HeaderFilter as _envoy_config_accesslog_v3_HeaderFilter, HeaderFilter__Output as _envoy_config_accesslog_v3_HeaderFilter__Output } from '../../../../envoy/config/accesslog/v3/HeaderFilter.ts';
import type { ResponseFlagFilter as _envoy_config_accesslog_v3_ResponseFlagFilter, ResponseFlagFilter__Output as _envoy_config_accesslog_v3_ResponseFlagFilter__Output } from '../../../../envoy/config/accesslog/v3/ResponseFlagFilter.ts';
import type { GrpcStatusFilter as _envoy_config_accesslog_v3_GrpcStatusFilter, GrpcStatusFilter__Output as _envoy_config_accesslog_v3_GrpcStatusFilter__Output } from '../../../../envoy/config/accesslog/v3/GrpcStatusFilter.ts';
import type { ExtensionFilter as _envoy_config_accesslog_v3_ExtensionFilter, ExtensionFilter__Output as _envoy_config_accesslog_v3_ExtensionFilter__Output } from '../../../../envoy/config/accesslog/v3/ExtensionFilter.ts';
import type { MetadataFilter as _envoy_config_accesslog_v3_MetadataFilter, MetadataFilter__Output as _envoy_config_accesslog_v3_MetadataFilter__Output } from '../../../../envoy/config/accesslog/v3/MetadataFilter.ts';
import type { LogTypeFilter as _envoy_config_accesslog_v3_LogTypeFilter, LogTypeFilter__Output as _envoy_config_accesslog_v3_LogTypeFilter__Output } from '../../../../envoy/config/accesslog/v3/LogTypeFilter.ts';

export interface AccessLogFilter {
  'status_code_filter'?: (_envoy_config_accesslog_v3_StatusCodeFilter | null);
  'duration_filter'?: (_envoy_config_accesslog_v3_DurationFilter | null);
  'not_health_check_filter'?: (_envoy_config_accesslog_v3_NotHealthCheckFilter | null);
  'traceable_filter'?: (_envoy_config_accesslog_v3_TraceableFilter | null);
  'runtime_filter'?: (_envoy_config_accesslog_v3_RuntimeFilter | null);
  'and_filter'?: (_envoy_config_accesslog_v3_AndFilter | null);
  'or_filter'?: (_envoy_config_accesslog_v3_OrFilter | null);
  'header_filter'?: (_envoy_config_accesslog_v3_HeaderFilter | null);
  'response_flag_filter'?: (_envoy_config_accesslog_v3_ResponseFlagFilter | null);
  'grpc_status_filter'?: (_envoy_config_accesslog_v3_GrpcStatusFilter | null);
  'extension_filter'?: (_envoy_config_accesslog_v3_ExtensionFilter | null);
  'metadata_filter'?: (_envoy_config_accesslog_v3_MetadataFilter | null);
  'log_type_filter'?: (_envoy_config_accesslog_v3_LogTypeFilter | null);
  'filter_specifier'?: "status_code_filter"|"duration_filter"|"not_health_check_filter"|"traceable_filter"|"runtime_filter"|"and_filter"|"or_filter"|"header_filter"|"response_flag_filter"|"grpc_status_filter"|"extension_filter"|"metadata_filter"|"log_type_filter";
}

export interface AccessLogFilter__Output {
  'status_code_filter'?: (_envoy_config_accesslog_v3_StatusCodeFilter__Output | null);
  'duration_filter'?: (_envoy_config_accesslog_v3_DurationFilter__Output | null);
  'not_health_check_filter'?: (_envoy_config_accesslog_v3_NotHealthCheckFilter__Output | null);
  'traceable_filter'?: (_envoy_config_accesslog_v3_TraceableFilter__Output | null);
  'runtime_filter'?: (_envoy_config_accesslog_v3_RuntimeFilter__Output | null);
  'and_filter'?: (_envoy_config_accesslog_v3_AndFilter__Output | null);
  'or_filter'?: (_envoy_config_accesslog_v3_OrFilter__Output | null);
  'header_filter'?: (_envoy_config_accesslog_v3_HeaderFilter__Output | null);
  'response_flag_filter'?: (_envoy_config_accesslog_v3_ResponseFlagFilter__Output | null);
  'grpc_status_filter'?: (_envoy_config_accesslog_v3_GrpcStatusFilter__Output | null);
  'extension_filter'?: (_envoy_config_accesslog_v3_ExtensionFilter__Output | null);
  'metadata_filter'?: (_envoy_config_accesslog_v3_MetadataFilter__Output | null);
  'log_type_filter'?: (_envoy_config_accesslog_v3_LogTypeFilter__Output | null);
  'filter_specifier'?: "status_code_filter"|"duration_filter"|"not_health_check_filter"|"traceable_filter"|"runtime_filter"|"and_filter"|"or_filter"|"header_filter"|"response_flag_filter"|"grpc_status_filter"|"extension_filter"|"metadata_filter"|"log_type_filter";
}
