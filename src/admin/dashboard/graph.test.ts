import { describe, expect, it } from 'vitest';
import { buildWith } from '../../model/testing.ts';
import { edgesOf, type GoldenMetrics } from '../golden/edges.ts';
import { parsePrometheusText } from '../golden/prom-text.ts';
import { meshGraph, type MeshGraph } from './graph.ts';
import { layoutGraph } from './layout.ts';
import { sharedReads } from './routes.ts';
import type { EdgeQuery } from '../golden/edges.ts';

const INTENTS = `
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends:
  - {service: web-v1, weight: 90}
  - {service: web-v2, weight: 10}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-web, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: demo}
  sources: [{kind: ServiceAccount, name: client, namespace: demo}]
`;

const L = 'source_workload="client",source_namespace="demo",source_principal="td/ns/demo/sa/client",destination_port="8080",destination_service="web-v1",destination_namespace="demo"';

function metrics(ok: number, failed: number): GoldenMetrics {
  const text = [
    `envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",${L}} ${ok}`,
    `envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",${L}} ${failed}`,
    `envoy_cluster_upstream_rq_time_bucket{${L},le="10"} ${ok + failed}`,
    `envoy_cluster_upstream_rq_time_bucket{${L},le="+Inf"} ${ok + failed}`,
  ].join('\n');
  return { status: 'ok', source: 'sidecars', at: '2026-01-01T00:00:00.000Z', windowSeconds: 10, edges: edgesOf(parsePrometheusText(text), { byRoute: false, windowSeconds: 10 }) };
}

/** Read fine, nobody called anybody. */
const QUIET: GoldenMetrics = { status: 'ok', source: 'sidecars', at: '2026-01-01T00:00:00.000Z', windowSeconds: 10, edges: [] };

const NO_DATA: GoldenMetrics = { status: 'no-data', source: 'prometheus', at: '2026-01-01T00:00:00.000Z', reason: 'Prometheus at http://x: connect ECONNREFUSED' };

function graphOf(m: GoldenMetrics): MeshGraph {
  const built = buildWith(INTENTS);
  return meshGraph({ model: built.model, generation: 3, metrics: m, workloadName: (w) => w.labels.app ?? w.name });
}

const edge = (g: MeshGraph, id: string) => g.edges.find((e) => e.id === id);

