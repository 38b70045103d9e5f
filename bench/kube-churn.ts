/**
 * `scripts/bench.sh kube`: issue 6's target "5,000 EndpointSlice updates per
 * minute absorbed with p99 change-to-ACK ≤ 1 s for 1,000 streams".
 *
 * Against a real kube-apiserver and etcd (test/support/kube.ts; the binary
 * scripts/kube-apiserver.sh caches): a namespace in the mesh with --services
 * Services, each with one EndpointSlice of 3 endpoints, and one Pod per
 * stream. The real `trellis serve --source kubernetes` (bin/trellis.js) runs
 * on it; --streams ADS streams from --generators client processes
 * (bench/kube-churn-client-main.ts) connect as the pods' sidecars (plaintext
 * listener, no secrets) and ACK everything. Once all are synced, the
 * EndpointSlices are patched at --per-minute updates per minute for
 * --duration seconds, round-robin over the services; each update replaces
 * the slice's oldest endpoint with an address that encodes the update's
 * number, so clients can tell which updates each EDS response carries.
 *
 * change→ACK, per (update, stream): from just before the PATCH is sent to the
 * API server (so the API server's write and watch delivery are included) to
 * when the stream writes the ACK of the first EDS response that carries it.
 *
 * Figures, never assertions: exit 0 whether or not the target is met (1 only
 * when the benchmark could not run). Bounded: a watchdog ends everything.
 *   node --import tsx bench/kube-churn.ts [--streams 1000] [--services 100]
 *     [--per-minute 5000] [--duration 60] [--generators 2] [--per-connection 100]
 *     [--window 50] [--drain 10] [--pods true|false] [--max-delay MS] [--timeout 600]
 *
 * Under steady churn the source publishes at most every `serve --max-delay-ms`
 * (DEFAULT_MAX_DELAY_MS; --max-delay here): that bounds how fresh a push can be.
 */
import { procCpuMs } from './proc.ts';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { outboundClusterName, OUTBOUND_ROUTE } from '../src/translate/names.ts';
import { KubeApiError } from '../src/sources/kubernetes/rest.ts';
import { DEFAULT_MAX_DELAY_MS } from '../src/sources/kubernetes/source.ts';
import { apply, freePort, KubeCluster, kubeMissingReason } from '../test/support/kube.ts';
import { now } from './ipc.ts';
import type { ChurnClientConfig, ChurnClientReport, ChurnClientResults } from './kube-churn-client-main.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const NS = 'bench';
const PORT = 8080;

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1000' },
    services: { type: 'string', default: '100' },
    'per-minute': { type: 'string', default: '5000' },
    duration: { type: 'string', default: '60' },
    generators: { type: 'string', default: '2' },
    'per-connection': { type: 'string', default: '100' },
    window: { type: 'string', default: '50' },
    drain: { type: 'string', default: '10' },
    pods: { type: 'string', default: 'true' },
    'max-in-flight': { type: 'string', default: '16' },
    /** serve --max-delay-ms: under steady churn, how often the mesh publishes (default DEFAULT_MAX_DELAY_MS) */
    'max-delay': { type: 'string' },
    timeout: { type: 'string', default: '600' },
  },
});
const int = (name: keyof typeof values, min = 1): number => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`bench: --${name} ${String(values[name])}: expected a number ≥ ${min}\n`);
    process.exit(2);
  }
  return n;
};
const o = {
  streams: int('streams'),
  services: int('services'),
  perMinute: int('per-minute'),
  durationS: int('duration'),
  generators: int('generators'),
  perConnection: int('per-connection'),
  window: int('window'),
  drainS: int('drain', 0),
  pods: values.pods !== 'false',
  maxInFlight: int('max-in-flight'),
  maxDelayMs: values['max-delay'] === undefined ? undefined : int('max-delay', 0),
  timeoutS: int('timeout', 30),
};
const updates = Math.round((o.perMinute / 60) * o.durationS);

// --- processes, and a watchdog over all of them ----------------------------------

const children = new Set<ChildProcess>();
let cluster: KubeCluster | undefined;
let tmp: string | undefined;
function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
async function cleanup(): Promise<void> {
  killChildren();
  await cluster?.stop().catch(() => {});
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void cleanup().finally(() => process.exit(130)));
const watchdog = setTimeout(() => {
  process.stderr.write(`bench: gave up after ${o.timeoutS} s\n`);
  void cleanup().finally(() => process.exit(1));
}, o.timeoutS * 1000);
watchdog.unref();

