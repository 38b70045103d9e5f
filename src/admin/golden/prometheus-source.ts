/**
 * Golden metrics read back from Prometheus (its HTTP API, /api/v1/query),
 * which scrapes every sidecar's stats endpoint (docs/telemetry.md has the
 * scrape config; the demo writes one). For each counter, the increase of
 * each series over the window, as
 *
 *     ((M - M offset 60s) >= 0) or M
 *
 * rather than increase(M[60s]): Envoy creates a counter at its first event,
 * so a series that appears inside the window starts from zero (the whole
 * value counts, where increase() would drop everything before its first
 * scrape), the count is exact rather than extrapolated, and a counter reset
 * (an Envoy restart, lower than before) counts from zero too.
 */
import { errorMessage } from '../../errors.ts';
import { metricNames, type EdgeQuery, type GoldenMetrics } from './edges.ts';
import type { Sample } from './prom-text.ts';
import { DEFAULT_TIMEOUT_MS, DEFAULT_WINDOW_SECONDS, goldenOf, noData, type GoldenMetricsReader } from './reader.ts';

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

export function increaseQuery(metric: string, windowSeconds: number): string {
  return `((${metric} - ${metric} offset ${windowSeconds}s) >= 0) or ${metric}`;
}

export class PrometheusMetrics implements GoldenMetricsReader {
  readonly source = 'prometheus' as const;

  /** `baseUrl`: e.g. http://127.0.0.1:9090 */
  constructor(
    readonly baseUrl: string,
    private readonly opts: { timeoutMs?: number } = {},
  ) {}

  async read(q: EdgeQuery): Promise<GoldenMetrics> {
    const window = q.windowSeconds ?? DEFAULT_WINDOW_SECONDS;
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const results = await Promise.all(metricNames(q.byRoute ?? false).map((m) => this.query(increaseQuery(m, window), signal, m)));
      return goldenOf(this.source, results.flat(), q, window);
    } catch (e) {
      const err = e as Error;
      if (err.name === 'TimeoutError') return noData(this.source, `Prometheus at ${this.baseUrl} did not answer within ${timeoutMs} ms`);
      return noData(this.source, `Prometheus at ${this.baseUrl}: ${errorMessage((err.cause as Error | undefined) ?? err)}`);
    }
  }

  private async query(promql: string, signal: AbortSignal, name: string): Promise<Sample[]> {
    const res = await fetch(`${this.baseUrl}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal });
    const body = (await res.json().catch(() => ({ status: 'error', error: `HTTP ${res.status}, not JSON` }))) as QueryResponse;
    if (body.status !== 'success' || !body.data) throw new Error(`query failed: ${body.error ?? `HTTP ${res.status}`}`);
    return body.data.result.map((r) => ({ name, labels: r.metric, value: Number(r.value[1]) }));
  }
}
