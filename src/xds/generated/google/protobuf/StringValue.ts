// Original file: null
// Trellis (scripts/gen-envoy-types.sh): the input type also takes the proto3 JSON form that src/xds/proto-json.ts converts.


export type StringValue = string | {
  'value'?: (string);
}

export interface StringValue__Output {
  'value': (string);
}
