// Original file: null
// Trellis (scripts/gen-envoy-types.sh): the input type also takes the proto3 JSON form that src/xds/proto-json.ts converts.

import type { Long } from '@grpc/proto-loader';

/** "1.5s": seconds with an "s" suffix. */
export type Duration = `${string}s` | {
  'seconds'?: (number | string | Long);
  'nanos'?: (number);
}

export interface Duration__Output {
  'seconds': (string);
  'nanos': (number);
}
