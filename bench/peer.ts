/**
 * Issue 14, "A peer in the benchmark": the same client load against Trellis
 * and against go-control-plane v0.14 (its SnapshotCache, one snapshot per node
 * id, and its LinearCache), in one run, figures side by side as ratios.
 *
 * Both serve the same resources: bench/mesh.ts's mesh (--services EDS
 * clusters and endpoint sets, an API listener, a route configuration), encoded
 * once by Trellis (bench/peer-edits.ts) and handed to the peer as bytes, so the
 * comparison measures distribution, not translation. Every stream is its own
 * node id (bench/peer-client-main.ts); the servers run in their own processes.
 *
 * Per round, for each xDS mode and server, a fresh server and --streams streams:
 *   - initial sync: from opening the streams (a ramp of --window per client
 *     process, as bench/run.ts) until every one has ACKed CDS, EDS, LDS, RDS;
 *   - --edits times an endpoint change (one endpoint set) and a cluster change
 *     (one cluster's circuit breaker: a policy edit as it reaches a proxy):
 *     from the edit to each stream's ACK of the response carrying it, p50/p99,
 *     and the server's CPU (/proc) until the last ACK;
 *   - the server's RSS with the streams synced.
 * Medians over the rounds (edits: over rounds × repeats). Figures, never assertions.
 *
 *   scripts/bench.sh peer [--streams 1000] [--services 1000] [--rounds 3] [--edits 3]
 *                         [--xds sotw,delta] [--servers trellis,snapshot,linear]
 *                         [--flow-window 268435456] (the clients' HTTP/2 receive window: an Envoy's default)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { watchdog } from './churn-mesh.ts';
import { now } from './ipc.ts';
import { ROUTE_NAME, serviceNames } from './mesh.ts';
import { ENVOY_FLOW_WINDOW, positiveInt } from './options.ts';
import { procCpuMs } from './proc.ts';
import type { PeerClientAwaited, PeerClientConfig, PeerClientSynced } from './peer-client-main.ts';
import { EDIT_KINDS, peerEdits, type EditKind } from './peer-edits.ts';
import { SERVER_KINDS, SERVER_LABEL, ServerProcess, goControlPlaneBinary, type ServerKind } from './peer-servers.ts';
import { printTables, type Session } from './peer-report.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const NODE_PREFIX = 'peer-s';
const CLIENTS = 2;
const PER_CONNECTION = 100;

interface Options {
  streams: number;
  services: number;
  rounds: number;
  edits: number;
  window: number;
  flowWindow: number;
  xds: ('sotw' | 'delta')[];
  servers: ServerKind[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      streams: { type: 'string', default: '1000' },
      services: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '3' },
      edits: { type: 'string', default: '3' },
      window: { type: 'string', default: '50' },
      'flow-window': { type: 'string', default: String(ENVOY_FLOW_WINDOW) },
      xds: { type: 'string', default: 'sotw,delta' },
      servers: { type: 'string', default: SERVER_KINDS.join(',') },
    },
  });
  const list = <T extends string>(name: 'xds' | 'servers', allowed: readonly T[]): T[] => {
    const got = values[name].split(',');
    for (const g of got) if (!allowed.includes(g as T)) throw new Error(`--${name}: "${g}" is not one of ${allowed.join(', ')}`);
    return got as T[];
  };
  return {
    streams: positiveInt(values, 'streams'),
    services: positiveInt(values, 'services'),
    rounds: positiveInt(values, 'rounds'),
    edits: positiveInt(values, 'edits'),
    window: positiveInt(values, 'window'),
    flowWindow: positiveInt(values, 'flow-window'),
    xds: list('xds', ['sotw', 'delta'] as const),
    servers: list('servers', SERVER_KINDS),
  };
}

/** A client process spoken to by request id. */
class ClientProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: unknown) => void; reject: (e: Error) => void }>();
  readonly proc: ChildProcess;

  constructor(config: PeerClientConfig) {
    this.proc = fork(path.join(here, 'peer-client-main.ts'), [], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'] });
    this.proc.on('message', (m: { id?: number }) => {
      if (m.id === undefined) return;
      this.pending.get(m.id)?.resolve(m);
      this.pending.delete(m.id);
    });
    this.proc.once('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`peer client exited (${code})`));
      this.pending.clear();
    });
    this.proc.send(config);
  }

  request<T>(msg: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (m: unknown) => void, reject });
      this.proc.send({ ...msg, id });
    });
  }

  stop(): void {
    this.proc.send({ id: 0, cmd: 'stop' });
    setTimeout(() => this.proc.kill('SIGKILL'), 2000).unref();
  }
}

