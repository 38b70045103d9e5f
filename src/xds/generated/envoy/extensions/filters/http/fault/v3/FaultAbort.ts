// Original file: node_modules/@grpc/grpc-js-xds/deps/envoy-api/envoy/extensions/filters/http/fault/v3/fault.proto

import type { FractionalPercent as _envoy_type_v3_FractionalPercent, FractionalPercent__Output as _envoy_type_v3_FractionalPercent__Output } from '../../../../../../envoy/type/v3/FractionalPercent.ts';

export interface _envoy_extensions_filters_http_fault_v3_FaultAbort_HeaderAbort {
}

export interface _envoy_extensions_filters_http_fault_v3_FaultAbort_HeaderAbort__Output {
}

export interface FaultAbort {
  'http_status'?: (number);
  'percentage'?: (_envoy_type_v3_FractionalPercent | null);
  'header_abort'?: (_envoy_extensions_filters_http_fault_v3_FaultAbort_HeaderAbort | null);
  'grpc_status'?: (number);
  'error_type'?: "http_status"|"grpc_status"|"header_abort";
}

export interface FaultAbort__Output {
  'http_status'?: (number);
  'percentage': (_envoy_type_v3_FractionalPercent__Output | null);
  'header_abort'?: (_envoy_extensions_filters_http_fault_v3_FaultAbort_HeaderAbort__Output | null);
  'grpc_status'?: (number);
  'error_type'?: "http_status"|"grpc_status"|"header_abort";
}
