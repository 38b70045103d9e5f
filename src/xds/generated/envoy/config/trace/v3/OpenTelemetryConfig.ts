// Original file: node_modules/@grpc/grpc-js-xds/deps/envoy-api/envoy/config/trace/v3/opentelemetry.proto

import type { GrpcService as _envoy_config_core_v3_GrpcService, GrpcService__Output as _envoy_config_core_v3_GrpcService__Output } from '../../../../envoy/config/core/v3/GrpcService.ts';
import type { HttpService as _envoy_config_core_v3_HttpService, HttpService__Output as _envoy_config_core_v3_HttpService__Output } from '../../../../envoy/config/core/v3/HttpService.ts';
import type { TypedExtensionConfig as _envoy_config_core_v3_TypedExtensionConfig, TypedExtensionConfig__Output as _envoy_config_core_v3_TypedExtensionConfig__Output } from '../../../../envoy/config/core/v3/TypedExtensionConfig.ts';

export interface OpenTelemetryConfig {
  'grpc_service'?: (_envoy_config_core_v3_GrpcService | null);
  'service_name'?: (string);
  'http_service'?: (_envoy_config_core_v3_HttpService | null);
  'resource_detectors'?: (_envoy_config_core_v3_TypedExtensionConfig)[];
  'sampler'?: (_envoy_config_core_v3_TypedExtensionConfig | null);
}

export interface OpenTelemetryConfig__Output {
  'grpc_service': (_envoy_config_core_v3_GrpcService__Output | null);
  'service_name': (string);
  'http_service': (_envoy_config_core_v3_HttpService__Output | null);
  'resource_detectors': (_envoy_config_core_v3_TypedExtensionConfig__Output)[];
  'sampler': (_envoy_config_core_v3_TypedExtensionConfig__Output | null);
}
