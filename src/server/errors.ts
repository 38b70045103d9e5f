/**
 * Errors that end a stream, and the one place they become gRPC statuses
 * (STYLE: typed errors mapped to codes at one boundary).
 */
import { status as GrpcStatus } from '@grpc/grpc-js';

export type StreamErrorCode = 'INVALID_ARGUMENT' | 'UNAUTHENTICATED' | 'PERMISSION_DENIED' | 'RESOURCE_EXHAUSTED' | 'UNAVAILABLE' | 'INTERNAL';

export class StreamError extends Error {
  constructor(
    readonly code: StreamErrorCode,
    /** short label for metrics and logs */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export function grpcStatusOf(err: unknown): { code: GrpcStatus; details: string } {
  if (err instanceof StreamError) return { code: GrpcStatus[err.code], details: err.message };
  return { code: GrpcStatus.INTERNAL, details: 'internal error in the control plane (logged)' };
}
