/**
 * The admin's golden-metrics endpoints (docs/telemetry.md):
 *   GET /api/v1/metrics/edges?window=60&namespace=&workload=&route=true   GoldenMetrics (JSON), what `trellis stat` reads
 *   GET /apis/metrics.smi-spec.io/v1alpha1/namespaces/{ns}/edges                        TrafficMetricsList
 *   GET /apis/metrics.smi-spec.io/v1alpha1/namespaces/{ns}/deployments/{workload}/edges TrafficMetricsList
 * `window` in seconds (or 30s, 5m); `route` per route instead of per service.
 */
import { parseDuration } from '../../model/duration.ts';
import { HttpError, type AdminServer } from '../http.ts';
import type { EdgeQuery, GoldenMetrics } from './edges.ts';
import type { GoldenMetricsReader } from './reader.ts';
import { SMI_METRICS_API, trafficMetricsList } from './traffic-metrics.ts';

const MAX_WINDOW_S = 600;

export function edgeQueryOf(url: URL): EdgeQuery & { namespace?: string; workload?: string } {
  const w = url.searchParams.get('window');
  let windowSeconds: number | undefined;
  if (w !== null) {
    const ms = /^\d+$/.test(w) ? Number(w) * 1000 : parseDuration(w);
    if (ms === undefined || ms < 1000 || ms > MAX_WINDOW_S * 1000) throw new HttpError(400, `window=${w}: expected seconds or a duration from 1s to ${MAX_WINDOW_S / 60}m, e.g. 60 or 5m`);
    windowSeconds = Math.round(ms / 1000);
  }
  const route = url.searchParams.get('route');
  return {
    ...(windowSeconds !== undefined ? { windowSeconds } : {}),
    byRoute: route === '' || route === 'true' || route === '1',
    ...(url.searchParams.get('namespace') ? { namespace: url.searchParams.get('namespace')! } : {}),
    ...(url.searchParams.get('workload') ? { workload: url.searchParams.get('workload')! } : {}),
  };
}

/** Only the edges whose source is in `namespace` (and is `workload`). */
export function filterEdges(m: GoldenMetrics, f: { namespace?: string; workload?: string }): GoldenMetrics {
  if (m.status === 'no-data') return m;
  return { ...m, edges: m.edges.filter((e) => (!f.namespace || e.source.namespace === f.namespace) && (!f.workload || e.source.workload === f.workload)) };
}

export function mountGoldenMetrics(admin: AdminServer, reader: GoldenMetricsReader): void {
  admin.route('/api/v1/metrics/edges', async (_p, url) => {
    const q = edgeQueryOf(url);
    return filterEdges(await reader.read(q), q);
  });
  const base = `/apis/${SMI_METRICS_API}/namespaces/:namespace`;
  admin.route(`${base}/edges`, async ({ namespace }, url) => {
    const q = edgeQueryOf(url);
    return trafficMetricsList(filterEdges(await reader.read(q), { namespace }), { kind: 'Namespace', namespace: namespace!, name: namespace! }, url.pathname);
  });
  admin.route(`${base}/deployments/:workload/edges`, async ({ namespace, workload }, url) => {
    const q = edgeQueryOf(url);
    return trafficMetricsList(filterEdges(await reader.read(q), { namespace, workload }), { kind: 'Deployment', namespace: namespace!, name: workload! }, url.pathname);
  });
}
