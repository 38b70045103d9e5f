/**
 * The translation benchmark (issue 3, "Targets"): a mesh of --services
 * services × --endpoints endpoints and one workload per service (see
 * translate-mesh.ts), in permissive and strict mode. Measures, as the median
 * of several runs (wall and CPU time):
 *   - one proxy: translate the whole mesh for one Envoy, with a fresh
 *     translator (nothing memoized), with and without encoding every
 *     resource; and again with a warm translator (everything memoized);
 *   - all proxies: MeshPublisher.publish for --proxies connected Envoys
 *     into a SnapshotCache (translate + encode + snapshot per proxy);
 *   - an endpoint change of one service, on the warm publisher: publisher
 *     time, encodes (encodeStats delta), endpoint sets and snapshots that
 *     changed, and whether any proxy's clusters/listeners/routes changed —
 *     beside a no-op publish (same content, new model objects: the
 *     per-publish floor) and the full-mesh cost.
 * Figures, never assertions. Prints JSON and a table; writes the JSON to
 * bench/results/translate-<time>.json.
 *
 *   node --import tsx bench/translate.ts [--quick] [--services 1000] [--endpoints 10]
 *        [--proxies 1000] [--runs 7] [--all-runs 1] [--changes 5] [--modes permissive,strict]
 *
 * It re-runs itself with a larger heap and --expose-gc (a permissive
 * publish for 1,000 proxies holds over a million encoded clusters).
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeResource, encodeStats } from '../src/cache/resource.ts';
import { SnapshotCache } from '../src/cache/snapshot-cache.ts';
import type { Logger } from '../src/log.ts';
import { buildMesh } from '../src/model/index.ts';
import type { MeshModel } from '../src/model/types.ts';
import type { SourceObject } from '../src/model/object.ts';
import { proxyContext } from '../src/translate/proxy.ts';
import { MeshPublisher } from '../src/runtime/publisher.ts';
import { Translator, type ProxyResources } from '../src/translate/translate.ts';
import { TypeUrl, type ResourceTypeUrl } from '../src/xds/type-urls.ts';
import type { NodeInfo } from '../src/xds/wire.ts';
import { DEFAULT_SHAPE, endpointSlice, meshObjects, workloadKey, type MeshShape } from './translate-mesh.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const HEAP_MB = 12_000;

// --- options -----------------------------------------------------------------

interface Options {
  services: number;
  endpoints: number;
  proxies: number;
  runs: number;
  allRuns: number;
  changes: number;
  modes: ('permissive' | 'strict')[];
}

function parseOptions(argv: string[]): Options {
  const o: Options = { services: 1000, endpoints: 10, proxies: 1000, runs: 7, allRuns: 1, changes: 5, modes: ['permissive', 'strict'] };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    if (flag === '--quick') {
      Object.assign(o, { proxies: 100, runs: 3, allRuns: 1, changes: 3 });
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const int = (min: number) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: "${value}" is not a whole number ≥ ${min}`);
      return n;
    };
    switch (flag) {
      case '--services': o.services = int(3); break;
      case '--endpoints': o.endpoints = int(1); break;
      case '--proxies': o.proxies = int(1); break;
      case '--runs': o.runs = int(1); break;
      case '--all-runs': o.allRuns = int(1); break;
      case '--changes': o.changes = int(1); break;
      case '--modes': {
        const modes = value.split(',');
        for (const m of modes) if (m !== 'permissive' && m !== 'strict') throw new Error(`--modes: "${m}" is not permissive or strict`);
        o.modes = modes as Options['modes'];
        break;
      }
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  o.proxies = Math.min(o.proxies, o.services);
  return o;
}

// --- measuring -----------------------------------------------------------------

const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => {});

interface Sample {
  wallMs: number;
  cpuMs: number;
}

/** Runs `f` after a full GC; wall and process CPU time (CPU includes GC threads). */
function measure<T>(f: () => T): Sample & { value: T } {
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000, value };
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Stat {
  medianMs: number;
  minMs: number;
  maxMs: number;
  cpuMedianMs: number;
  runs: number;
}

