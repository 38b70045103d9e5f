import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { edgesOf, quantile } from './edges.ts';
import { parsePrometheusText } from './prom-text.ts';
import { increaseQuery, PrometheusMetrics } from './prometheus-source.ts';
import { SidecarMetrics } from './sidecar-source.ts';
import { formatStatTable } from './stat-table.ts';
import { NO_DATA_ANNOTATION, trafficMetricsList } from './traffic-metrics.ts';

const L = 'source_workload="frontend",source_namespace="demo",source_principal="td/ns/demo/sa/frontend",destination_port="8080",destination_service="ratings",destination_namespace="demo",destination_principal="td/ns/demo/sa/ratings"';

function envoyText(ok: number, failed: number): string {
  return [
    '# TYPE envoy_cluster_upstream_rq_xx counter',
    `envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",${L}} ${ok}`,
    `envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",${L}} ${failed}`,
    `envoy_cluster_upstream_rq_time_bucket{${L},le="5"} ${ok / 2}`,
    `envoy_cluster_upstream_rq_time_bucket{${L},le="10"} ${ok + failed}`,
    `envoy_cluster_upstream_rq_time_bucket{${L},le="+Inf"} ${ok + failed}`,
    `envoy_cluster_upstream_cx_total{${L}} 3`,
  ].join('\n');
}

