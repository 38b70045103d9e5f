/**
 * Issue 14's benchmark: scale by what changed. A mesh of --workloads
 * services, one pod each (bench/translate-mesh.ts: splits, route groups,
 * policies, and in strict mode a TrafficTarget per service account), served
 * by a real Trellis (`serve --source file:<dir>`, in this process) to one ADS
 * stream per workload (bench/scale-client-main.ts: each its own node id and
 * per-proxy view, Envoy-like subscriptions, state of the world or delta).
 *
 * For each authorization mode × xDS mode it measures:
 *   - the initial sync: every stream connected at once until every one has
 *     ACKed CDS, EDS, LDS and RDS (wall time, server CPU);
 *   - edits through the watched folder (a TrafficPolicy, a split weight, a
 *     service added, a pod added, an endpoint change, in strict mode a
 *     TrafficTarget): from the write to each affected stream's last ACK
 *     (p50/p99/max over the streams that got a response), server CPU and
 *     encodes for the edit;
 *   - resident memory of the whole mesh, and per stream beyond the shared
 *     config (RSS with the streams connected minus RSS with the model built
 *     and no stream, over the stream count).
 * Figures, never assertions.
 *
 *   scripts/bench.sh scale [--workloads 1000] [--modes permissive,strict] [--xds sotw,delta] [--per-connection 10]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { encodeStats } from '../src/cache/resource.ts';
import { rootLogger } from '../src/log.ts';
import type { SourceObject } from '../src/model/object.ts';
import { endpointSlice, namespaceOf, serviceName, workloadKey, DEFAULT_SHAPE, type MeshShape } from './translate-mesh.ts';
import { watchdog } from './churn-mesh.ts';
import { positiveInt } from './options.ts';
import { Mesh, mib, pct, pollCpuMs, profiled, serverCpu, settledMemory, sleep, startClients, stopClients, waitInSync, write, yamlOf } from './scale-mesh.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Options {
  workloads: number;
  modes: ('permissive' | 'strict')[];
  xds: ('sotw' | 'delta')[];
  perConnection: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      workloads: { type: 'string', default: '1000' },
      'per-connection': { type: 'string', default: '10' },
      modes: { type: 'string', default: 'permissive,strict' },
      xds: { type: 'string', default: 'sotw,delta' },
    },
  });
  const list = <T extends string>(name: 'modes' | 'xds', allowed: readonly T[]): T[] => {
    const got = values[name].split(',');
    for (const g of got) if (!allowed.includes(g as T)) throw new Error(`--${name}: "${g}" is not one of ${allowed.join(', ')}`);
    return got as T[];
  };
  return {
    workloads: positiveInt(values, 'workloads'),
    perConnection: positiveInt(values, 'per-connection'),
    modes: list('modes', ['permissive', 'strict'] as const),
    xds: list('xds', ['sotw', 'delta'] as const),
  };
}

interface EditResult {
  edit: string;
  affected: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  serverCpuMs: number;
  encodes: number;
  inSync: boolean;
}

/** A file an edit writes: its path in the folder and its text. */
type FileWrite = [file: string, text: string];

/**
 * The edits, in order; each returns the files it writes (made before the clock starts: serialising
 * 3,000 intents to YAML is the benchmark's work, not Trellis's). Every edit changes something served.
 */
