/**
 * What one dashboard poll costs the control plane (besides reading the golden
 * metrics): /api/v1/graph's build and layout (src/admin/dashboard/graph.ts,
 * layout.ts) and the size of its JSON, for meshes of --sizes workloads, each
 * its own service, in ten tiers, each workload calling --calls services of
 * the next tier, with traffic on every call.
 *
 * Figures, never assertions.
 *   node --import tsx bench/dashboard-graph.ts [--sizes 100,1000,3000] [--calls 3] [--runs 5]
 */
import { parseArgs } from 'node:util';
import { buildMesh } from '../src/model/index.ts';
import { objectsFrom } from '../src/model/testing.ts';
import type { EdgeStats, GoldenMetrics } from '../src/admin/golden/edges.ts';
import { meshGraph } from '../src/admin/dashboard/graph.ts';
import { workloadLabel } from '../src/translate/telemetry.ts';
import { meshConfig, NAMESPACE, pod, service, serviceAccounts } from '../test/support/mesh-yaml.ts';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '100,1000,3000' }, calls: { type: 'string', default: '3' }, runs: { type: 'string', default: '5' } } });
const sizes = values.sizes!.split(',').map(Number);
const calls = Number(values.calls);
const runs = Number(values.runs);

function ip(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function edge(from: number, to: number): EdgeStats {
  return {
    source: { namespace: 'demo', workload: `w${from}` },
    destination: { namespace: 'demo', service: `w${to}`, port: 8080, identities: [] },
    requests: 1000,
    successes: 990,
    failures: 10,
    successRate: 0.99,
    rps: 16.7,
    latencyMs: { p50: 2, p90: 5, p95: 8, p99: 20 },
    tcp: { connections: 4, bytesSent: 1e5, bytesReceived: 1e6 },
  };
}

for (const n of sizes) {
  const yaml = NAMESPACE + meshConfig('Permissive') + serviceAccounts('app') + Array.from({ length: n }, (_, i) => pod(`w${i}`, 'app', ip(i + 1), `w${i}`) + service(`w${i}`, [8080], [[`w${i}`, ip(i + 1)]])).join('');
  const model = buildMesh(objectsFrom({ 'mesh.yaml': yaml })).model;
  // Ten tiers (a mesh some calls deep, as meshes are): each workload calls services of the next tier.
  const tier = Math.max(1, Math.floor(n / 10));
  const edges = Array.from({ length: n - tier }, (_, i) => Array.from({ length: calls }, (_, k) => edge(i, tier * (Math.floor(i / tier) + 1) + ((i + k * 7) % tier)))).flat().filter((e) => Number(e.destination.service.slice(1)) < n);
  const metrics: GoldenMetrics = { status: 'ok', source: 'sidecars', at: new Date().toISOString(), windowSeconds: 60, edges };
  const wall: number[] = [];
  const cpu: number[] = [];
  let bytes = 0;
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const json = JSON.stringify(meshGraph({ model, generation: 1, metrics, workloadName: workloadLabel }));
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    bytes = json.length;
  }
  const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  // CPU time as well as wall time: on a shared machine the wall time mostly measures the neighbours.
  console.log(`dashboard graph: ${n} workloads, ${n} services, ${edges.length} calls with traffic: build + layout + JSON ${median(cpu).toFixed(1)} ms CPU, ${median(wall).toFixed(1)} ms wall (medians of ${runs}), ${(bytes / 1024).toFixed(0)} KiB per poll`);
}
