/**
 * Issue 14's "Bad input" on its mesh (bench/scale-mesh.ts: --workloads
 * services and one ADS stream per workload, permissive), with the folder
 * watcher on its own timing (debounce 50 ms, as `serve` runs it), so what
 * coalesces is Trellis's own debouncing, not the benchmark's:
 *   - burst: 1,000 edits of one TrafficPolicy written within ~1 s;
 *   - every service: every service's EndpointSlice rewritten at once (a node
 *     drain: every endpoint set changes);
 *   - reconnect storm: every stream dropped and reopened at once while an
 *     endpoint edit is written every 100 ms for 3 s.
 * For each: time from the last write to every stream in sync, the publishes
 * (model generations) it took, whether the served model holds the last
 * write, peak RSS, server CPU, and the ACK delay of the slowest stream next
 * to the median (a starved stream would stand out). Figures, never
 * assertions.
 *
 *   scripts/bench.sh scale-storm [--workloads 1000] [--xds delta|sotw] [--per-connection 10]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { rootLogger } from '../src/log.ts';
import { DEFAULT_SHAPE, endpointSlice, serviceName, workloadKey, type MeshShape } from './translate-mesh.ts';
import { watchdog } from './churn-mesh.ts';
import { positiveInt } from './options.ts';
import { Mesh, mib, pct, pollCpuMs, serverCpu, sleep, startClients, stopClients, waitInSync, write, yamlOf } from './scale-mesh.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    workloads: { type: 'string', default: '1000' },
    'per-connection': { type: 'string', default: '10' },
    xds: { type: 'string', default: 'delta' },
  },
});
const WORKLOADS = positiveInt(values, 'workloads');
const PER_CONNECTION = positiveInt(values, 'per-connection');
if (values.xds !== 'delta' && values.xds !== 'sotw') throw new Error(`--xds ${values.xds}: expected delta or sotw`);
const XDS = values.xds;

interface StormResult {
  scenario: string;
  writes: number;
  /** first write to last write */
  writeSpanMs: number;
  /** model generations published from the first write until in sync */
  publishes: number;
  lastWriteToInSyncMs: number;
  inSync: boolean;
  lastStateServed: boolean;
  ackP50Ms: number;
  ackMaxMs: number;
  peakRssMiB: number;
  serverCpuMs: number;
}

/** The highest RSS seen while `f` runs (sampled every 50 ms). */
async function peakRss<T>(f: () => Promise<T>): Promise<{ value: T; peak: number }> {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  try {
    const value = await f();
    return { value, peak: Math.max(peak, process.memoryUsage().rss) };
  } finally {
    clearInterval(t);
  }
}

