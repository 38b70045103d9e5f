/**
 * Which golden-metrics reader the control plane serves (admin/golden/): a
 * Prometheus when one is configured (`--prometheus URL`), else the stats
 * endpoints of the sidecars connected now, at their pod address and
 * STATS_PORT (the bootstrap puts the stats listener there, docs/telemetry.md).
 * Also the scrape targets a Prometheus needs (file service discovery).
 */
import { PrometheusMetrics } from '../admin/golden/prometheus-source.ts';
import type { GoldenMetricsReader } from '../admin/golden/reader.ts';
import { SidecarMetrics, type StatsTarget } from '../admin/golden/sidecar-source.ts';
import type { MeshModel } from '../model/types.ts';
import type { XdsServer } from '../server/xds-server.ts';
import { STATS_PATH, STATS_PORT } from '../translate/sidecar.ts';
import { workloadLabel } from '../translate/telemetry.ts';

export interface GoldenMetricsOptions {
  /** Prometheus's base URL (http://host:9090); absent: read the sidecars directly. */
  prometheusUrl?: string;
  /** Per read, Prometheus or each sidecar (default 3 s). */
  timeoutMs?: number;
  /** Keep this file listing the connected sidecars' stats endpoints (Prometheus file_sd; runtime/prometheus.ts). */
  scrapeTargetsFile?: string;
}

/** A scrape target with the labels a Prometheus file_sd entry gives it. */
export interface ScrapeTarget extends StatsTarget {
  address: string;
  labels: { namespace: string; pod: string; workload: string };
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The stats endpoints of the sidecars connected now whose workload has an address. */
export function scrapeTargets(model: MeshModel | undefined, xds: XdsServer): ScrapeTarget[] {
  if (!model) return [];
  const connected = new Set(xds.syncStatus().map((s) => s.node.id));
  const out: ScrapeTarget[] = [];
  for (const w of model.workloads.values()) {
    if (!w.ip || !connected.has(w.key)) continue;
    const address = hostPort(w.ip, STATS_PORT);
    out.push({ node: w.key, address, url: `http://${address}${STATS_PATH}`, labels: { namespace: w.namespace, pod: w.name, workload: workloadLabel(w) } });
  }
  return out;
}

export function goldenMetricsReader(o: GoldenMetricsOptions, model: () => MeshModel | undefined, xds: XdsServer): GoldenMetricsReader {
  const timeout = o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {};
  if (o.prometheusUrl) return new PrometheusMetrics(o.prometheusUrl.replace(/\/+$/, ''), timeout);
  return new SidecarMetrics(() => scrapeTargets(model(), xds), timeout);
}
