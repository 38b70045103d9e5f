/**
 * The SMI Traffic Metrics API (metrics.smi-spec.io/v1alpha1,
 * https://github.com/servicemeshinterface/smi-spec/blob/main/apis/traffic-metrics/v1alpha1/traffic-metrics.md),
 * served by the admin from the golden metrics: one TrafficMetrics per edge,
 * the workload (as a Deployment: the `app` label, which names it in a
 * cluster) calling a Service, seen from the client side. With nothing to
 * show, the list is empty and says why in the annotation `trellis.io/no-data`
 * (never zeros where nothing was measured).
 */
import type { EdgeStats, GoldenMetrics } from './edges.ts';

export const SMI_METRICS_API = 'metrics.smi-spec.io/v1alpha1' as const;
export const NO_DATA_ANNOTATION = 'trellis.io/no-data';

interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

interface Metric {
  name: string;
  unit?: string;
  value: string;
}

export interface TrafficMetrics {
  kind: 'TrafficMetrics';
  apiVersion: typeof SMI_METRICS_API;
  metadata: { name: string; namespace: string; creationTimestamp: string };
  timestamp: string;
  window: string;
  resource: ObjectRef;
  edge: { direction: 'to'; side: 'client'; resource: ObjectRef; route?: string };
  metrics: Metric[];
}

export interface TrafficMetricsList {
  kind: 'TrafficMetricsList';
  apiVersion: typeof SMI_METRICS_API;
  metadata: { selfLink: string; annotations?: Record<string, string> };
  resource: ObjectRef;
  items: TrafficMetrics[];
}

function ms(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

function item(e: EdgeStats, m: Extract<GoldenMetrics, { status: 'ok' }>): TrafficMetrics {
  const metrics: Metric[] = [];
  if (e.latencyMs) {
    metrics.push({ name: 'p99_response_latency', unit: 'ms', value: ms(e.latencyMs.p99) });
    metrics.push({ name: 'p90_response_latency', unit: 'ms', value: ms(e.latencyMs.p90) });
    metrics.push({ name: 'p50_response_latency', unit: 'ms', value: ms(e.latencyMs.p50) });
  }
  metrics.push({ name: 'success_count', value: String(e.successes) }, { name: 'failure_count', value: String(e.failures) });
  return {
    kind: 'TrafficMetrics',
    apiVersion: SMI_METRICS_API,
    metadata: { name: e.source.workload, namespace: e.source.namespace, creationTimestamp: m.at },
    timestamp: m.at,
    window: m.windowSeconds === null ? 'since-start' : `${m.windowSeconds}s`,
    resource: { kind: 'Deployment', namespace: e.source.namespace, name: e.source.workload },
    edge: { direction: 'to', side: 'client', resource: { kind: 'Service', namespace: e.destination.namespace, name: e.destination.service }, ...(e.route !== undefined ? { route: e.route } : {}) },
    metrics,
  };
}

/** The edges of `m` (already filtered to the resource) as a TrafficMetricsList. */
export function trafficMetricsList(m: GoldenMetrics, resource: ObjectRef, selfLink: string): TrafficMetricsList {
  const base = { kind: 'TrafficMetricsList' as const, apiVersion: SMI_METRICS_API, resource };
  if (m.status === 'no-data') return { ...base, metadata: { selfLink, annotations: { [NO_DATA_ANNOTATION]: m.reason } }, items: [] };
  const items = m.edges.filter((e) => e.requests > 0 || e.tcp.connections > 0).map((e) => item(e, m));
  const annotations = items.length === 0 ? { [NO_DATA_ANNOTATION]: 'no traffic from this resource in the window' } : undefined;
  return { ...base, metadata: { selfLink, ...(annotations ? { annotations } : {}) }, items };
}
