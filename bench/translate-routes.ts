/**
 * issue 10 "Targets": translating 1,000 HTTPRoutes (1,000 services, one route
 * each with two weighted backends) for one proxy costs no more than the SMI
 * equivalent (1,000 TrafficSplits with the same backends and weights).
 *
 * The mesh: 1,000 root services, each with an HTTPRoute (or a TrafficSplit)
 * sending 90/10 to two of 1,000 backend services; one pod and endpoints per
 * service, in 10 namespaces. Measured, as the median of --runs runs (wall and
 * CPU time): building the model from the objects, then translating the whole
 * mesh for one Envoy with a fresh translator, without and with encoding every
 * resource. `scripts/bench.sh translate-routes` runs it alone; `npm run bench` after bench/translate.ts. Figures, never assertions. Prints JSON and a table; writes the
 * JSON to bench/results/translate-routes-<time>.json.
 *
 *   node --import tsx bench/translate-routes.ts [--routes 1000] [--runs 7]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeResource } from '../src/cache/resource.ts';
import { buildMesh } from '../src/model/index.ts';
import type { SourceObject } from '../src/model/object.ts';
import { proxyContext } from '../src/translate/proxy.ts';
import { Translator, type ProxyResources } from '../src/translate/translate.ts';
import { TypeUrl } from '../src/xds/type-urls.ts';
import { positiveInt } from './options.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const NAMESPACES = 10;

function obj(apiVersion: string, kind: string, name: string, namespace: string, raw: Record<string, unknown>, labels: Record<string, string> = {}): SourceObject {
  const metadata = { name, namespace, labels, annotations: {} };
  return { apiVersion, kind, metadata, raw: { apiVersion, kind, metadata, ...raw }, origin: { source: 'kubernetes' } };
}

const ip = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.1`;

/** Service i of `prefix` with one pod and its EndpointSlice (ip index `n`). */
function service(prefix: string, i: number, n: number): SourceObject[] {
  const ns = `ns-${i % NAMESPACES}`;
  const name = `${prefix}-${String(i).padStart(4, '0')}`;
  return [
    obj('v1', 'Service', name, ns, { spec: { selector: { app: name }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] } }),
    obj('v1', 'Pod', `${name}-0`, ns, { spec: { serviceAccountName: 'default', containers: [{ name: 'app' }] }, status: { podIP: ip(n) } }, { app: name }),
    obj('discovery.k8s.io/v1', 'EndpointSlice', name, ns, {
      addressType: 'IPv4', ports: [{ name: 'http', port: 8080 }],
      endpoints: [{ addresses: [ip(n)], conditions: { ready: true }, targetRef: { kind: 'Pod', name: `${name}-0` } }],
    }, { 'kubernetes.io/service-name': name }),
  ];
}

/** The two backends of root i: backends in the same namespace (i and i + 10, modulo the count). */
const backendsOf = (i: number, n: number) => [`backend-${String(i).padStart(4, '0')}`, `backend-${String((i + NAMESPACES) % n).padStart(4, '0')}`];

export function routeMesh(n: number, api: 'smi' | 'gateway'): SourceObject[] {
  const out: SourceObject[] = [];
  for (let k = 0; k < NAMESPACES; k++) out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${k}`, labels: {}, annotations: {} }, raw: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${k}` } }, origin: { source: 'kubernetes' } });
  for (let i = 0; i < n; i++) {
    out.push(...service('root', i, i), ...service('backend', i, n + i));
    const ns = `ns-${i % NAMESPACES}`;
    const root = `root-${String(i).padStart(4, '0')}`;
    const [b1, b2] = backendsOf(i, n);
    out.push(api === 'smi'
      ? obj('split.smi-spec.io/v1alpha4', 'TrafficSplit', root, ns, { spec: { service: root, backends: [{ service: b1, weight: 90 }, { service: b2, weight: 10 }] } })
      : obj('gateway.networking.k8s.io/v1', 'HTTPRoute', root, ns, {
        spec: { parentRefs: [{ group: '', kind: 'Service', name: root }], rules: [{ backendRefs: [{ name: b1, port: 8080, weight: 90 }, { name: b2, port: 8080, weight: 10 }] }] },
      }));
  }
  return out;
}