async function main(): Promise<void> {
  rootLogger.level = 'error';
  watchdog(40 * 60_000, 'bench/scale-storm.ts');
  const shape: MeshShape = { ...DEFAULT_SHAPE, services: WORKLOADS };
  const mesh = await Mesh.start(shape, 50);
  const ids = Array.from({ length: WORKLOADS }, (_, i) => workloadKey(i, shape));
  let clients = await startClients(mesh, ids, XDS, PER_CONNECTION);
  const t0 = Date.now();
  const synced = await waitInSync(mesh, ids, 600_000);
  console.log(`[scale-storm] ${WORKLOADS} ${XDS} streams in sync after ${Date.now() - t0} ms${synced ? '' : ' (NOT all)'}`);

  const policy = mesh.intents.find((o) => o.kind === 'TrafficPolicy')!;
  // The YAML is rendered once with a marker value, so a write costs a string replace and not a render of every intent.
  const MARKER = 987654321;
  const policyYaml = yamlOf(
    mesh.intents.map((o) => {
      if (o !== policy) return o;
      const raw = structuredClone(o.raw) as { spec: { circuitBreaker: { maxConnections: number } } };
      raw.spec.circuitBreaker.maxConnections = MARKER;
      return { ...o, raw };
    }),
  );
  const writePolicy = (maxConnections: number) => write(mesh.dir, 'intents.yaml', policyYaml.replace(String(MARKER), String(maxConnections)));
  const policyServes = (maxConnections: number) =>
    [...(mesh.server.mesh!.model?.policies.values() ?? [])].some((p) => JSON.stringify(p).includes(`"maxConnections":${maxConnections}`));
  const writeSlice = (i: number, generation: number) => write(mesh.dir, `slices/${serviceName(i)}.yaml`, stringify(endpointSlice(i, shape, generation).raw));
  /** The served model holds generation `g` of service i's slice (translate-mesh.ts endpointSlice). */
  const sliceServes = (i: number, g: number) => {
    const model = mesh.server.mesh!.model;
    const svc = [...(model?.services.values() ?? [])].find((x) => x.name === serviceName(i));
    // One endpoint is not ready in every generation but 0: serving and terminating in odd ones, neither in even ones.
    const notReady = svc?.ports[0]?.endpoints.find((e) => !e.ready);
    return !!notReady && notReady.terminating === (1 + ((g - 1) % 2) === 1);
  };

  const scenarios: Array<{ name: string; run: () => Promise<{ writes: number; lastWriteAt: number; served: () => boolean }> }> = [
    {
      name: 'burst: 1,000 edits of one TrafficPolicy in ~1 s',
      run: async () => {
        const start = Date.now();
        let k = 0;
        while (k < 1000) {
          // Spread over a second: a few writes per millisecond tick.
          const due = Math.min(1000, Math.ceil(((Date.now() - start + 1) / 1000) * 1000));
          for (; k < due; k++) writePolicy(2000 + k);
          await sleep(1);
        }
        return { writes: 1000, lastWriteAt: Date.now(), served: () => policyServes(2999) };
      },
    },
    {
      name: 'every service: all EndpointSlices rewritten at once',
      run: async () => {
        for (let i = 0; i < shape.services; i++) writeSlice(i, 7);
        return { writes: shape.services, lastWriteAt: Date.now(), served: () => sliceServes(shape.services - 1, 7) };
      },
    },
    {
      name: 'reconnect storm: every stream reopened while an endpoint edit lands every 100 ms for 3 s',
      run: async () => {
        await stopClients(clients);
        clients = await startClients(mesh, ids, XDS, PER_CONNECTION);
        let writes = 0;
        // 31 writes, the last of generation 130: its conditions differ from the previous scenario's (7).
        for (let k = 0; k <= 30; k++) {
          writeSlice(3, 100 + k);
          writes++;
          await sleep(100);
        }
        return { writes, lastWriteAt: Date.now(), served: () => sliceServes(3, 130) };
      },
    },
  ];

  const results: StormResult[] = [];
  for (const s of scenarios) {
    await sleep(500);
    const gen0 = mesh.server.mesh!.generation;
    const c0 = process.cpuUsage();
    const poll0 = pollCpuMs();
    const start = Date.now();
    const { value, peak } = await peakRss(async () => {
      const w = await s.run();
      // In sync with what the last write says: wait for the model to hold it, then every stream.
      const end = Date.now() + 120_000;
      while (!w.served() && Date.now() < end) await sleep(20);
      const ok = await waitInSync(mesh, ids, Math.max(0, end - Date.now()));
      return { ...w, ok, at: Date.now(), served: w.served() };
    });
    const lat = mesh.ackLatencies(start);
    results.push({
      scenario: s.name,
      writes: value.writes,
      writeSpanMs: value.lastWriteAt - start,
      publishes: mesh.server.mesh!.generation - gen0,
      lastWriteToInSyncMs: value.at - value.lastWriteAt,
      inSync: value.ok,
      lastStateServed: value.served,
      ackP50Ms: pct(lat, 50),
      ackMaxMs: pct(lat, 100),
      peakRssMiB: mib(peak),
      serverCpuMs: serverCpu(c0, poll0),
    });
    const r = results.at(-1)!;
    console.log(`[scale-storm] ${r.scenario}: ${r.writes} writes over ${r.writeSpanMs} ms -> ${r.publishes} publishes; last write -> all ${WORKLOADS} in sync ${r.lastWriteToInSyncMs} ms${r.inSync ? '' : ' (NOT all in sync)'}; last state served: ${r.lastStateServed ? 'yes' : 'NO'}; ACK after first write p50 ${r.ackP50Ms} ms, slowest ${r.ackMaxMs} ms; peak RSS ${r.peakRssMiB} MiB; server CPU ${r.serverCpuMs} ms`);
  }
  await stopClients(clients);
  await mesh.close();
  mkdirSync(path.join(here, 'results'), { recursive: true });
  const file = path.join(here, 'results', `scale-storm-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ workloads: WORKLOADS, xds: XDS, results }, null, 2));
  console.log(`[scale-storm] JSON: ${path.relative(process.cwd(), file)}`);
}

await main();
process.exit(0);