const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Client {
  private nextId = 1;
  private readonly pending = new Map<number, (m: unknown) => void>();
  private readonly waiting = new Map<string, (m: unknown) => void>();
  private readonly early = new Map<string, unknown>();
  readonly proc: ChildProcess;
  constructor(readonly name: string) {
    this.proc = fork(path.join(here, 'kube-churn-client-main.ts'), [], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(this.proc);
    this.proc.on('message', (m: { id?: number; event?: string }) => {
      if (m.id !== undefined) this.pending.get(m.id)?.(m), this.pending.delete(m.id);
      else if (m.event) {
        const w = this.waiting.get(m.event);
        if (w) this.waiting.delete(m.event), w(m);
        else this.early.set(m.event, m);
      }
    });
  }
  event<T>(event: string, timeoutMs: number): Promise<T> {
    if (this.early.has(event)) return Promise.resolve(this.early.get(event) as T);
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: no "${event}" within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(event, (m) => (clearTimeout(t), resolve(m as T)));
      this.proc.once('exit', (code) => reject(new Error(`${this.name} exited (${code}) before "${event}"`)));
    });
  }
  request<T>(msg: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: no reply to ${String(msg.cmd)}`)), timeoutMs);
      this.pending.set(id, (m) => (clearTimeout(t), resolve(m as T)));
      this.proc.send({ ...msg, id });
    });
  }
  send(msg: unknown): void {
    this.proc.send(msg as object);
  }
}

function rssMiBOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}
/** p-th percentile of a 1 ms histogram. */
function histPercentile(h: readonly number[], total: number, p: number): number {
  if (total === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (let i = 0; i < h.length; i++) if ((seen += h[i]!) >= rank) return i + 1; // upper edge of the bucket
  return h.length;
}
const round = (n: number, d = 1) => (Number.isFinite(n) ? Number(n.toFixed(d)) : null);

// --- the mesh in the cluster ------------------------------------------------------

const svcName = (s: number) => `svc-${String(s).padStart(3, '0')}`;
/** The address of update k: 10.(100 + k>>16).(k>>8 & 255).(k & 255). */
const marker = (k: number) => `10.${100 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;
/** The slice of service s after update k (k < 0: before any): the 3 newest addresses. */
function endpointsAfter(s: number, k: number): Array<Record<string, unknown>> {
  return [0, 1, 2].map((j) => {
    const u = k - j * o.services;
    return { addresses: [u >= 0 ? marker(u) : `10.50.${s}.${j + 1}`], conditions: { ready: true }, zone: `z${j % 2}` };
  });
}

async function createMesh(c: KubeCluster): Promise<void> {
  await apply(c.rest, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'trellis.io/mesh': 'enabled' } } }]);
  const objects: Array<Record<string, unknown>> = [];
  for (let s = 0; s < o.services; s++) {
    objects.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: svcName(s), namespace: NS }, spec: { selector: { app: svcName(s) }, ports: [{ name: 'http', port: PORT, targetPort: PORT }] } });
    objects.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: svcName(s), namespace: NS, labels: { 'kubernetes.io/service-name': svcName(s) } },
      addressType: 'IPv4',
      endpoints: endpointsAfter(s, -1),
      ports: [{ name: 'http', port: PORT, protocol: 'TCP' }],
    });
  }
  if (o.pods) {
    for (let i = 0; i < o.streams; i++) {
      objects.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `pod-${i}`, namespace: NS, labels: { app: 'client' } },
        spec: { serviceAccountName: 'client', containers: [{ name: 'app', image: 'registry.example/client:1' }] },
        status: { podIP: `10.1.${i >> 8}.${i & 255}` },
      });
    }
  }
  // A few writers at once: a thousand pods one by one take long on a busy machine.
  let next = 0;
  await Promise.all(Array.from({ length: 12 }, async () => {
    while (next < objects.length) await apply(c.rest, [objects[next++]!]);
  }));
}

// --- the run -----------------------------------------------------------------------

