/**
 * Golden metrics per edge (docs/telemetry.md): from counters of the sidecars'
 * stats over a window (each sample the increase of one series in the
 * window, however it was read: from Prometheus or from the sidecars), the
 * requests, success rate, latency percentiles and TCP figures of each edge
 * source workload -> destination service port (and route). Pure.
 */
import { EDGE_LABELS, GOLDEN_METRICS, LABELS, spiffeIdOfPrincipal } from '../../xds/stats-labels.ts';
import type { Sample } from './prom-text.ts';

export interface EdgeKey {
  source: { namespace: string; workload: string; identity?: string };
  destination: { namespace: string; service: string; port: number; identities: string[] };
  /** Per-route edges only: the route's name (docs/names.md). */
  route?: string;
}

export interface EdgeStats extends EdgeKey {
  /** Requests that got a response (any status) in the window. */
  requests: number;
  /** Of those, not 5xx (for gRPC calls: grpc-status OK). */
  successes: number;
  failures: number;
  /** successes / requests; null when there were no requests (no data, not 100 %). */
  successRate: number | null;
  /** requests per second over the window; null when the window is not known. */
  rps: number | null;
  /** From Envoy's histogram buckets (interpolated as Prometheus's histogram_quantile); null without requests. */
  latencyMs: { p50: number; p90: number; p95: number; p99: number } | null;
  tcp: { connections: number; bytesSent: number; bytesReceived: number };
}

export type MetricsSource = 'prometheus' | 'sidecars';

/**
 * What a read returns: the edges seen, or why there are none to show.
 * `windowSeconds` null: counted since each sidecar started (a first direct
 * read has nothing earlier to subtract). `missing`: sidecars that did not
 * answer a direct read (their edges are left out).
 */
export type GoldenMetrics =
  | { status: 'ok'; source: MetricsSource; at: string; windowSeconds: number | null; edges: EdgeStats[]; missing?: string[] }
  | { status: 'no-data'; source: MetricsSource; at: string; reason: string };

export interface EdgeQuery {
  /** Window in seconds (default 60). */
  windowSeconds?: number;
  /** Per route instead of per destination service port. */
  byRoute?: boolean;
}

interface Counters {
  key: EdgeKey;
  classes: number[];
  buckets: Map<number, number>;
  connections: number;
  bytesSent: number;
  bytesReceived: number;
  grpcFailures: number;
}

/** The metric names a read needs, for per-service or per-route edges. */
export function metricNames(byRoute: boolean): string[] {
  return byRoute ? Object.values(GOLDEN_METRICS.route) : Object.values(GOLDEN_METRICS.cluster);
}

function edgeKeyOf(labels: Record<string, string>, byRoute: boolean): EdgeKey | undefined {
  const service = labels[LABELS.destinationService];
  const ns = labels[LABELS.destinationNamespace];
  const workload = labels[LABELS.sourceWorkload];
  const srcNs = labels[LABELS.sourceNamespace];
  if (!service || !ns || !workload || !srcNs) return undefined;
  const principal = labels[LABELS.sourcePrincipal];
  const dstPrincipals = labels[LABELS.destinationPrincipal];
  return {
    source: { namespace: srcNs, workload, ...(principal ? { identity: spiffeIdOfPrincipal(principal) } : {}) },
    destination: { namespace: ns, service, port: Number(labels[LABELS.destinationPort] ?? 0), identities: dstPrincipals ? dstPrincipals.split(',').map(spiffeIdOfPrincipal) : [] },
    ...(byRoute ? { route: labels[LABELS.route] ?? '' } : {}),
  };
}

function keyString(labels: Record<string, string>, byRoute: boolean): string {
  const parts = EDGE_LABELS.map((l) => labels[l] ?? '');
  return JSON.stringify(byRoute ? [...parts, labels[LABELS.route] ?? ''] : parts);
}