describe('issue 12: golden metrics per edge', () => {
  it('parses Envoy\'s Prometheus text and turns counters into an edge named by workload, service and identity', () => {
    const samples = parsePrometheusText(envoyText(90, 10));
    expect(samples).toHaveLength(6);
    const [e] = edgesOf(samples, { byRoute: false, windowSeconds: 10 });
    expect(e).toMatchObject({
      source: { namespace: 'demo', workload: 'frontend', identity: 'spiffe://td/ns/demo/sa/frontend' },
      destination: { namespace: 'demo', service: 'ratings', port: 8080, identities: ['spiffe://td/ns/demo/sa/ratings'] },
      requests: 100,
      failures: 10,
      successRate: 0.9,
      rps: 10,
      tcp: { connections: 3, bytesSent: 0, bytesReceived: 0 },
    });
    expect(e!.latencyMs!.p50).toBeCloseTo(5 + (5 * 5) / 55, 5);
  });

  it('gRPC: a call that fails with HTTP 200 and a non-OK grpc-status is a failure', () => {
    const text = `envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",${L}} 100\nenvoy_cluster_grpc_failure{${L}} 7\nenvoy_cluster_grpc_success{${L}} 93`;
    expect(edgesOf(parsePrometheusText(text), { byRoute: false, windowSeconds: 10 })[0]).toMatchObject({ requests: 100, failures: 7, successRate: 0.93 });
  });

  it('quantiles interpolate within a bucket as histogram_quantile does; the +Inf bucket gives the highest bound', () => {
    const b = new Map([[10, 50], [20, 100], [Infinity, 100]]);
    expect(quantile(0.5, b)).toBe(10);
    expect(quantile(0.75, b)).toBe(15);
    expect(quantile(0.99, new Map([[10, 1], [Infinity, 100]]))).toBe(10);
    expect(quantile(0.5, new Map())).toBeNaN();
  });

  it('an edge without requests has no success rate and no latency (no data), not 0 % or 0 ms', () => {
    const [e] = edgesOf(parsePrometheusText(`envoy_cluster_upstream_cx_total{${L}} 1`), { byRoute: false, windowSeconds: 60 });
    expect(e).toMatchObject({ requests: 0, successRate: null, latencyMs: null });
    const text = formatStatTable({ status: 'ok', source: 'sidecars', at: '', windowSeconds: 60, edges: [e!] }, { byRoute: false, what: 'the mesh' });
    expect(text).toMatch(/frontend\s+ratings\.demo:8080\s+no data/);
    expect(text).not.toMatch(/0\.00%/);
  });

  it('requests counted before their latency is (Envoy writes histograms at each stats flush): no latency, and the table says so rather than crash', () => {
    const text = `envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",${L}} 25\nenvoy_cluster_upstream_rq_time_bucket{${L},le="5"} 0\nenvoy_cluster_upstream_rq_time_bucket{${L},le="+Inf"} 0`;
    const [e] = edgesOf(parsePrometheusText(text), { byRoute: false, windowSeconds: 60 });
    expect(e).toMatchObject({ requests: 25, successRate: 1, latencyMs: null });
    // what `trellis stat` formats: the admin API's JSON
    const read = JSON.parse(JSON.stringify({ status: 'ok', source: 'prometheus', at: '', windowSeconds: 60, edges: [e!] }));
    expect(formatStatTable(read, { byRoute: false, what: 'the mesh' })).toMatch(/frontend\s+ratings\.demo:8080\s+100\.00%\s+0\.4rps\s+-\s+-\s+-\s+25/);
  });

  it('the Prometheus query counts a series that appeared inside the window whole, and a reset from zero', () => {
    expect(increaseQuery('m', 60)).toBe('((m - m offset 60s) >= 0) or m');
  });

  describe('sources that cannot answer: "no data" with the reason, within the timeout', () => {
    let hanging: net.Server;
    let hangingPort: number;
    let sidecar: http.Server;
    let sidecarPort: number;
    let served = { ok: 90, failed: 10 };
    beforeAll(async () => {
      // Accepts connections and never answers: a Prometheus (or sidecar) that is stuck.
      hanging = net.createServer(() => {});
      await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
      hangingPort = (hanging.address() as net.AddressInfo).port;
      sidecar = http.createServer((_q, res) => res.end(envoyText(served.ok, served.failed)));
      await new Promise<void>((r) => sidecar.listen(0, '127.0.0.1', r));
      sidecarPort = (sidecar.address() as net.AddressInfo).port;
    });
    afterAll(() => {
      hanging.close();
      sidecar.close();
    });

    it('Prometheus down (connection refused)', async () => {
      const closed = net.createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as net.AddressInfo).port;
      await new Promise((r) => closed.close(r));
      const m = await new PrometheusMetrics(`http://127.0.0.1:${port}`, { timeoutMs: 2000 }).read({});
      expect(m).toMatchObject({ status: 'no-data', source: 'prometheus' });
      expect(m.status === 'no-data' && m.reason).toBe(`Prometheus at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
    });

    it('Prometheus slow: no answer within the timeout', async () => {
      const t0 = Date.now();
      const m = await new PrometheusMetrics(`http://127.0.0.1:${hangingPort}`, { timeoutMs: 300 }).read({});
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(m.status === 'no-data' && m.reason).toBe(`Prometheus at http://127.0.0.1:${hangingPort} did not answer within 300 ms`);
    });

    it('sidecars: totals on a first read (window unknown), then the increase since an earlier read; a stuck sidecar is left out and named', async () => {
      let now = 1_000_000;
      const targets = [
        { node: 'demo/frontend', url: `http://127.0.0.1:${sidecarPort}/stats/prometheus` },
        { node: 'demo/stuck', url: `http://127.0.0.1:${hangingPort}/stats/prometheus` },
      ];
      const reader = new SidecarMetrics(() => targets, { timeoutMs: 300, now: () => now });
      const first = await reader.read({ windowSeconds: 60 });
      expect(first).toMatchObject({ status: 'ok', windowSeconds: null, edges: [{ requests: 100, failures: 10 }] });
      expect(first.status === 'ok' && first.missing).toEqual([`demo/stuck (${targets[1]!.url}): no answer within 300 ms`]);
      served = { ok: 180, failed: 20 };
      now += 30_000;
      const second = await reader.read({ windowSeconds: 60 });
      expect(second).toMatchObject({ status: 'ok', windowSeconds: 30, edges: [{ requests: 100, failures: 10, successRate: 0.9 }] });
      const none = await new SidecarMetrics(() => [targets[1]!], { timeoutMs: 300 }).read({});
      expect(none.status === 'no-data' && none.reason).toMatch(/^no sidecar answered: demo\/stuck/);
      expect(await new SidecarMetrics(() => []).read({})).toMatchObject({ status: 'no-data', reason: 'no sidecar is connected, so there are no stats to read' });
    });

    it('sidecars: 300 reads 2 s apart (a `--watch`) hold a few dozen earlier reads, not all of the last 11 minutes', async () => {
      let now = 1_000_000;
      const reader = new SidecarMetrics(() => [{ node: 'demo/frontend', url: `http://127.0.0.1:${sidecarPort}/stats/prometheus` }], { timeoutMs: 2000, now: () => now });
      let last = await reader.read({ windowSeconds: 60 });
      for (let i = 1; i < 300; i++) {
        now += 2000;
        last = await reader.read({ windowSeconds: 60 });
      }
      // Before: 300 (every read within 11 minutes, up to 400).
      expect(reader.heldReads()).toBeLessThanOrEqual(60);
      expect(last.status === 'ok' && last.windowSeconds).toBeGreaterThanOrEqual(60);
      expect(last.status === 'ok' && last.windowSeconds).toBeLessThanOrEqual(75);
    });
  });

  it('SMI TrafficMetricsList: SMI field names per edge; with no data, no items and the reason in an annotation', () => {
    const [e] = edgesOf(parsePrometheusText(envoyText(90, 10)), { byRoute: false, windowSeconds: 30 });
    const list = trafficMetricsList({ status: 'ok', source: 'prometheus', at: '2026-01-01T00:00:00Z', windowSeconds: 30, edges: [e!] }, { kind: 'Namespace', namespace: 'demo', name: 'demo' }, '/x');
    expect(list.items[0]).toMatchObject({
      kind: 'TrafficMetrics',
      apiVersion: 'metrics.smi-spec.io/v1alpha1',
      window: '30s',
      resource: { kind: 'Deployment', namespace: 'demo', name: 'frontend' },
      edge: { direction: 'to', side: 'client', resource: { kind: 'Service', namespace: 'demo', name: 'ratings' } },
    });
    expect(list.items[0]!.metrics.slice(3)).toEqual([{ name: 'success_count', value: '90' }, { name: 'failure_count', value: '10' }]);
    const empty = trafficMetricsList({ status: 'no-data', source: 'prometheus', at: '', reason: 'Prometheus at X did not answer within 3000 ms' }, { kind: 'Namespace', namespace: 'demo', name: 'demo' }, '/x');
    expect(empty.items).toEqual([]);
    expect(empty.metadata.annotations?.[NO_DATA_ANNOTATION]).toBe('Prometheus at X did not answer within 3000 ms');
  });
});