async function main(): Promise<number> {
  const missing = kubeMissingReason();
  if (missing) {
    log(`no Kubernetes API server: ${missing}`);
    return 1;
  }
  const t0 = now();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'trellis-kube-churn-'));
  cluster = await KubeCluster.start({ authorizationMode: 'AlwaysAllow' });
  log(`API server on ${cluster.server}; creating ${o.services} services${o.pods ? ` and ${o.streams} pods` : ''}`);
  const meshStart = now();
  await createMesh(cluster);
  const meshMs = now() - meshStart;

  const [xdsPort, plainPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const server = spawn(process.execPath, [
    path.join(repo, 'bin/trellis.js'), 'serve', '--source', 'kubernetes', '--kubeconfig', cluster.kubeconfigPath,
    '--state-dir', path.join(tmp, 'state'), '--xds-address', `127.0.0.1:${xdsPort}`,
    '--xds-plaintext-address', `127.0.0.1:${plainPort}`, '--admin-address', `127.0.0.1:${adminPort}`,
    ...(o.maxDelayMs !== undefined ? ['--max-delay-ms', String(o.maxDelayMs)] : []),
  ], { env: { ...process.env, TRELLIS_LOG_LEVEL: process.env.TRELLIS_LOG_LEVEL ?? 'error', NODE_OPTIONS: '--max-old-space-size=4096' }, stdio: ['ignore', 'inherit', 'inherit'] });
  children.add(server);
  const readyBy = now() + 120_000;
  while ((await fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.status).catch(() => 0)) !== 200) {
    if (server.exitCode !== null) throw new Error(`trellis serve exited (${server.exitCode})`);
    if (now() > readyBy) throw new Error('trellis serve not ready within 120 s');
    await sleep(200);
  }
  log(`trellis serve --source kubernetes ready (pid ${server.pid})`);

  // --- streams
  const edsNames = Array.from({ length: o.services }, (_, s) => outboundClusterName(NS, svcName(s), PORT));
  const gens: Client[] = [];
  let first = 0;
  for (let g = 0; g < Math.min(o.generators, o.streams); g++) {
    const streams = Math.floor(o.streams / o.generators) + (g < o.streams % o.generators ? 1 : 0);
    const c = new Client(`gen${g}`);
    const cfg: ChurnClientConfig = { generator: g, address: `127.0.0.1:${plainPort}`, firstStream: first, streams, perConnection: o.perConnection, window: o.window, edsNames, routeName: OUTBOUND_ROUTE, updates, syncTimeoutMs: 180_000 };
    c.send(cfg);
    first += streams;
    gens.push(c);
  }
  await Promise.all(gens.map((g) => g.event('ready', 60_000)));
  const syncStart = now();
  for (const g of gens) g.send({ cmd: 'start', id: 0 });
  const synced = await Promise.all(gens.map((g) => g.event<{ synced: number; failed: number; at: number; errors: string[] }>('synced', 200_000)));
  const held = synced.reduce((a, s) => a + s.synced, 0);
  const syncMs = Math.max(...synced.map((s) => s.at)) - syncStart;
  log(`${held} of ${o.streams} streams synced in ${Math.round(syncMs)} ms${synced.some((s) => s.errors.length) ? `: ${synced.flatMap((s) => s.errors).join('; ')}` : ''}`);
  await sleep(1000);

  // --- churn
  const before = { server: procCpuMs(server.pid!), gens: await Promise.all(gens.map((g) => g.request<ChurnClientReport>({ cmd: 'report' }))) };
  const writtenAt = new Array<number>(updates).fill(NaN);
  const apiMs: number[] = [];
  const writeErrors: string[] = [];
  let failedWrites = 0;
  let inFlight = 0;
  let maxLagMs = 0;
  const intervalMs = 60_000 / o.perMinute;
  const churnStart = now();
  log(`churn: ${updates} EndpointSlice updates at ${o.perMinute}/min (one every ${intervalMs.toFixed(1)} ms) for ${o.durationS} s`);
  const inflight = new Set<Promise<void>>();
  for (let k = 0; k < updates; k++) {
    const due = churnStart + k * intervalMs;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    while (inFlight >= o.maxInFlight) await Promise.race(inflight);
    maxLagMs = Math.max(maxLagMs, now() - due);
    const s = k % o.services;
    writtenAt[k] = now();
    inFlight++;
    const p = cluster.rest
      .patch(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/${svcName(s)}`, { endpoints: endpointsAfter(s, k) }, 'merge')
      .then(
        () => void apiMs.push(now() - writtenAt[k]!),
        (e: unknown) => {
          failedWrites++;
          writtenAt[k] = NaN;
          if (writeErrors.length < 5) writeErrors.push(e instanceof KubeApiError ? e.message : String(e));
        },
      )
      .finally(() => {
        inFlight--;
        inflight.delete(p);
      });
    inflight.add(p);
  }
  await Promise.all(inflight);
  const churnMs = now() - churnStart;
  log(`churn done in ${Math.round(churnMs)} ms (max lag behind schedule ${Math.round(maxLagMs)} ms); draining ${o.drainS} s`);
  await sleep(o.drainS * 1000);
  const after = { server: procCpuMs(server.pid!), gens: await Promise.all(gens.map((g) => g.request<ChurnClientReport>({ cmd: 'report' }))) };
  const serverRss = rssMiBOf(server.pid!);

  // --- figures
  const results = await Promise.all(gens.map((g) => g.request<ChurnClientResults>({ cmd: 'results', writtenAt, measuredFrom: churnStart - 1 }, 120_000)));
  const hist = new Array<number>(results[0]!.histogram.length).fill(0);
  for (const r of results) r.histogram.forEach((n, i) => (hist[i]! += n));
  const samples = results.reduce((a, r) => a + r.samples, 0);
  const missingPairs = results.reduce((a, r) => a + r.missing, 0);
  apiMs.sort((a, b) => a - b);
  const edsResponses = after.gens.reduce((a, r) => a + r.edsResponses, 0) - before.gens.reduce((a, r) => a + r.edsResponses, 0);
  const edsResources = after.gens.reduce((a, r) => a + r.edsResources, 0) - before.gens.reduce((a, r) => a + r.edsResources, 0);
  const genCpu = after.gens.reduce((a, r, i) => a + (r.cpu.user + r.cpu.system - before.gens[i]!.cpu.user - before.gens[i]!.cpu.system) / 1000, 0);
  const writes = updates - failedWrites;
  const p99 = histPercentile(hist, samples, 99);
  const result = {
    benchmark: 'kube-churn',
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', loadAverage: os.loadavg().map((x) => round(x, 2)), memoryGiB: round(os.totalmem() / 1024 ** 3), node: process.version },
    options: o,
    setup: { meshCreateMs: round(meshMs, 0), streamsHeld: held, streamsFailed: o.streams - held, initialSyncMs: round(syncMs, 0) },
    churn: {
      updatesPlanned: updates,
      updatesWritten: writes,
      failedWrites,
      writeErrors,
      achievedPerMinute: round((writes / churnMs) * 60_000, 0),
      maxLagBehindScheduleMs: round(maxLagMs, 0),
      apiWriteMs: { p50: round(percentile(apiMs, 50)), p99: round(percentile(apiMs, 99)), max: round(apiMs.at(-1) ?? NaN) },
    },
    changeToAck: {
      samples,
      missing: missingPairs,
      p50Ms: histPercentile(hist, samples, 50),
      p90Ms: histPercentile(hist, samples, 90),
      p99Ms: p99,
      maxMs: round(Math.max(...results.map((r) => r.maxMs))),
    },
    pushes: {
      edsResponsesPerStream: round(edsResponses / Math.max(1, held)),
      updatesPerEdsResponse: round((writes * Math.max(1, held)) / Math.max(1, edsResponses), 2),
      clusterLoadAssignmentsPerResponse: round(edsResources / Math.max(1, edsResponses), 2),
    },
    cpu: {
      serverCores: round((after.server - before.server) / (churnMs + o.drainS * 1000), 2),
      clientCores: round(genCpu / (churnMs + o.drainS * 1000), 2),
    },
    serverRssMiB: serverRss,
    target: { p99UnderOneSecond: held === o.streams && missingPairs === 0 && p99 <= 1000 },
    wallS: round((now() - t0) / 1000, 0),
  };
  for (const g of gens) g.send({ cmd: 'stop', id: 0 });
  server.kill('SIGTERM');

  const rows: Array<[string, string]> = [
    ['streams held (of N)', `${held} (of ${o.streams})`],
    ['services / EndpointSlices', `${o.services}`],
    ['pods in the mesh', o.pods ? `${o.streams}` : '0'],
    ['serve --max-delay-ms', o.maxDelayMs === undefined ? `${DEFAULT_MAX_DELAY_MS} (default)` : `${o.maxDelayMs}`],
    ['initial sync', `${result.setup.initialSyncMs} ms`],
    ['updates written (planned)', `${writes} (${updates}) over ${round(churnMs / 1000)} s`],
    ['achieved rate', `${result.churn.achievedPerMinute}/min`],
    ['API write p50 / p99', `${result.churn.apiWriteMs.p50} / ${result.churn.apiWriteMs.p99} ms`],
    ['change→ACK p50 / p90 / p99 / max', `${result.changeToAck.p50Ms} / ${result.changeToAck.p90Ms} / ${result.changeToAck.p99Ms} / ${result.changeToAck.maxMs} ms`],
    ['samples (missing)', `${samples} (${missingPairs})`],
    ['EDS responses per stream', `${result.pushes.edsResponsesPerStream} (${result.pushes.updatesPerEdsResponse} updates each)`],
    ['server CPU (cores)', `${result.cpu.serverCores}`],
    ['client CPU (cores)', `${result.cpu.clientCores}`],
    ['server RSS', `${serverRss} MiB`],
    ['machine load average', result.machine.loadAverage.join(' ')],
    ['target: p99 ≤ 1 s, N streams', result.target.p99UnderOneSecond ? 'met' : 'NOT met'],
  ];
  const dir = path.join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `kube-churn-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const w = Math.max(...rows.map((r) => r[0].length));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n${rows.map(([a, b]) => `${a.padEnd(w)}  ${b}`).join('\n')}\n\nwritten to ${path.relative(process.cwd(), file)}\n`);
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
}
await cleanup();
process.exit(code);
