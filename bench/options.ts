/** Command-line options shared by the benchmarks. */

/** `--name`'s value as a positive whole number, or a clear error naming the option. */
export function positiveInt(values: Readonly<Record<string, unknown>>, name: string): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: "${String(values[name])}" is not a positive whole number`);
  return n;
}

/**
 * The HTTP/2 receive window (stream and connection) of the benchmarks' gRPC
 * clients, as an Envoy has it by default (initial_stream_window_size and
 * initial_connection_window_size: 256 MiB). grpc-js's own default is 64 KiB
 * for a whole connection of 100 streams, which made a sidecar's ~0.5 MB first
 * sync a few dozen flow-control round trips and cost both the clients and the
 * server a quarter more CPU than the same sync with an Envoy's window (issue
 * 14). `--flow-window 65535` measures with grpc-js's default.
 */
export const ENVOY_FLOW_WINDOW = 256 * 1024 * 1024;
