// Original file: node_modules/@grpc/grpc-js-xds/deps/envoy-api/envoy/config/cluster/v3/filter.proto

import type { Any as _google_protobuf_Any, Any__Output as _google_protobuf_Any__Output } from '../../../../google/protobuf/Any.ts';
import type { ExtensionConfigSource as _envoy_config_core_v3_ExtensionConfigSource, ExtensionConfigSource__Output as _envoy_config_core_v3_ExtensionConfigSource__Output } from '../../../../envoy/config/core/v3/ExtensionConfigSource.ts';

export interface Filter {
  'name'?: (string);
  'typed_config'?: (_google_protobuf_Any | null);
  'config_discovery'?: (_envoy_config_core_v3_ExtensionConfigSource | null);
}

export interface Filter__Output {
  'name': (string);
  'typed_config': (_google_protobuf_Any__Output | null);
  'config_discovery': (_envoy_config_core_v3_ExtensionConfigSource__Output | null);
}
