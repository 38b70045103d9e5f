/**
 * `npm run bench`: the xDS benchmark (issue 2, "Targets"). For each N in
 * --streams it starts a fresh Trellis server process serving a mesh of
 * --services services, opens N SotW ADS streams from --generators
 * load-generator processes, waits until every stream has ACKed the initial
 * CDS/EDS/LDS/RDS, then changes one endpoint set --warmup times (not counted:
 * the first pushes compile the push path) and --changes times and measures,
 * per stream, the time from the change to the ACK of the EDS response that
 * carries it. Prints a table and JSON (also written to bench/results/).
 *
 * Server CPU per push is the server process's CPU (every thread, as
 * process.cpuUsage reads it) from just before the change until the server has
 * applied as many EDS ACKs as the generators wrote: a 5 ms poll of its ACK
 * counter notes the moment (bench/ipc.ts ServerSettled). The harness reads the
 * streams' sync status (each ACK's applied time) only after that, so its own
 * work is not in the figure, neither measured and subtracted nor estimated.
 *
 * BENCH_SERVER_FLAGS (environment): extra Node flags for the server process,
 * space-separated (e.g. "--trace-gc" to see its collections per push).
 *
 * Figures, never assertions: the exit code is 0 whether or not targets are met
 * (and 1 only if the benchmark itself could not run).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  now,
  type CpuTime,
  type GeneratorAwaited,
  type GeneratorConfig,
  type GeneratorReport,
  type GeneratorSynced,
  type ServerChanged,
  type ServerReady,
  type ServerReport,
  type ServerSettled,
} from './ipc.ts';
import { ROUTE_NAME, serviceNames } from './mesh.ts';
import { ENVOY_FLOW_WINDOW } from './options.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

// --- options -----------------------------------------------------------------

interface Options {
  /** one run per value, each with a fresh server */
  streams: number[];
  services: number;
  /** load-generator processes */
  generators: number;
  /** ADS streams per HTTP/2 connection */
  perConnection: number;
  /** per generator, streams opened but not yet synced: the ramp of the initial sync */
  window: number;
  /** the generators' HTTP/2 receive window, bytes (bench/options.ts) */
  flowWindow: number;
  /** endpoint changes measured per run */
  changes: number;
  /**
   * endpoint changes before the measured ones, not counted: the first pushes
   * after a start compile the push and ACK paths (~130 ms of server CPU for
   * the first at 1,000 streams, ~50 ms once warm), which a running control
   * plane has long done; their figures are kept in the JSON (`warmup`)
   */
  warmup: number;
  /** per run; a watchdog ends the whole benchmark after all runs' worth plus a minute */
  timeoutS: number;
  /**
   * write V8 profiles of the server (initial sync, pushes) to bench/results/:
   * CPU (--profile), or allocations sampled with what GC collected
   * (--alloc-profile: where the garbage of a push comes from)
   */
  profile: false | 'cpu' | 'alloc';
}