const pct = (xs: number[], p: number) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runSession(kind: ServerKind, xds: 'sotw' | 'delta', o: Options, dump: string): Promise<Session> {
  const server = ServerProcess.start(kind, { services: o.services, edits: o.edits, dump, nodePrefix: NODE_PREFIX, nodes: o.streams });
  const clients: ClientProcess[] = [];
  try {
    const ready = await server.ready();
    const per = Math.ceil(o.streams / CLIENTS);
    for (let c = 0; c < CLIENTS && c * per < o.streams; c++) {
      clients.push(new ClientProcess({
        address: `127.0.0.1:${ready.port}`, nodePrefix: NODE_PREFIX, first: c * per, count: Math.min(per, o.streams - c * per), mode: xds,
        perConnection: PER_CONNECTION, window: o.window, flowWindow: o.flowWindow, edsNames: serviceNames(o.services), routeName: ROUTE_NAME, syncTimeoutMs: 180_000,
      }));
    }
    await sleep(1000); // the client processes load their modules before the clock starts
    const cpu0 = server.cpuMs();
    const clientCpu0 = clients.map((c) => procCpuMs(c.proc.pid));
    const t0 = now();
    const synced = await Promise.all(clients.map((c) => c.request<PeerClientSynced>({ cmd: 'start' })));
    const initial = {
      ms: Math.round(Math.max(...synced.map((s) => s.at)) - t0),
      serverCpuMs: Math.round(server.cpuMs() - cpu0),
      clientCpuMs: Math.round(clients.reduce((n, c, i) => n + procCpuMs(c.proc.pid) - clientCpu0[i]!, 0)),
      synced: synced.reduce((n, s) => n + s.synced, 0),
      errors: synced.flatMap((s) => s.errors),
    };
    await sleep(500);
    const rssMiB = server.rssMiB();
    const edits: Session['edits'] = [];
    for (const [i, edit] of peerEdits(o.edits).entries()) {
      await sleep(300);
      await Promise.all(clients.map((c) => c.request({ cmd: 'arm', typeUrl: edit.typeUrl })));
      const c0 = server.cpuMs();
      const t = now();
      const applyUs = await server.apply(i);
      const got = await Promise.all(clients.map((c) => c.request<PeerClientAwaited>({ cmd: 'await', timeoutMs: 120_000 })));
      const cpu = server.cpuMs() - c0;
      const lat = got.flatMap((g) => g.times.map((x) => x - t));
      const acked = lat.length;
      edits.push({
        kind: edit.name, acked, missing: got.reduce((n, g) => n + g.missing, 0), p50Ms: Math.round(pct(lat, 50)), p99Ms: Math.round(pct(lat, 99)), maxMs: Math.round(pct(lat, 100)),
        serverCpuMs: Math.round(cpu), applyMs: Math.round(applyUs / 100) / 10,
        resourcesPerStream: acked ? got.reduce((n, g) => n + g.resources, 0) / acked : NaN,
        bytesPerStream: acked ? Math.round(got.reduce((n, g) => n + g.bytes, 0) / acked) : NaN,
      });
    }
    return { server: kind, xds, streams: o.streams, initial, rssMiB, resources: ready.resources, bytesServed: ready.bytesServed, edits };
  } finally {
    for (const c of clients) c.stop();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.servers.some((s) => s !== 'trellis')) goControlPlaneBinary(); // fail early, naming the setup script
  watchdog(60 * 60_000, 'bench/peer.ts');
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-peer-'));
  const dump = path.join(dir, 'resources.json');
  // The peer serves what Trellis encoded: the same builders, written once by Trellis's side.
  await new Promise<void>((resolve, reject) => {
    const child = fork(path.join(here, 'peer-trellis-main.ts'), ['--services', String(o.services), '--edits', String(o.edits), '--dump', dump], { execArgv: ['--import', 'tsx'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writing the peer's resources failed (${code})`))));
  });
  const sessions: Session[] = [];
  mkdirSync(path.join(here, 'results'), { recursive: true });
  const file = path.join(here, 'results', `peer-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  try {
    for (let round = 1; round <= o.rounds; round++) {
      for (const xds of o.xds) {
        for (const kind of o.servers) {
          const s = await runSession(kind, xds, o, dump);
          sessions.push(s);
          // Written after every session: a run stopped early keeps what it measured.
          writeFileSync(file, JSON.stringify({ options: o, sessions }, null, 2));
          const e = (k: EditKind) => s.edits.filter((x) => x.kind === k).map((x) => `${x.p99Ms}`).join('/');
          console.log(`[peer] round ${round} ${xds} ${SERVER_LABEL[kind]}: sync ${s.initial.ms} ms (CPU ${s.initial.serverCpuMs} ms, clients ${s.initial.clientCpuMs} ms, ${s.initial.synced}/${o.streams}), ` +
            EDIT_KINDS.map((k) => `${k} p99 ${e(k)} ms`).join(', '));
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printTables(sessions, o);
  console.log(`\n[peer] JSON: ${path.relative(process.cwd(), file)}`);
}

await main();
process.exit(0);
