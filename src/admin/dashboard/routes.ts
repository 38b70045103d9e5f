/**
 * The dashboard the admin serves (docs/telemetry.md "Dashboard"):
 *   GET /dashboard             the page (static HTML, script and style: no build step, nothing from a CDN)
 *   GET /api/v1/graph?window=  the mesh as a graph with golden metrics per edge (graph.ts)
 * The page polls the graph and the existing JSON APIs (/api/v1/intents,
 * /api/v1/proxies, /api/v1/certificates): each is one home of its fact, and
 * the page only draws them.
 */
import { readFileSync } from 'node:fs';
import type { MeshModel, Workload } from '../../model/types.ts';
import type { AdminServer } from '../http.ts';
import type { GoldenMetrics } from '../golden/edges.ts';
import type { GoldenMetricsReader } from '../golden/reader.ts';
import { edgeQueryOf } from '../golden/routes.ts';
import { meshGraph, type MeshGraph } from './graph.ts';

const STATIC: ReadonlyArray<[path: string, file: string, type: string]> = [
  ['/dashboard', 'index.html', 'text/html; charset=utf-8'],
  ['/dashboard/', 'index.html', 'text/html; charset=utf-8'],
  ['/dashboard/app.js', 'app.js', 'text/javascript; charset=utf-8'],
  ['/dashboard/style.css', 'style.css', 'text/css; charset=utf-8'],
];

export interface DashboardSources {
  reader: GoldenMetricsReader;
  mesh: { readonly generation: number; readonly model?: MeshModel } | undefined;
  workloadName: (w: Pick<Workload, 'name' | 'labels'>) => string;
}

/** How long one read of the golden metrics serves every open dashboard: below the page's 2 s poll. */
export const SHARED_READ_MS = 1500;

/**
 * Reads per window, shared while younger than `maxAgeMs`: ten open
 * dashboards scrape each sidecar (or query Prometheus) once per poll, not ten
 * times. A read in flight is shared too.
 */
export function sharedReads(reader: GoldenMetricsReader, maxAgeMs = SHARED_READ_MS, now: () => number = Date.now): (windowSeconds: number | undefined) => Promise<GoldenMetrics> {
  const recent = new Map<number | undefined, { at: number; read: Promise<GoldenMetrics> }>();
  return (windowSeconds) => {
    const t = now();
    for (const [k, r] of recent) if (t - r.at >= maxAgeMs) recent.delete(k);
    let r = recent.get(windowSeconds);
    if (!r) recent.set(windowSeconds, (r = { at: t, read: reader.read({ ...(windowSeconds !== undefined ? { windowSeconds } : {}), byRoute: false }) }));
    return r.read;
  };
}

export function mountDashboard(admin: AdminServer, s: DashboardSources): void {
  for (const [path, file, type] of STATIC) admin.asset(path, type, readFileSync(new URL(`./static/${file}`, import.meta.url), 'utf8'));
  const read = sharedReads(s.reader);
  // One build per shared read and model: the polls a read serves get the same graph (bench/dashboard-graph.ts: ~90 ms of CPU for 1,000 workloads).
  const built = new WeakMap<GoldenMetrics, { model: MeshModel | undefined; graph: MeshGraph }>();
  admin.route('/api/v1/graph', async (_p, url) => {
    const metrics = await read(edgeQueryOf(url).windowSeconds);
    const model = s.mesh?.model;
    const hit = built.get(metrics);
    if (hit && hit.model === model) return hit.graph;
    const graph = meshGraph({ model, generation: s.mesh?.generation ?? 0, metrics, workloadName: s.workloadName });
    built.set(metrics, { model, graph });
    return graph;
  });
}
