/**
 * Golden metrics read straight from the sidecars' stats endpoints (STATS_PORT,
 * /stats/prometheus), for a mesh with no Prometheus (one machine, the demo).
 * Counters there count since each Envoy started, so a read subtracts an
 * earlier read of its own: the newest one at least a window old, else the
 * oldest kept (a shorter window, reported as such); the very first read has
 * nothing to subtract and reports totals since start (window null).
 */
import { parsePrometheusText, type Sample } from './prom-text.ts';
import { metricNames, type EdgeQuery, type GoldenMetrics } from './edges.ts';
import { DEFAULT_TIMEOUT_MS, DEFAULT_WINDOW_SECONDS, goldenOf, noData, type GoldenMetricsReader } from './reader.ts';
import { errorMessage } from '../../errors.ts';
import { ScrapeHistory } from './scrape-history.ts';

export interface StatsTarget {
  /** The proxy's node id (ns/pod). */
  node: string;
  /** `http://<pod ip>:15090/stats/prometheus` */
  url: string;
}

interface Scrape {
  at: number;
  /** Series key -> sample. */
  series: Map<string, Sample>;
}

const WANTED = new Set([...metricNames(false), ...metricNames(true)]);

function seriesKey(s: Sample): string {
  return `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
}

export class SidecarMetrics implements GoldenMetricsReader {
  readonly source = 'sidecars' as const;
  /** Earlier reads to subtract from, thinned to what windows need (scrape-history.ts). */
  private readonly history = new ScrapeHistory<Scrape>();

  constructor(
    private readonly targets: () => StatsTarget[],
    private readonly opts: { timeoutMs?: number; now?: () => number } = {},
  ) {}

  async read(q: EdgeQuery): Promise<GoldenMetrics> {
    const targets = this.targets();
    if (targets.length === 0) return noData(this.source, 'no sidecar is connected, so there are no stats to read');
    const now = this.opts.now?.() ?? Date.now();
    const windowMs = (q.windowSeconds ?? DEFAULT_WINDOW_SECONDS) * 1000;
    const results = await Promise.all(targets.map(async (t) => ({ t, r: await this.scrape(t) })));
    const missing: string[] = [];
    const samples: Sample[] = [];
    let window: number | null | undefined;
    for (const { t, r } of results) {
      if (typeof r === 'string') {
        missing.push(`${t.node} (${t.url}): ${r}`);
        continue;
      }
      const scrape: Scrape = { at: now, series: new Map(r.map((s) => [seriesKey(s), s])) };
      const base = this.history.base(t.url, now, windowMs);
      this.history.add(t.url, scrape, now);
      const w = base ? (now - base.at) / 1000 : null;
      window = window === undefined ? w : window === null || w === null ? null : Math.max(window, w);
      for (const [key, s] of scrape.series) {
        const before = base?.series.get(key)?.value ?? 0;
        // A counter lower than before: the Envoy restarted, everything since counts.
        samples.push({ ...s, value: s.value >= before ? s.value - before : s.value });
      }
    }
    if (missing.length === targets.length) return noData(this.source, `no sidecar answered: ${missing.join('; ')}`);
    return goldenOf(this.source, samples, q, window ?? null, missing.length > 0 ? { missing } : {});
  }

  /** How many earlier reads are held, over all sidecars (each holds every golden series of its sidecar). */
  heldReads(): number {
    return this.history.held();
  }

  /** The sidecar's golden samples, or why not. */
  private async scrape(t: StatsTarget): Promise<Sample[] | string> {
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    try {
      const res = await fetch(t.url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return `HTTP ${res.status}`;
      return parsePrometheusText(await res.text(), (n) => WANTED.has(n));
    } catch (e) {
      const err = e as Error;
      if (err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
      return errorMessage((err.cause as Error | undefined) ?? err);
    }
  }
}
