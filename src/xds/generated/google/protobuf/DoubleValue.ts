// Original file: null
// Trellis (scripts/gen-envoy-types.sh): the input type also takes the proto3 JSON form that src/xds/proto-json.ts converts.


export type DoubleValue = number | {
  'value'?: (number | string);
}

export interface DoubleValue__Output {
  'value': (number);
}
