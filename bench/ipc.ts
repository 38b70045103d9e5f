/**
 * Messages between the benchmark's orchestrator (bench/run.ts) and its child
 * processes: the xDS server (bench/xds-server-main.ts) and the load
 * generators (bench/load-generator-main.ts). Every request carries an `id`
 * that its reply repeats.
 *
 * Times are milliseconds on a clock shared by every process on the machine:
 * `performance.timeOrigin + performance.now()` (wall-clock epoch, sub-ms).
 */

export function now(): number {
  return performance.timeOrigin + performance.now();
}

export interface CpuTime {
  user: number;
  system: number;
}

// --- server --------------------------------------------------------------

export type ServerRequest =
  | { id: number; cmd: 'report'; gc?: boolean }
  | { id: number; cmd: 'change'; service: number; generation: number }
  /** reply (ServerSettled) once the server has applied `acks` EDS ACKs since the last change, or after `timeoutMs` */
  | { id: number; cmd: 'settled'; acks: number; timeoutMs: number }
  /** start a V8 CPU or sampled allocation profile, or stop it and write it to `file` */
  | { id: number; cmd: 'profile'; action: 'start'; kind: 'cpu' | 'alloc' }
  | { id: number; cmd: 'profile'; action: 'stop'; file: string }
  | { id: number; cmd: 'stop' };

export interface ServerReady {
  event: 'ready';
  port: number;
  services: number;
  buildMs: number;
  encodes: number;
}

export interface ServerReport {
  id: number;
  rss: number;
  /** peak RSS of the process so far */
  maxRss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  cpu: CpuTime;
  encodes: number;
  streamCount: number;
  acks: number;
  nacks: number;
  at: number;
}

export interface ServerChanged {
  id: number;
  /** taken before the new ClusterLoadAssignment was encoded */
  at: number;
  /** the SotW version_info of the new EDS set: what the streams will ACK */
  version: string;
  cpuBefore: CpuTime;
  encodesBefore: number;
  encodesAfter: number;
  /** time spent in encode + cache.setType (which notifies every watcher) */
  setMs: number;
}

/**
 * The end of a push, as the server saw it: the moment its count of applied EDS
 * ACKs since the change reached the number the generators wrote. `cpu` is read
 * at that moment (by a 5 ms poll of a counter, before the server looks at any
 * stream), so the CPU from ServerChanged.cpuBefore to it is the push's own:
 * the encode, the fan-out, the writes and reading the ACKs, none of the
 * harness's reading of the streams.
 */
export interface ServerSettled {
  id: number;
  /** EDS ACKs applied since the change when `cpu` was read (less than asked only on timeout) */
  acks: number;
  cpu: CpuTime;
  at: number;
  encodes: number;
  /** streams whose ACKed EDS version is the change's, as the server records it (read after `cpu`) */
  edsAcked: number;
  /** for each of those streams, when the server applied the ACK (ms epoch, ms precision) */
  edsAckedAt: number[];
}

// --- load generators -----------------------------------------------------

export interface GeneratorConfig {
  generator: number;
  address: string;
  streams: number;
  /** streams per HTTP/2 connection (each connection its own grpc-js channel) */
  perConnection: number;
  /** streams opened but not yet synced, at most */
  window: number;
  /** HTTP/2 receive window, bytes (bench/options.ts ENVOY_FLOW_WINDOW) */
  flowWindow: number;
  edsNames: string[];
  routeName: string;
  /** a stream is synced when it has ACKed all four types and received this many endpoint sets */
  expectEndpoints: number;
  syncTimeoutMs: number;
}

export type GeneratorRequest =
  | { id: number; cmd: 'start' }
  | { id: number; cmd: 'report' }
  /** reply once every live stream has ACKed EDS `version`, or after `timeoutMs` */
  | { id: number; cmd: 'await'; version: string; timeoutMs: number }
  | { id: number; cmd: 'stop' };

export interface GeneratorReport {
  id: number;
  cpu: CpuTime;
  rss: number;
  open: number;
  synced: number;
  failed: number;
  connections: number;
  bytesIn: number;
  responses: number;
  errors: string[];
}

export interface GeneratorSynced {
  event: 'synced';
  generator: number;
  synced: number;
  failed: number;
  /** when the last of its streams became synced */
  at: number;
  errors: string[];
}

export interface GeneratorAwaited {
  id: number;
  version: string;
  /** per stream that ACKed `version`: when the ACK was written */
  ackTimes: number[];
  /** resources in each of those EDS responses (1 for an incremental push) */
  resources: number[];
  missing: number;
}