function edits(mesh: Mesh, strict: boolean): Array<{ name: string; run: (k: number) => FileWrite[] }> {
  const shape = mesh.shape;
  const intents = mesh.intents;
  const writeIntents = (list: SourceObject[]): FileWrite[] => [['intents.yaml', yamlOf(list)]];
  const replace = (kind: string, edit: (spec: Record<string, any>, k: number) => void) => (k: number): FileWrite[] => {
    let done = false;
    const list = intents.map((o) => {
      if (done || o.kind !== kind) return o;
      done = true;
      const raw = structuredClone(o.raw) as { spec: Record<string, any> };
      edit(raw.spec, k);
      return { ...o, raw };
    });
    return writeIntents(list);
  };
  const list: Array<{ name: string; run: (k: number) => FileWrite[] }> = [
    { name: 'TrafficPolicy change', run: replace('TrafficPolicy', (s, k) => (s.circuitBreaker.maxConnections = 150 + k)) },
    { name: 'split weight change', run: replace('TrafficSplit', (s, k) => { s.backends[0].weight = 80 - k; s.backends[1].weight = 20 + k; }) },
    {
      name: 'service added',
      run: (k) => {
        const i = shape.services + k;
        const ns = namespaceOf(0, shape);
        const name = `added-${k}`;
        return [[`added/${name}.yaml`, stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 8080 }] } }) +
          '---\n' + stringify({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-slice`, namespace: ns, labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', ports: [{ name: 'http', port: 8080 }], endpoints: [{ addresses: [`10.200.${i >> 8 & 255}.${i & 255}`], conditions: { ready: true } }] })]];
      },
    },
    {
      name: 'pod added',
      run: (k) => {
        // A second pod of service 1 and its endpoint: a new workload, and service 1's endpoint set grows.
        const i = 1;
        const ns = namespaceOf(i, shape);
        const pod = `${serviceName(i)}-extra-${k}`;
        const slice = endpointSlice(i, shape);
        const eps = slice.raw.endpoints as Array<Record<string, unknown>>;
        const ip = `10.201.${(k >> 8) & 255}.${k & 255}`;
        eps.push({ addresses: [ip], conditions: { ready: true }, zone: 'zone-a', targetRef: { kind: 'Pod', name: pod } });
        return [
          [`slices/${serviceName(i)}.yaml`, stringify(slice.raw)],
          [`added/${pod}.yaml`, stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: ns, labels: { app: serviceName(i) } }, spec: { serviceAccountName: serviceName(i), containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] }, status: { podIP: ip } })],
        ];
      },
    },
    {
      name: 'endpoint change',
      run: (k) => [[`slices/${serviceName(2)}.yaml`, stringify(endpointSlice(2, shape, k + 1).raw)]],
    },
  ];
  if (strict) {
    list.push({
      name: 'TrafficTarget change',
      run: replace('TrafficTarget', (s, k) => s.sources.push({ kind: 'ServiceAccount', name: serviceName((500 + k) % shape.services), namespace: namespaceOf((500 + k) % shape.services, shape) })),
    });
  }
  return list;
}

async function runOne(mode: 'permissive' | 'strict', xds: 'sotw' | 'delta', o: Options) {
  const shape: MeshShape = { ...DEFAULT_SHAPE, services: o.workloads, strict: mode === 'strict' };
  const mesh = await Mesh.start(shape);
  const ids = Array.from({ length: o.workloads }, (_, i) => workloadKey(i, shape));
  await sleep(500);
  const before = await settledMemory();
  const cpu0 = process.cpuUsage();
  const poll0 = pollCpuMs();
  const t0 = Date.now();
  const clients = await startClients(mesh, ids, xds, o.perConnection);
  const synced = await profiled('initial sync', () => waitInSync(mesh, ids, 300_000));
  const initial = { ms: Date.now() - t0, serverCpuMs: serverCpu(cpu0, poll0), inSync: synced, sentMiB: Object.fromEntries(Object.entries(await mesh.bytesSent()).map(([t, b]) => [t, mib(b)])) };
  const synced_ = await settledMemory();
  const results: EditResult[] = [];
  for (const [k, edit] of edits(mesh, mode === 'strict').entries()) {
    await sleep(300);
    const files = edit.run(k);
    const e0 = encodeStats.encodes;
    const c0 = process.cpuUsage();
    const poll0 = pollCpuMs();
    const start = Date.now();
    const ok = await profiled(edit.name, async () => {
      for (const [file, text] of files) write(mesh.dir, file, text);
      await mesh.apply();
      return waitInSync(mesh, ids, 120_000);
    });
    const serverCpuMs = serverCpu(c0, poll0);
    const lat = mesh.ackLatencies(start);
    results.push({ edit: edit.name, affected: lat.length, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), maxMs: pct(lat, 100), serverCpuMs, encodes: encodeStats.encodes - e0, inSync: ok });
  }
  await stopClients(clients);
  await mesh.close();
  return {
    mode,
    xds,
    streams: o.workloads,
    initialSync: initial,
    memory: {
      rssMiB: mib(synced_.rss),
      heapMiB: mib(synced_.heap),
      /** heap + external after a GC, with the streams, minus before any stream connected: per stream */
      perStreamKiB: Math.round((synced_.heap - before.heap) / 1024 / o.workloads),
      perStreamRssKiB: Math.round((synced_.rss - before.rss) / 1024 / o.workloads),
      modelOnlyHeapMiB: mib(before.heap),
    },
    edits: results,
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  rootLogger.level = 'error';
  watchdog(60 * 60_000, 'bench/scale.ts');
  const all = [];
  for (const mode of o.modes) {
    for (const xds of o.xds) {
      const r = await runOne(mode, xds, o);
      all.push(r);
      console.log(`\n[scale] ${r.streams} streams, ${mode}, ${xds}: initial sync ${r.initialSync.ms} ms (server CPU ${r.initialSync.serverCpuMs} ms, sent ${Object.entries(r.initialSync.sentMiB).map(([t, m]) => `${t} ${m}`).join(', ')} MiB${r.initialSync.inSync ? '' : ', NOT all in sync'}); RSS ${r.memory.rssMiB} MiB, heap ${r.memory.heapMiB} MiB: ${r.memory.perStreamKiB} KiB heap (${r.memory.perStreamRssKiB} KiB RSS) per stream beyond the model's ${r.memory.modelOnlyHeapMiB} MiB`);
      console.log('  edit                    affected   p50 ms   p99 ms   max ms   server CPU ms   encodes');
      for (const e of r.edits) {
        console.log(`  ${e.edit.padEnd(24)}${String(e.affected).padStart(8)}${String(e.p50Ms).padStart(9)}${String(e.p99Ms).padStart(9)}${String(e.maxMs).padStart(9)}${String(e.serverCpuMs).padStart(16)}${String(e.encodes).padStart(10)}${e.inSync ? '' : '  (not all in sync)'}`);
      }
    }
  }
  mkdirSync(path.join(here, 'results'), { recursive: true });
  const file = path.join(here, 'results', `scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(all, null, 2));
  console.log(`\n[scale] JSON: ${path.relative(process.cwd(), file)}`);
}

await main();
process.exit(0);