const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => {});

function measure<T>(f: () => T): { wallMs: number; cpuMs: number; value: T } {
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000, value };
}

const median = (xs: number[]) => {
  const s = xs.toSorted((a, b) => a - b);
  return Math.round((s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) * 10) / 10;
};

function encodeAll(out: ProxyResources): number {
  let bytes = 0;
  for (const [field, t] of [['clusters', TypeUrl.Cluster], ['endpoints', TypeUrl.Endpoint], ['listeners', TypeUrl.Listener], ['routes', TypeUrl.Route]] as const) {
    for (const r of out[field]) bytes += encodeResource(t, r).value.length;
  }
  return bytes;
}

/**
 * Both meshes are built first, then the runs alternate between them, so load
 * from other processes on the machine falls on both alike (wall time is
 * reported, but CPU time is the figure to compare on a shared machine).
 */
function runBoth(n: number, runs: number) {
  const apis = ['smi', 'gateway'] as const;
  const figures = apis.map((api) => {
    const objects = routeMesh(n, api);
    const builds = Array.from({ length: runs }, () => measure(() => buildMesh(objects)));
    const { model, statuses } = builds[0]!.value;
    const rejected = statuses.filter((s) => s.conditions.some((c) => c.type === 'Accepted' && c.status === 'False'));
    if (rejected.length > 0) throw new Error(`bench mesh has rejected objects: ${rejected.slice(0, 3).map((s) => `${s.kind} ${s.name}: ${s.conditions[0]!.message}`).join('; ')}`);
    const proxy = proxyContext({ id: 'ns-0/root-0000-0', user_agent_name: 'envoy' }, model);
    return { api, builds, model, proxy, translate: [] as { wallMs: number; cpuMs: number }[], encoded: [] as { wallMs: number; cpuMs: number }[] };
  });
  for (let r = 0; r < runs; r++) {
    for (const f of figures) {
      f.translate.push(measure(() => new Translator().translate(f.model, f.proxy)));
      f.encoded.push(measure(() => encodeAll(new Translator().translate(f.model, f.proxy))));
    }
  }
  return figures.map((f) => {
    const out = new Translator().translate(f.model, f.proxy);
    return {
      api: f.api,
      buildModelMs: median(f.builds.map((s) => s.wallMs)),
      buildModelCpuMs: median(f.builds.map((s) => s.cpuMs)),
      translateOneProxyMs: median(f.translate.map((s) => s.wallMs)),
      translateOneProxyCpuMs: median(f.translate.map((s) => s.cpuMs)),
      translateOneProxyCpuMinMs: Math.round(Math.min(...f.translate.map((s) => s.cpuMs)) * 10) / 10,
      translateAndEncodeCpuMs: median(f.encoded.map((s) => s.cpuMs)),
      clusters: out.clusters.length,
      virtualHosts: out.routes[0]!.virtual_hosts!.length,
      envoyRoutes: out.routes[0]!.virtual_hosts!.reduce((k, vh) => k + (vh.routes?.length ?? 0), 0),
      routeConfigBytes: encodeResource(TypeUrl.Route, out.routes[0]!).value.length,
    };
  });
}

function main(): void {
  const values: Record<string, unknown> = { routes: 1000, runs: 7 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.replace(/^--/, '');
    if (!(name in values)) throw new Error(`unknown option ${argv[i]}`);
    values[name] = argv[++i];
  }
  const routes = positiveInt(values, 'routes');
  const runs = positiveInt(values, 'runs');
  const results = runBoth(routes, runs);
  const report = { bench: 'translate-routes', routes, runs, results, gatewayOverSmiCpu: Math.round((results[1]!.translateOneProxyCpuMs / results[0]!.translateOneProxyCpuMs) * 100) / 100 };
  console.log(JSON.stringify(report, null, 2));
  console.table(results);
  const dir = path.join(here, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `translate-routes-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(report, null, 2));
}

if (process.argv[1]?.endsWith("translate-routes.ts")) main();
