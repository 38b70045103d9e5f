// Original file: node_modules/@grpc/grpc-js-xds/deps/envoy-api/envoy/extensions/filters/http/jwt_authn/v3/config.proto


export interface JwtHeader {
  'name'?: (string);
  'value_prefix'?: (string);
}

export interface JwtHeader__Output {
  'name': (string);
  'value_prefix': (string);
}
