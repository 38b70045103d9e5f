// Original file: null
// Trellis (scripts/gen-envoy-types.sh): the input type also takes the proto3 JSON form that src/xds/proto-json.ts converts.


export type FloatValue = number | {
  'value'?: (number | string);
}

export interface FloatValue__Output {
  'value': (number);
}