function stat(samples: Sample[]): Stat {
  const med = (xs: number[]) => {
    const s = xs.toSorted((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const wall = samples.map((s) => s.wallMs);
  return { medianMs: round(med(wall)), minMs: round(Math.min(...wall)), maxMs: round(Math.max(...wall)), cpuMedianMs: round(med(samples.map((s) => s.cpuMs))), runs: samples.length };
}

const TYPES: [keyof Omit<ProxyResources, 'identities'>, ResourceTypeUrl][] = [
  ['clusters', TypeUrl.Cluster],
  ['endpoints', TypeUrl.Endpoint],
  ['listeners', TypeUrl.Listener],
  ['routes', TypeUrl.Route],
];

function encodeAll(out: ProxyResources): number {
  let n = 0;
  for (const [field, typeUrl] of TYPES) for (const r of out[field]) n += encodeResource(typeUrl, r).value.length;
  return n;
}

const envoyNode = (id: string): NodeInfo => ({ id, cluster: 'bench', user_agent_name: 'envoy' });

/** The logger the publisher gets: only errors (an inconsistent snapshot: a bug) are counted. */
function countingLogger(): { log: Logger; errors: string[] } {
  const errors: string[] = [];
  const noop = () => {};
  const log = { error: (_o: unknown, msg?: string) => errors.push(String(msg)), warn: noop, info: noop, debug: noop, trace: noop, child: () => log } as unknown as Logger;
  return { log, errors };
}

// --- phases ------------------------------------------------------------------

function oneProxyFigures(model: MeshModel, shape: MeshShape, runs: number) {
  // A proxy in the middle of the mesh (not a split root, no policy of its own).
  const node = envoyNode(workloadKey(Math.floor(shape.services / 2) + 1, shape));
  const proxy = proxyContext(node, model);
  const first = new Translator().translate(model, proxy);
  const size = { clusters: first.clusters.length, endpoints: first.endpoints.length, listeners: first.listeners.length, routes: first.routes.length };
  const cold: Sample[] = [];
  const coldEncoded: Sample[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    cold.push(measure(() => new Translator().translate(model, proxy)));
    coldEncoded.push(
      measure(() => {
        bytes = encodeAll(new Translator().translate(model, proxy));
      }),
    );
  }
  const warmTranslator = new Translator();
  warmTranslator.translate(model, proxy);
  const warm: Sample[] = [];
  for (let i = 0; i < runs; i++) warm.push(measure(() => warmTranslator.translate(model, proxy)));
  return {
    node: node.id,
    resources: size,
    encodedBytes: bytes,
    coldTranslate: stat(cold),
    coldTranslateAndEncode: stat(coldEncoded),
    warmTranslate: stat(warm),
  };
}

interface Publisher {
  publisher: MeshPublisher;
  cache: SnapshotCache;
  keys: string[];
  errors: string[];
}

function connect(shape: MeshShape, proxies: number): Publisher {
  const cache = new SnapshotCache((n) => n.id);
  const { log, errors } = countingLogger();
  const publisher = new MeshPublisher(cache, log);
  const keys: string[] = [];
  // Spread the connected proxies over the mesh.
  for (let k = 0; k < proxies; k++) {
    const id = workloadKey(Math.floor((k * shape.services) / proxies), shape);
    keys.push(id);
    cache.watch(id, envoyNode(id), () => {});
  }
  return { publisher, cache, keys, errors };
}

function resourcesIn(p: Publisher) {
  const distinct = new Map<ResourceTypeUrl, Set<unknown>>();
  let perProxy = 0;
  for (const key of p.keys) {
    const snap = p.cache.get(key);
    if (!snap) continue;
    for (const t of [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.Route, TypeUrl.Endpoint]) {
      const set = snap.get(t);
      if (t !== TypeUrl.Endpoint) perProxy += set.items.size;
      let d = distinct.get(t);
      if (!d) distinct.set(t, (d = new Set()));
      for (const r of set.items.values()) d.add(r);
    }
  }
  return {
    clustersListenersRoutesAllProxies: perProxy,
    distinct: { clusters: distinct.get(TypeUrl.Cluster)?.size ?? 0, listeners: distinct.get(TypeUrl.Listener)?.size ?? 0, routes: distinct.get(TypeUrl.Route)?.size ?? 0, endpoints: distinct.get(TypeUrl.Endpoint)?.size ?? 0 },
  };
}

function allProxiesFigures(model: MeshModel, shape: MeshShape, o: Options): { figures: Record<string, unknown>; warm: Publisher } {
  const samples: Sample[] = [];
  let warm: Publisher | undefined;
  let encodes = 0;
  let heapMiB = 0;
  for (let i = 0; i < o.allRuns; i++) {
    warm = undefined; // let the previous run's snapshots go before the next
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const p = connect(shape, o.proxies);
    const e0 = encodeStats.encodes;
    samples.push(measure(() => p.publisher.publish(model)));
    encodes = encodeStats.encodes - e0;
    gc();
    heapMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
    warm = p;
  }
  const s = stat(samples);
  return {
    figures: {
      proxies: o.proxies,
      publish: s,
      perProxyMs: round(s.medianMs / o.proxies, 2),
      encodes,
      ...resourcesIn(warm!),
      heapRetainedMiB: round(heapMiB, 0),
      snapshotErrors: warm!.errors.length,
    },
    warm: warm!,
  };
}

function endpointChangeFigures(objects: SourceObject[], shape: MeshShape, p: Publisher, full: { publishMs: number; encodes: number }, changes: number) {
  const sliceIndex = new Map<number, number>();
  objects.forEach((obj, idx) => {
    if (obj.kind === 'EndpointSlice') sliceIndex.set(Number(obj.metadata.name.slice(4, 8)), idx);
  });
  const snapshotsOf = () => p.keys.map((k) => p.cache.get(k)!);

  // The floor: the same content as new model objects (what any rebuild hands the publisher).
  const noopModel = buildMesh(objects).model;
  const before = snapshotsOf();
  const e0 = encodeStats.encodes;
  const noop = measure(() => p.publisher.publish(noopModel));
  const noopEncodes = encodeStats.encodes - e0;
  const noopSnapshotsChanged = snapshotsOf().filter((s, i) => s !== before[i]).length;

  const samples: Sample[] = [];
  const rows: Record<string, unknown>[] = [];
  let current = objects;
  for (let c = 0; c < changes; c++) {
    // Spread the changed services over the mesh; alternate gRPC services (two ports) in.
    const svc = (c * 97 + 5) % shape.services;
    const next = current.slice();
    next[sliceIndex.get(svc)!] = endpointSlice(svc, shape, c + 1);
    const build = measure(() => buildMesh(next).model);
    const prev = snapshotsOf();
    const prevEds = prev[0]!.get(TypeUrl.Endpoint);
    const enc0 = encodeStats.encodes;
    const sample = measure(() => p.publisher.publish(build.value));
    samples.push(sample);
    const now = snapshotsOf();
    const eds = now[0]!.get(TypeUrl.Endpoint);
    const routingChanged = now.filter((s, i) => [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.Route].some((t) => s.get(t) !== prev[i]!.get(t))).length;
    rows.push({
      service: svc,
      publisherMs: round(sample.wallMs),
      modelBuildMs: round(build.wallMs),
      endpointsOnly: sample.value.translated === 0,
      encodes: encodeStats.encodes - enc0,
      endpointSetsChanged: [...eds.changedSince(prevEds)],
      snapshotsUpdated: now.filter((s, i) => s !== prev[i]).length,
      proxiesWithClustersListenersOrRoutesChanged: routingChanged,
    });
    current = next;
  }
  const s = stat(samples);
  const encodesPerChange = rows.reduce((a, r) => a + (r.encodes as number), 0) / rows.length;
  return {
    noopPublish: { ms: round(noop.wallMs), encodes: noopEncodes, snapshotsChanged: noopSnapshotsChanged },
    publish: s,
    encodesPerChange,
    changes: rows,
    vsFullMesh: {
      fullPublishMs: full.publishMs,
      fullEncodes: full.encodes,
      timeRatio: round(s.medianMs / full.publishMs, 4),
      encodeRatio: round(encodesPerChange / full.encodes, 6),
    },
  };
}

// --- output ----------------------------------------------------------------------

type ModeResult = {
  mode: string;
  model: Record<string, unknown>;
  oneProxy: ReturnType<typeof oneProxyFigures>;
  allProxies: Record<string, any>;
  endpointChange: ReturnType<typeof endpointChangeFigures>;
};

function table(results: ModeResult[]): string {
  const ms = (s: Stat) => `${s.medianMs} ms (cpu ${s.cpuMedianMs}, min ${s.minMs})`;
  const rows: [string, (r: ModeResult) => unknown][] = [
    ['model: services / endpoints / workloads', (r) => `${r.model.services} / ${r.model.endpoints} / ${r.model.workloads}`],
    ['model: splits / policies / targets', (r) => `${r.model.splits} / ${r.model.policies} / ${r.model.accessRules}`],
    ['model build (buildMesh)', (r) => `${r.model.buildMs} ms`],
    ['one proxy: clusters / endpoints / listeners', (r) => `${r.oneProxy.resources.clusters} / ${r.oneProxy.resources.endpoints} / ${r.oneProxy.resources.listeners}`],
    ['one proxy: translate, cold', (r) => ms(r.oneProxy.coldTranslate)],
    ['one proxy: translate + encode, cold', (r) => ms(r.oneProxy.coldTranslateAndEncode)],
    ['one proxy: translate, warm (memoized)', (r) => ms(r.oneProxy.warmTranslate)],
    ['target: one proxy ≤ 50 ms (cold translate)', (r) => (r.oneProxy.coldTranslate.medianMs <= 50 ? 'met' : 'NOT met')],
    ['all proxies: publish (proxies)', (r) => `${ms(r.allProxies.publish)} (${r.allProxies.proxies})`],
    ['all proxies: per proxy', (r) => `${r.allProxies.perProxyMs} ms`],
    ['all proxies: encodes', (r) => r.allProxies.encodes],
    ['all proxies: distinct clusters / listeners / routes', (r) => `${r.allProxies.distinct.clusters} / ${r.allProxies.distinct.listeners} / ${r.allProxies.distinct.routes}`],
    ['all proxies: heap retained', (r) => `${r.allProxies.heapRetainedMiB} MiB`],
    ['no-op publish (equal model, new objects)', (r) => `${r.endpointChange.noopPublish.ms} ms, ${r.endpointChange.noopPublish.encodes} encodes`],
    ['endpoint change: publisher', (r) => ms(r.endpointChange.publish)],
    ['endpoint change: encodes per change', (r) => r.endpointChange.encodesPerChange],
    ['endpoint change: endpoint sets changed', (r) => r.endpointChange.changes.map((c) => (c.endpointSetsChanged as string[]).length).join(', ')],
    ['endpoint change: proxies with CDS/LDS/RDS changed', (r) => r.endpointChange.changes.map((c) => c.proxiesWithClustersListenersOrRoutesChanged).join(', ')],
    ['endpoint change vs full publish: time / encodes', (r) => `${r.endpointChange.vsFullMesh.timeRatio} / ${r.endpointChange.vsFullMesh.encodeRatio}`],
  ];
  const cells = [['', ...results.map((r) => r.mode)], ...rows.map(([label, f]) => [label, ...results.map((r) => String(f(r)))])];
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

function runMode(mode: 'permissive' | 'strict', o: Options): ModeResult {
  const shape: MeshShape = { ...DEFAULT_SHAPE, services: o.services, endpointsPerService: o.endpoints, strict: mode === 'strict' };
  const objects = meshObjects(shape);
  const built = measure(() => buildMesh(objects));
  const problems = built.value.statuses.flatMap((s) => s.problems).filter((p) => p.severity === 'error');
  if (problems.length > 0) throw new Error(`the benchmark mesh has errors: ${JSON.stringify(problems.slice(0, 3))}`);
  const model = built.value.model;
  const endpoints = [...model.services.values()].reduce((a, s) => a + s.ports.reduce((b, p) => b + p.endpoints.length, 0), 0);
  process.stderr.write(`[${mode}] model built in ${round(built.wallMs)} ms; one proxy…\n`);
  const oneProxy = oneProxyFigures(model, shape, o.runs);
  process.stderr.write(`[${mode}] one proxy: ${oneProxy.coldTranslate.medianMs} ms; ${o.proxies} proxies × ${o.allRuns} run(s)…\n`);
  const { figures, warm } = allProxiesFigures(model, shape, o);
  process.stderr.write(`[${mode}] all proxies: ${(figures.publish as Stat).medianMs} ms; endpoint changes…\n`);
  const endpointChange = endpointChangeFigures(objects, shape, warm, { publishMs: (figures.publish as Stat).medianMs, encodes: figures.encodes as number }, o.changes);
  return {
    mode,
    model: { services: model.services.size, endpoints, workloads: model.workloads.size, splits: model.splits.size, policies: model.policies.size, accessRules: model.accessRules.size, buildMs: round(built.wallMs) },
    oneProxy,
    allProxies: figures,
    endpointChange,
  };
}

function main(): number {
  let o: Options;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench/translate: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const results = o.modes.map((m) => runMode(m, o));
  const result = {
    benchmark: 'translate',
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', memoryGiB: round(os.totalmem() / 1024 ** 3), node: process.version, loadAverage: os.loadavg().map((x) => round(x, 2)) },
    options: o,
    results,
  };
  const dir = path.join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `translate-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n${table(results)}\n\nwritten to ${path.relative(process.cwd(), file)}\n`);
  return 0;
}

// Re-run with a heap that holds a permissive mesh for every proxy, and a GC to call between runs.
if (!process.execArgv.some((a) => a.startsWith('--max-old-space-size'))) {
  const child = fork(fileURLToPath(import.meta.url), process.argv.slice(2), { execArgv: [...process.execArgv, `--max-old-space-size=${HEAP_MB}`, '--expose-gc'] });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  process.exitCode = main();
}