describe('issue 12: the dashboard\'s mesh graph', () => {
  it('nodes are workloads (by the name metrics give them) and services; edges: selects, split weights, calls with golden metrics', () => {
    const g = graphOf(metrics(99, 1));
    expect(g.nodes.map((n) => n.id)).toEqual(['service:demo/api', 'service:demo/web', 'service:demo/web-v1', 'service:demo/web-v2', 'workload:demo/client', 'workload:demo/web']);
    expect(g.nodes.find((n) => n.id === 'workload:demo/web')).toMatchObject({ pods: ['web-v1', 'web-v2'], inModel: true });
    expect(edge(g, 'service:demo/web->service:demo/web-v2')).toMatchObject({ kind: 'splits', weights: [{ split: 'demo/web', weight: 10, matched: false }] });
    expect(edge(g, 'service:demo/web-v1->workload:demo/web')).toMatchObject({ kind: 'selects' });
    expect(edge(g, 'workload:demo/client->service:demo/web-v1:8080')).toMatchObject({
      kind: 'calls',
      traffic: { requests: 100, failures: 1, successRate: 0.99, rps: 10 },
    });
    // client's sidecar counts its calls to web per backend: the allowed call to the root is not drawn beside them as "no data".
    expect(g.edges.filter((e) => e.from === 'workload:demo/client').map((e) => e.id)).toEqual(['workload:demo/client->service:demo/web-v1:8080']);
  });

  it('a call a TrafficTarget allows but nobody made has no figures (traffic null, "no data"), not zeros', () => {
    const g = graphOf(QUIET);
    // web's endpoints run as SA web, which the TrafficTarget names (web-v1 and web-v2 have no endpoints in this fixture).
    expect(edge(g, 'workload:demo/client->service:demo/web:9090')).toMatchObject({ kind: 'calls', allowedBy: ['demo/client-to-web'], traffic: null });
    expect(edge(g, 'workload:demo/client->service:demo/web:8080')).toMatchObject({ kind: 'calls', allowedBy: ['demo/client-to-web'], traffic: null });
  });

  it('with no metrics source: the reason, the graph from the model, and no figures on any edge', () => {
    const g = graphOf(NO_DATA);
    expect(g.metrics).toEqual({ status: 'no-data', source: 'prometheus', reason: NO_DATA.reason });
    const calls = g.edges.filter((e) => e.kind === 'calls');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((e) => e.traffic === null)).toBe(true);
  });

  it('an edge only the metrics know (a workload gone from the model) still shows, its nodes marked as not in the model', () => {
    const text = `envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",${L.replace('"client"', '"old-job"')}} 5`;
    const m: GoldenMetrics = { status: 'ok', source: 'sidecars', at: '', windowSeconds: null, edges: edgesOf(parsePrometheusText(text), { byRoute: false, windowSeconds: null }) };
    const g = graphOf(m);
    expect(g.nodes.find((n) => n.id === 'workload:demo/old-job')).toMatchObject({ inModel: false });
    expect(edge(g, 'workload:demo/old-job->service:demo/web-v1:8080')!.traffic).toMatchObject({ requests: 5, rps: null });
  });

  it('layout: callers left of callees, columns by longest path, the same positions whatever the input order', () => {
    const g = graphOf(metrics(99, 1));
    const rank = Object.fromEntries(g.nodes.map((n) => [n.id, n.rank]));
    // The root web, which nobody calls, sits just left of its backends; the workload web right of the services that select it.
    expect(rank).toEqual({ 'workload:demo/client': 0, 'service:demo/api': 0, 'service:demo/web': 0, 'service:demo/web-v1': 1, 'service:demo/web-v2': 1, 'workload:demo/web': 2 });
    const nodes = g.nodes.map((n) => ({ id: n.id }));
    const edges = g.edges.map((e) => ({ from: e.from, to: e.to }));
    const a = layoutGraph(nodes, edges);
    const b = layoutGraph(nodes.toReversed(), edges.toReversed());
    expect([...b.at].sort()).toEqual([...a.at].sort());
    expect(a.width).toBe(b.width);
  });

  it('layout: a service attached to its one workload is drawn in its column, right above it', () => {
    const { at } = layoutGraph([{ id: 'b-svc' }, { id: 'a-other' }, { id: 'z-wl' }, { id: 'callee' }], [{ from: 'b-svc', to: 'z-wl', attach: true }, { from: 'z-wl', to: 'callee' }]);
    expect(at.get('b-svc')).toMatchObject({ rank: 0, row: at.get('z-wl')!.row - 1 });
    expect(at.get('z-wl')!.rank).toBe(0);
    expect(at.get('callee')!.rank).toBe(1);
  });

  it('layout survives cycles (a calls b, b calls a): every node placed, once', () => {
    const { at } = layoutGraph([{ id: 'a' }, { id: 'b' }, { id: 'c' }], [{ from: 'a', to: 'b' }, { from: 'b', to: 'a' }, { from: 'b', to: 'c' }]);
    expect([...at.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect([at.get('a')!.rank, at.get('b')!.rank, at.get('c')!.rank]).toEqual([0, 1, 2]);
    const spots = new Set([...at.values()].map((p) => `${p.x},${p.y}`));
    expect(spots.size).toBe(3);
  });

  it('open dashboards share one read of the golden metrics per window while it is fresh (a read in flight too)', async () => {
    let now = 0;
    const asked: EdgeQuery[] = [];
    const reader = { source: 'sidecars' as const, read: async (q: EdgeQuery) => (asked.push(q), QUIET) };
    const read = sharedReads(reader, 1500, () => now);
    await Promise.all([read(60), read(60), read(300)]);
    now = 1000;
    await read(60);
    expect(asked).toEqual([{ windowSeconds: 60, byRoute: false }, { windowSeconds: 300, byRoute: false }]);
    now = 1600;
    await read(60);
    expect(asked).toHaveLength(3);
  });
});
