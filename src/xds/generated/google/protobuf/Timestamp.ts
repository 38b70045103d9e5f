// Original file: null
// Trellis (scripts/gen-envoy-types.sh): the input type also takes the proto3 JSON form that src/xds/proto-json.ts converts.

import type { Long } from '@grpc/proto-loader';

/** RFC 3339, e.g. "2024-01-01T00:00:00Z". */
export type Timestamp = string | {
  'seconds'?: (number | string | Long);
  'nanos'?: (number);
}

export interface Timestamp__Output {
  'seconds': (string);
  'nanos': (number);
}
