// Original file: null
// Trellis (scripts/gen-envoy-types.sh): the input type also takes the proto3 JSON form that src/xds/proto-json.ts converts.

import type { Long } from '@grpc/proto-loader';

export type UInt64Value = number | string | {
  'value'?: (number | string | Long);
}

export interface UInt64Value__Output {
  'value': (string);
}
