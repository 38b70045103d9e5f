// Original file: node_modules/@grpc/grpc-js-xds/deps/envoy-api/envoy/type/matcher/v3/string.proto

import type { RegexMatcher as _envoy_type_matcher_v3_RegexMatcher, RegexMatcher__Output as _envoy_type_matcher_v3_RegexMatcher__Output } from '../../../../envoy/type/matcher/v3/RegexMatcher.ts';
import type { TypedExtensionConfig as _xds_core_v3_TypedExtensionConfig, TypedExtensionConfig__Output as _xds_core_v3_TypedExtensionConfig__Output } from '../../../../xds/core/v3/TypedExtensionConfig.ts';

export interface StringMatcher {
  'exact'?: (string);
  'prefix'?: (string);
  'suffix'?: (string);
  'safe_regex'?: (_envoy_type_matcher_v3_RegexMatcher | null);
  'ignore_case'?: (boolean);
  'contains'?: (string);
  'custom'?: (_xds_core_v3_TypedExtensionConfig | null);
  'match_pattern'?: "exact"|"prefix"|"suffix"|"safe_regex"|"contains"|"custom";
}

export interface StringMatcher__Output {
  'exact'?: (string);
  'prefix'?: (string);
  'suffix'?: (string);
  'safe_regex'?: (_envoy_type_matcher_v3_RegexMatcher__Output | null);
  'ignore_case': (boolean);
  'contains'?: (string);
  'custom'?: (_xds_core_v3_TypedExtensionConfig__Output | null);
  'match_pattern'?: "exact"|"prefix"|"suffix"|"safe_regex"|"contains"|"custom";
}
