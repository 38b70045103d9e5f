/**
 * How far the V8 heap may grow past what the last full collection kept alive
 * before the next one starts (issue 14: server CPU per endpoint push).
 *
 * A push to a thousand SotW streams allocates ~10 MB of short-lived objects
 * (responses, the HTTP/2 and gRPC frames of a thousand 16 KB ACKs) on a heap
 * of ~40 MB that the mesh and the streams keep alive. V8 picks the growth
 * factor from how fast the program allocates against how fast it marks; for
 * this bursty shape it chose ~1.3–1.6×, and with so little headroom it began
 * incremental marking again right after each full collection: one or two
 * mark-compacts of the whole 40 MB heap per push, 30–60 ms of the ~100 ms the
 * server spent (`--trace-gc` on bench/xds-server-main.ts, 1,000 streams, at
 * load 6–8 on 2 shared cores, where marking is slow; on a quiet machine V8
 * left more headroom and it mattered less). At 2× the same pushes run on one
 * cheap scavenge each and no mark-compact; at 10,000 streams one
 * mark-compact of the 140 MB heap per push remains (started by the external
 * memory of the ACKs' buffers, not by this limit). The
 * price is memory: garbage may reach the size of the live heap before it is
 * collected (it is not part of any stream's share: bench/run.ts measures per
 * stream after a full collection).
 *
 * V8 reads the factor each time it sets a new limit, so setting it once at
 * start suffices. An operator's own `--heap-growing-percent` on the command
 * line wins.
 */
import v8 from 'node:v8';

/** The heap may grow to twice what the last full collection kept. */
export const HEAP_GROWING_PERCENT = 100;

const FLAG = '--heap-growing-percent';

let applied = false;

/** Sets the growth for this process, once; a flag given on the command line (or in NODE_OPTIONS) is left alone. */
export function setServingHeapGrowth(): void {
  if (applied) return;
  applied = true;
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a === FLAG || a.startsWith(`${FLAG}=`) || a.startsWith('--heap_growing_percent'));
  if (!given) v8.setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`);
}
