// Original file: null
// Trellis (scripts/gen-envoy-types.sh): the input type also takes the proto3 JSON form that src/xds/proto-json.ts converts.

import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from '../../google/protobuf/Value.ts';

/** Plain JSON, e.g. `{ "overload.global_downstream_max_connections": 50000 }`. */
export type Struct = { [key: string]: unknown } | {
  'fields'?: ({[key: string]: _google_protobuf_Value});
}

export interface Struct__Output {
  'fields': ({[key: string]: _google_protobuf_Value__Output});
}
