/**
 * What the xDS client runners (js-xds-client.ts, py_xds_client.py) print on
 * stdout, one JSON object per line. Both runners must print exactly these
 * shapes: the harness parses either without knowing which one ran.
 *
 * Error keys are gRPC status code *names* (UNAVAILABLE, DEADLINE_EXCEEDED),
 * the one spelling both grpc-js and Python grpcio share.
 */

/** `--mode once`: a single line after all calls finished. */
export interface OnceResult {
  ok: number;
  /** status code name -> number of calls that failed with it */
  errors: Record<string, number>;
  /** backend name (from the echo reply) -> successful calls it answered */
  backends: Record<string, number>;
  /** status code name -> the first error's details, to make a failure readable */
  details: Record<string, string>;
}

/** `--mode watch`: one line per call; `t` is wall-clock ms since the epoch, when the call finished. */
export type WatchEvent =
  | { t: number; backend: string }
  | { t: number; error: string; details: string };