/** Increases per series -> stats per edge, sorted by source then destination (then route). */
export function edgesOf(samples: readonly Sample[], o: { byRoute: boolean; windowSeconds: number | null }): EdgeStats[] {
  const names = o.byRoute ? GOLDEN_METRICS.route : GOLDEN_METRICS.cluster;
  const byKey = new Map<string, Counters>();
  for (const s of samples) {
    const key = edgeKeyOf(s.labels, o.byRoute);
    if (!key) continue;
    const k = keyString(s.labels, o.byRoute);
    let c = byKey.get(k);
    if (!c) byKey.set(k, (c = { key, classes: [0, 0, 0, 0, 0, 0], buckets: new Map(), connections: 0, bytesSent: 0, bytesReceived: 0, grpcFailures: 0 }));
    const v = Math.max(0, s.value);
    if (s.name === names.responses) {
      const cls = Number(s.labels[LABELS.responseCodeClass]);
      if (cls >= 1 && cls <= 5) c.classes[cls]! += v;
    } else if (s.name === names.latencyBucket) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      if (!Number.isNaN(le)) c.buckets.set(le, (c.buckets.get(le) ?? 0) + v);
    } else if (s.name === GOLDEN_METRICS.cluster.connections) c.connections += v;
    else if (s.name === GOLDEN_METRICS.cluster.bytesSent) c.bytesSent += v;
    else if (s.name === GOLDEN_METRICS.cluster.bytesReceived) c.bytesReceived += v;
    else if (s.name === GOLDEN_METRICS.cluster.grpcFailure) c.grpcFailures += v;
  }
  const edges = [...byKey.values()].map((c) => statsOf(c, o.windowSeconds));
  return edges.toSorted((a, b) => order(a).localeCompare(order(b)));
}

function order(e: EdgeStats): string {
  return [e.source.namespace, e.source.workload, e.destination.namespace, e.destination.service, String(e.destination.port).padStart(5, '0'), e.route ?? ''].join('\0');
}

function statsOf(c: Counters, windowSeconds: number | null): EdgeStats {
  const requests = round(c.classes.reduce((a, b) => a + b, 0));
  // A failed gRPC call mostly answers HTTP 200 with a non-OK grpc-status; an HTTP 5xx on a gRPC call
  // counts in both, so the larger is exact for a port of gRPC calls only and for one of plain HTTP.
  const failures = round(Math.max(c.classes[5]!, c.grpcFailures));
  const successes = requests - failures;
  return {
    ...c.key,
    requests,
    successes,
    failures,
    successRate: requests > 0 ? successes / requests : null,
    rps: windowSeconds && windowSeconds > 0 ? requests / windowSeconds : null,
    latencyMs: requests > 0 && timed(c.buckets) ? { p50: quantile(0.5, c.buckets), p90: quantile(0.9, c.buckets), p95: quantile(0.95, c.buckets), p99: quantile(0.99, c.buckets) } : null,
    tcp: { connections: round(c.connections), bytesSent: round(c.bytesSent), bytesReceived: round(c.bytesReceived) },
  };
}

/**
 * Some request was timed in the window. Envoy writes its histograms at each
 * stats flush (every 5 s), its counters at once: requests seen a moment ago
 * can have no latency yet, and then there is none to show (not NaN, which
 * JSON turns into null).
 */
function timed(buckets: ReadonlyMap<number, number>): boolean {
  return Math.max(0, ...buckets.values()) > 0;
}

/** Prometheus's increase() is a float; counts read from sidecars are whole. */
function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/**
 * The q-quantile of cumulative buckets (upper bound -> count), interpolated
 * linearly within the bucket it falls in, as Prometheus's histogram_quantile
 * does; in the +Inf bucket, the highest finite bound.
 */
export function quantile(q: number, buckets: ReadonlyMap<number, number>): number {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Infinity) return prevBound;
      if (count === prevCount) return bound;
      return prevBound + ((bound - prevBound) * (rank - prevCount)) / (count - prevCount);
    }
    prevBound = bound === Infinity ? prevBound : bound;
    prevCount = count;
  }
  return prevBound;
}
