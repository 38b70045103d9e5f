/** The one gRPC method of the overhead benchmark: raw bytes in, the same bytes out (no codegen). */
import type * as grpc from '@grpc/grpc-js';

const raw = (b: Buffer) => b;

export const ECHO_METHOD = '/bench.Echo/Echo';

export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: { path: ECHO_METHOD, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
};