function parseOptions(argv: string[]): Options {
  const o: Options = { streams: [1000, 10000], services: 1000, generators: 4, perConnection: 100, window: 50, flowWindow: ENVOY_FLOW_WINDOW, changes: 5, warmup: 2, timeoutS: 900, profile: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--profile' || argv[i] === '--alloc-profile') {
      o.profile = argv[i] === '--profile' ? 'cpu' : 'alloc';
      continue;
    }
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const int = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: "${value}" is not a whole number`);
      return n;
    };
    switch (flag) {
      case '--streams':
        o.streams = value.split(',').map((v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n <= 0) throw new Error(`--streams: "${v}" is not a positive whole number`);
          return n;
        });
        break;
      case '--services':
        o.services = int();
        break;
      case '--generators':
        o.generators = Math.max(1, int());
        break;
      case '--per-connection':
        o.perConnection = Math.max(1, int());
        break;
      case '--window':
        o.window = Math.max(1, int());
        break;
      case '--flow-window':
        o.flowWindow = Math.max(1, int());
        break;
      case '--changes':
        o.changes = Math.max(1, int());
        break;
      case '--warmup':
        o.warmup = int();
        break;
      case '--timeout':
        o.timeoutS = Math.max(10, int());
        break;
      default:
        throw new Error(
          `unknown option ${flag}\nusage: npm run bench -- [--streams 1000,10000] [--services 1000] [--generators 4] [--per-connection 100] [--window 50] [--flow-window 268435456] [--changes 5] [--warmup 2] [--timeout 900] [--profile | --alloc-profile]`,
        );
    }
  }
  return o;
}

// --- child processes -----------------------------------------------------------

const children = new Set<ChildProcess>();

function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killChildren();
    process.exit(130);
  });
}

/** A child process spoken to by request id. */
class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly events: Array<{ event: string; resolve: (m: unknown) => void }> = [];
  private readonly early: Array<{ event: string }> = [];
  readonly proc: ChildProcess;
  stderr = '';

  constructor(
    readonly name: string,
    script: string,
    args: string[],
    execArgv: string[],
  ) {
    this.proc = fork(path.join(here, script), args, {
      execArgv: [...execArgv, '--import', 'tsx'],
      env: { ...process.env, TRELLIS_LOG_LEVEL: process.env.TRELLIS_LOG_LEVEL ?? 'warn' },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    children.add(this.proc);
    this.proc.stderr!.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-4000);
      process.stderr.write(`[${name}] ${b}`);
    });
    this.proc.on('message', (m: { id?: number; event?: string }) => {
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        p.resolve(m);
        return;
      }
      if (m.event) {
        const i = this.events.findIndex((e) => e.event === m.event);
        if (i >= 0) this.events.splice(i, 1)[0]!.resolve(m);
        else this.early.push(m as { event: string });
      }
    });
    this.proc.on('exit', (code, signal) => {
      children.delete(this.proc);
      const err = new Error(`${name} exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.pending.clear();
    });
  }

  request<T>(msg: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no reply to ${String(msg.cmd)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (m: unknown) => void, reject, timer });
      this.proc.send({ ...msg, id });
    });
  }

  send(msg: unknown): void {
    this.proc.send(msg as object);
  }

  event<T>(event: string, timeoutMs: number): Promise<T> {
    const i = this.early.findIndex((e) => e.event === event);
    if (i >= 0) return Promise.resolve(this.early.splice(i, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const entry = { event, resolve: resolve as (m: unknown) => void };
      this.events.push(entry);
      const timer = setTimeout(() => {
        this.events.splice(this.events.indexOf(entry), 1);
        reject(new Error(`${this.name}: no "${event}" within ${timeoutMs} ms${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
      }, timeoutMs);
      this.proc.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited before "${event}"${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
      });
      entry.resolve = (m) => {
        clearTimeout(timer);
        resolve(m as T);
      };
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    try {
      this.proc.send({ cmd: 'stop', id: 0 });
    } catch {
      /* already gone */
    }
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}

// --- figures -------------------------------------------------------------------

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const cpuMs = (a: CpuTime, b: CpuTime) => (b.user - a.user + b.system - a.system) / 1000;
const round = (n: number, digits = 1) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);
const MiB = 1024 * 1024;

interface ChangeResult {
  service: number;
  acked: number;
  /** streams whose applied EDS version is the new one, as the server records it */
  serverConfirmed: number;
  missing: number;
  /** change → ACK written by the client */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** change → ACK applied by the server (ackedAt in the server's sync-status view) */
  appliedP50Ms: number | null;
  appliedP99Ms: number | null;
  appliedMaxMs: number | null;
  serverSetMs: number | null;
  serverCpuMs: number | null;
  encodes: number;
  resourcesPerPush: number | null;
  generatorCpuMs: number | null;
}

interface RunResult {
  streams: number;
  services: number;
  generators: number;
  connections: number;
  streamsPerConnection: number;
  streamsHeld: number;
  streamsFailed: number;
  errors: string[];
  meshBuildMs: number | null;
  initialSyncMs: number | null;
  initialSyncGeneratorCpuMs: number | null;
  initialSyncServerCpuMs: number | null;
  /** change → ACK written by each client (the generators' clock) */
  changeToAck: { samples: number; missing: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null };
  /** change → the same ACK applied by the server (ackedAt in the server's sync-status view, ms precision) */
  changeToAckApplied: { samples: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null };
  changes: ChangeResult[];
  /** the warm-up changes before them (Options.warmup), not in any other figure */
  warmup: Array<{ serverCpuMs: number | null; p99Ms: number | null }>;
  encodesPerChange: number | null;
  serverCpuPerPushMs: number | null;
  serverCpuPerPushMedianMs: number | null;
  generatorCpuPerPushMs: number | null;
  server: {
    rssBaseMiB: number | null;
    rssLoadedMiB: number | null;
    rssPerStreamKiB: number | null;
    heapPerStreamKiB: number | null;
    heapTotalPerStreamKiB: number | null;
    externalPerStreamKiB: number | null;
    rssAfterChangesMiB: number | null;
    /** peak during the run: the initial sync's buffers (see --window) */
    rssPeakMiB: number | null;
  };
  generatorRssMiB: number | null;
  serverAcks: number;
  serverNacks: number;
  targets: { streamsHeld: boolean; memoryPerStream: boolean | null; p99Under500ms: boolean | null };
  wallS: number;
}

async function runOnce(o: Options, n: number): Promise<RunResult> {
  const started = now();
  const deadline = started + o.timeoutS * 1000;
  const left = () => Math.max(1000, deadline - now());
  const generatorCount = Math.min(o.generators, n);
  const server = new Child('server', 'xds-server-main.ts', ['--services', String(o.services)], [
    '--expose-gc',
    '--max-old-space-size=8192',
    ...(process.env.BENCH_SERVER_FLAGS ? process.env.BENCH_SERVER_FLAGS.split(' ') : []),
  ]);
  const generators: Child[] = [];
  try {
    const ready = await server.event<ServerReady>('ready', 120_000);
    const base = await server.request<ServerReport>({ cmd: 'report', gc: true });
    process.stderr.write(`bench: N=${n}: server on 127.0.0.1:${ready.port}, mesh of ${ready.services} services built in ${Math.round(ready.buildMs)} ms\n`);

    const edsNames = serviceNames(o.services);
    let connections = 0;
    for (let g = 0; g < generatorCount; g++) {
      const streams = Math.floor(n / generatorCount) + (g < n % generatorCount ? 1 : 0);
      connections += Math.ceil(streams / o.perConnection);
      const child = new Child(`gen${g}`, 'load-generator-main.ts', [], ['--max-old-space-size=4096']);
      const cfg: GeneratorConfig = {
        generator: g,
        address: `127.0.0.1:${ready.port}`,
        streams,
        perConnection: o.perConnection,
        window: o.window,
        flowWindow: o.flowWindow,
        edsNames,
        routeName: ROUTE_NAME,
        expectEndpoints: o.services,
        syncTimeoutMs: Math.max(5000, left() - 60_000),
      };
      child.send(cfg);
      generators.push(child);
    }
    await Promise.all(generators.map((g) => g.event('ready', 60_000)));

    // --- initial sync
    const genBefore = await Promise.all(generators.map((g) => g.request<GeneratorReport>({ cmd: 'report' })));
    const serverBeforeSync = await server.request<ServerReport>({ cmd: 'report' });
    const profileFile = (phase: string) => path.join(here, 'results', `xds-server-N${n}-${phase}-${Date.now()}.${o.profile === 'alloc' ? 'heapprofile' : 'cpuprofile'}`);
    const profiles: string[] = [];
    if (o.profile) mkdirSync(path.join(here, 'results'), { recursive: true });
    if (o.profile) await server.request({ cmd: 'profile', action: 'start', kind: o.profile });
    const syncStart = now();
    for (const g of generators) g.send({ cmd: 'start', id: 0 });
    const synced = await Promise.all(generators.map((g) => g.event<GeneratorSynced>('synced', left())));
    const syncEnd = Math.max(...synced.map((s) => s.at));
    const genAfterSync = await Promise.all(generators.map((g) => g.request<GeneratorReport>({ cmd: 'report' })));
    const serverAfterSync = await server.request<ServerReport>({ cmd: 'report' });
    const held = synced.reduce((a, s) => a + s.synced, 0);
    const failedAtSync = synced.reduce((a, s) => a + s.failed, 0);
    const errors = [...new Set(synced.flatMap((s) => s.errors))];
    process.stderr.write(`bench: N=${n}: ${held} streams synced in ${Math.round(syncEnd - syncStart)} ms (${failedAtSync} failed)\n`);

    if (o.profile) {
      profiles.push(profileFile('sync'));
      await server.request({ cmd: 'profile', action: 'stop', file: profiles.at(-1) }, 120_000);
    }
    // Let in-flight buffers go before measuring what streams hold.
    await new Promise((r) => setTimeout(r, 1000));
    const loaded = await server.request<ServerReport>({ cmd: 'report', gc: true }, 60_000);

    // --- changes
    const changes: ChangeResult[] = [];
    const all: number[] = [];
    const allApplied: number[] = [];
    let missingTotal = 0;
    const warmup: Array<{ serverCpuMs: number | null; p99Ms: number | null }> = [];
    for (let k = 0; k < o.warmup + o.changes && held > 0; k++) {
      const warm = k < o.warmup;
      if (k === o.warmup && o.profile) await server.request({ cmd: 'profile', action: 'start', kind: o.profile });
      await new Promise((r) => setTimeout(r, 500));
      const service = (k * 379 + 17) % o.services;
      const genCpu0 = await Promise.all(generators.map((g) => g.request<GeneratorReport>({ cmd: 'report' })));
      const changed = await server.request<ServerChanged>({ cmd: 'change', service, generation: k + 1 });
      const timeoutMs = Math.min(60_000, left());
      const awaited = await Promise.all(
        generators.map((g) => g.request<GeneratorAwaited>({ cmd: 'await', version: changed.version, timeoutMs }, timeoutMs + 10_000)),
      );
      // The server reads the last ACKs after the generators wrote them (seconds
      // later at 10,000 streams): its CPU figure ends when it has applied as
      // many as were written (ServerSettled), so that it covers the whole push
      // and the next change starts from a quiet server.
      const expected = awaited.reduce((a, x) => a + x.ackTimes.length, 0);
      const settleMs = Math.min(60_000, left());
      const after = await server.request<ServerSettled>({ cmd: 'settled', acks: expected, timeoutMs: settleMs }, settleMs + 10_000);
      const genCpu1 = await Promise.all(generators.map((g) => g.request<GeneratorReport>({ cmd: 'report' })));
      const latencies = awaited.flatMap((a) => a.ackTimes.map((t) => t - changed.at)).sort((a, b) => a - b);
      const applied = after.edsAckedAt.map((t) => t - changed.at).sort((a, b) => a - b);
      const resources = awaited.flatMap((a) => a.resources);
      const missing = awaited.reduce((a, x) => a + x.missing, 0);
      if (warm) {
        warmup.push({ serverCpuMs: round(cpuMs(changed.cpuBefore, after.cpu)), p99Ms: round(percentile(latencies, 99)) });
        process.stderr.write(`bench: N=${n}: warm-up change ${k + 1}/${o.warmup} (not counted): p99 ${warmup.at(-1)!.p99Ms} ms, server CPU ${warmup.at(-1)!.serverCpuMs} ms\n`);
        continue;
      }
      all.push(...latencies);
      allApplied.push(...applied);
      missingTotal += missing;
      const last = latencies.at(-1) ?? NaN;
      changes.push({
        service,
        acked: latencies.length,
        serverConfirmed: after.edsAcked,
        missing,
        p50Ms: round(percentile(latencies, 50)),
        p99Ms: round(percentile(latencies, 99)),
        maxMs: round(last),
        appliedP50Ms: round(percentile(applied, 50)),
        appliedP99Ms: round(percentile(applied, 99)),
        appliedMaxMs: round(applied.at(-1) ?? NaN),
        serverSetMs: round(changed.setMs, 2),
        serverCpuMs: round(cpuMs(changed.cpuBefore, after.cpu)),
        encodes: after.encodes - changed.encodesBefore,
        resourcesPerPush: resources.length ? Math.max(...resources) : null,
        generatorCpuMs: round(genCpu0.reduce((a, r, i) => a + cpuMs(r.cpu, genCpu1[i]!.cpu), 0)),
      });
      const c = changes.at(-1)!;
      process.stderr.write(
        `bench: N=${n}: change ${k + 1 - o.warmup}/${o.changes}: ${c.acked} ACKs written p50/p99/max ${c.p50Ms}/${c.p99Ms}/${c.maxMs} ms, applied by the server ${c.appliedP50Ms}/${c.appliedP99Ms}/${c.appliedMaxMs} ms; server CPU ${c.serverCpuMs} ms, ${c.encodes} encode(s)\n`,
      );
    }
    all.sort((a, b) => a - b);
    allApplied.sort((a, b) => a - b);
    if (o.profile) {
      profiles.push(profileFile('pushes'));
      await server.request({ cmd: 'profile', action: 'stop', file: profiles.at(-1) }, 120_000);
      process.stderr.write(`bench: N=${n}: server profiles: ${profiles.map((f) => path.relative(process.cwd(), f)).join(', ')}\n`);
    }
    const afterChanges = await server.request<ServerReport>({ cmd: 'report', gc: true }, 60_000);
    const genFinal = await Promise.all(generators.map((g) => g.request<GeneratorReport>({ cmd: 'report' })));
    const streamsHeld = Math.min(afterChanges.streamCount, genFinal.reduce((a, r) => a + r.synced, 0));
    for (const r of genFinal) errors.push(...r.errors);

    const perStream = (a: number, b: number) => (held > 0 ? round((b - a) / held / 1024) : null);
    const mean = (xs: Array<number | null>) => {
      const v = xs.filter((x): x is number => x !== null);
      return v.length ? round(v.reduce((a, b) => a + b, 0) / v.length) : null;
    };
    const p99 = round(percentile(all, 99));
    const p99Applied = round(percentile(allApplied, 99));
    const rssPerStream = perStream(base.rss, loaded.rss);
    return {
      streams: n,
      services: o.services,
      generators: generatorCount,
      connections,
      streamsPerConnection: Math.ceil(Math.ceil(n / generatorCount) / Math.ceil(Math.ceil(n / generatorCount) / o.perConnection)),
      streamsHeld,
      streamsFailed: n - streamsHeld,
      errors: [...new Set(errors)].slice(0, 10),
      meshBuildMs: round(ready.buildMs, 0),
      initialSyncMs: round(syncEnd - syncStart, 0),
      initialSyncGeneratorCpuMs: round(genBefore.reduce((a, r, i) => a + cpuMs(r.cpu, genAfterSync[i]!.cpu), 0), 0),
      initialSyncServerCpuMs: round(cpuMs(serverBeforeSync.cpu, serverAfterSync.cpu), 0),
      changeToAck: { samples: all.length, missing: missingTotal, p50Ms: round(percentile(all, 50)), p99Ms: p99, maxMs: round(all.at(-1) ?? NaN) },
      changeToAckApplied: {
        samples: allApplied.length,
        p50Ms: round(percentile(allApplied, 50)),
        p99Ms: p99Applied,
        maxMs: round(allApplied.at(-1) ?? NaN),
      },
      changes,
      warmup,
      encodesPerChange: mean(changes.map((c) => c.encodes)),
      serverCpuPerPushMs: mean(changes.map((c) => c.serverCpuMs)),
      serverCpuPerPushMedianMs: round(percentile(changes.map((c) => c.serverCpuMs ?? NaN).sort((a, b) => a - b), 50)),
      generatorCpuPerPushMs: mean(changes.map((c) => c.generatorCpuMs)),
      server: {
        rssBaseMiB: round(base.rss / MiB),
        rssLoadedMiB: round(loaded.rss / MiB),
        rssPerStreamKiB: rssPerStream,
        heapPerStreamKiB: perStream(base.heapUsed, loaded.heapUsed),
        heapTotalPerStreamKiB: perStream(base.heapTotal, loaded.heapTotal),
        externalPerStreamKiB: perStream(base.external, loaded.external),
        rssAfterChangesMiB: round(afterChanges.rss / MiB),
        rssPeakMiB: round(afterChanges.maxRss / MiB),
      },
      generatorRssMiB: round(genFinal.reduce((a, r) => a + r.rss, 0) / MiB),
      serverAcks: afterChanges.acks,
      serverNacks: afterChanges.nacks,
      targets: {
        streamsHeld: streamsHeld === n,
        // The target is stated for 10,000 streams; with fewer, the buffers of
        // the initial sync that the allocator keeps weigh on each stream more.
        memoryPerStream: n >= 10_000 ? rssPerStream !== null && rssPerStream <= 100 : null,
        // Judged on both clocks: the client wrote its ACK, and the server applied it.
        // On the clients' clock: when a proxy has the change and says so. The
        // server's clock (changeToAckApplied) adds its backlog of ACKs to read.
        p99Under500ms: n === 1000 ? p99 !== null && p99 <= 500 && missingTotal === 0 : null,
      },
      wallS: round((now() - started) / 1000, 0)!,
    };
  } finally {
    await Promise.all(generators.map((g) => g.stop()));
    await server.stop();
  }
}

// --- output ----------------------------------------------------------------------

function table(runs: RunResult[]): string {
  const rows: Array<[string, (r: RunResult) => unknown]> = [
    ['streams (N)', (r) => r.streams],
    ['streams held', (r) => `${r.streamsHeld}${r.streamsFailed ? ` (${r.streamsFailed} failed)` : ''}`],
    ['connections (generators)', (r) => `${r.connections} (${r.generators})`],
    ['streams per connection', (r) => `≤ ${r.streamsPerConnection}`],
    ['initial sync (all 4 types ACKed)', (r) => `${r.initialSyncMs} ms`],
    ['change→ACK written p50 / p99 / max', (r) => `${r.changeToAck.p50Ms} / ${r.changeToAck.p99Ms} / ${r.changeToAck.maxMs} ms`],
    ['change→ACK applied p50 / p99 / max', (r) => `${r.changeToAckApplied.p50Ms} / ${r.changeToAckApplied.p99Ms} / ${r.changeToAckApplied.maxMs} ms`],
    ['ACK samples (missing)', (r) => `${r.changeToAck.samples} (${r.changeToAck.missing})`],
    ['server: streams on new EDS version', (r) => r.changes.map((c) => c.serverConfirmed).join(', ')],
    ['server: ACKs / NACKs received', (r) => `${r.serverAcks} / ${r.serverNacks}`],
    ['encodes per change', (r) => r.encodesPerChange],
    ['server CPU per push (median / mean)', (r) => `${r.serverCpuPerPushMedianMs} / ${r.serverCpuPerPushMs} ms`],
    ['warm-up pushes (not counted): server CPU', (r) => r.warmup.map((w) => `${w.serverCpuMs} ms`).join(', ') || '-'],
    ['generator CPU per push', (r) => `${r.generatorCpuPerPushMs} ms`],
    ['server RSS: mesh only → loaded (peak)', (r) => `${r.server.rssBaseMiB} → ${r.server.rssLoadedMiB} MiB (${r.server.rssPeakMiB})`],
    ['server RSS per stream', (r) => `${r.server.rssPerStreamKiB} KiB`],
    ['server heap used / committed per stream', (r) => `${r.server.heapPerStreamKiB} / ${r.server.heapTotalPerStreamKiB} KiB`],
    ['server CPU, initial sync', (r) => `${r.initialSyncServerCpuMs} ms`],
    ['generator CPU, initial sync', (r) => `${r.initialSyncGeneratorCpuMs} ms`],
    ['generator RSS (all)', (r) => `${r.generatorRssMiB} MiB`],
    ['target: N streams held', (r) => (r.targets.streamsHeld ? 'met' : 'NOT met')],
    ['target: ≤ 100 KiB per stream (N=10,000)', (r) => (r.targets.memoryPerStream === null ? '-' : r.targets.memoryPerStream ? 'met' : 'NOT met')],
    ['target: p99 ≤ 500 ms (N=1,000)', (r) => (r.targets.p99Under500ms === null ? '-' : r.targets.p99Under500ms ? 'met' : 'NOT met')],
  ];
  const cells = rows.map(([label, f]) => [label, ...runs.map((r) => String(f(r)))]);
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  // A hard stop for the whole benchmark, whatever hangs.
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: gave up after ${o.timeoutS * o.streams.length + 60} s\n`);
    killChildren();
    process.exit(1);
  }, (o.timeoutS * o.streams.length + 60) * 1000);
  watchdog.unref();

  const runs: RunResult[] = [];
  const failures: string[] = [];
  for (const n of o.streams) {
    try {
      runs.push(await runOnce(o, n));
    } catch (e) {
      const message = `N=${n}: ${e instanceof Error ? e.message : String(e)}`;
      failures.push(message);
      process.stderr.write(`bench: ${message}\n`);
    }
  }
  const result = {
    benchmark: 'xds',
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', memoryGiB: round(os.totalmem() / 1024 ** 3), node: process.version },
    options: o,
    runs,
    failures,
  };
  const dir = path.join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `xds-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n`);
  if (runs.length > 0) process.stdout.write(`${table(runs)}\n\n`);
  process.stdout.write(`written to ${path.relative(process.cwd(), file)}\n`);
  return runs.length > 0 ? 0 : 1;
}

process.exit(await main());
