/**
 * `trellis stat` and `trellis top`'s tables (like `linkerd viz stat` and
 * `linkerd viz routes`): one row per edge, source workload -> destination
 * service port (and route), with success rate, requests per second, latency
 * percentiles, requests and TCP connections. An edge without requests, or a
 * read without data, says "no data": a zero would claim something measured.
 */
import type { EdgeStats, GoldenMetrics } from './edges.ts';

export const NO_DATA = 'no data';

function pct(v: number | null): string {
  return v === null ? '-' : `${(v * 100).toFixed(2)}%`;
}

function msOf(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  return v < 10 ? `${v.toFixed(1)}ms` : `${Math.round(v)}ms`;
}

function row(e: EdgeStats, byRoute: boolean): string[] {
  const dst = `${e.destination.service}.${e.destination.namespace}:${e.destination.port}`;
  const head = [e.source.namespace, e.source.workload, dst, ...(byRoute ? [e.route ?? ''] : [])];
  if (e.requests === 0) {
    const tcp = e.tcp.connections > 0 ? String(e.tcp.connections) : '-';
    return [...head, NO_DATA, '-', '-', '-', '-', '-', tcp];
  }
  return [
    ...head,
    pct(e.successRate),
    e.rps === null ? '-' : `${e.rps.toFixed(1)}rps`,
    msOf(e.latencyMs?.p50),
    msOf(e.latencyMs?.p95),
    msOf(e.latencyMs?.p99),
    String(e.requests),
    // Connections are per destination, not per route.
    byRoute ? '-' : String(e.tcp.connections),
  ];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export function formatStatTable(m: GoldenMetrics, o: { byRoute: boolean; what: string }): string {
  if (m.status === 'no-data') return `${NO_DATA} for ${o.what}: ${m.reason}\n`;
  const window = m.windowSeconds === null ? 'since each sidecar started' : `last ${Math.round(m.windowSeconds)} s`;
  const note = `golden metrics of ${o.what} from ${m.source === 'prometheus' ? 'Prometheus' : 'the sidecars'}, ${window}\n`;
  const missing = m.missing?.length ? `not answering (left out): ${m.missing.join('; ')}\n` : '';
  if (m.edges.length === 0) return `${note}${NO_DATA}: no traffic from ${o.what} in the window\n${missing}`;
  const header = ['NAMESPACE', 'WORKLOAD', 'TO', ...(o.byRoute ? ['ROUTE'] : []), 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'REQUESTS', 'TCP_CONN'];
  return note + table([header, ...m.edges.map((e) => row(e, o.byRoute))]) + missing;
}
