/**
 * Where golden metrics are read from: a Prometheus that scrapes the sidecars
 * (prometheus-source.ts), or, with no Prometheus configured, the sidecars'
 * stats endpoints themselves (sidecar-source.ts). Both answer the same
 * question the same way; `trellis stat`, the SMI TrafficMetrics API and
 * anything that gates on health (a canary analysis) call `read`.
 */
import { edgesOf, metricNames, type EdgeQuery, type EdgeStats, type GoldenMetrics, type MetricsSource } from './edges.ts';
import type { Sample } from './prom-text.ts';

export interface GoldenMetricsReader {
  readonly source: MetricsSource;
  /** Never throws for an unreachable or slow backend: that is `{status: 'no-data', reason}`. */
  read(q: EdgeQuery): Promise<GoldenMetrics>;
}

export const DEFAULT_WINDOW_SECONDS = 60;
/** How long one read may wait for Prometheus or a sidecar, so a stuck backend shows as "no data", not a hang. */
export const DEFAULT_TIMEOUT_MS = 3000;

/** The edges of increases per series, with the metric names of the query. */
export function goldenOf(source: MetricsSource, samples: readonly Sample[], q: EdgeQuery, windowSeconds: number | null, extra: { missing?: string[] } = {}): GoldenMetrics {
  const byRoute = q.byRoute ?? false;
  const names = new Set(metricNames(byRoute));
  const edges: EdgeStats[] = edgesOf(samples.filter((s) => names.has(s.name)), { byRoute, windowSeconds });
  return { status: 'ok', source, at: new Date().toISOString(), windowSeconds, edges, ...extra };
}

export function noData(source: MetricsSource, reason: string): GoldenMetrics {
  return { status: 'no-data', source, at: new Date().toISOString(), reason };
}

/** One edge of a read, or why there is none: what a gate on a service's health asks. */
export function findEdge(m: GoldenMetrics, match: (e: EdgeStats) => boolean): EdgeStats | { noData: string } {
  if (m.status === 'no-data') return { noData: m.reason };
  const e = m.edges.find(match);
  return e && e.requests > 0 ? e : { noData: 'no requests on this edge in the window' };
}
