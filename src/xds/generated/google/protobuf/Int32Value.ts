// Original file: null
// Trellis (scripts/gen-envoy-types.sh): the input type also takes the proto3 JSON form that src/xds/proto-json.ts converts.


export type Int32Value = number | {
  'value'?: (number);
}

export interface Int32Value__Output {
  'value': (number);
}
