/**
 * `scripts/bench.sh sds`: issue 4's target "1,000 streams reconnecting after
 * a restart all hold valid secrets within 2 s".
 *
 * Generates a permissive mesh of --workloads Pods (each with its own
 * ServiceAccount, so as many identities and certificates) behind --services
 * Services into a temp folder, starts the real `trellis serve` (bin/trellis.js)
 * on it with a fresh state dir, and opens one TLS ADS stream per workload
 * from --clients load-generator processes (bench/sds-client-main.ts) over
 * --channels HTTP/2 connections each; every stream presents its workload's
 * token (signed with the state dir's key, as `trellis bootstrap` does) and
 * subscribes SDS (own certificate + trust bundle) and CDS. Once every stream
 * holds a valid secret, the server is stopped (SIGTERM) and started again on
 * the same state dir and port, and the time until every reconnected stream
 * holds a valid secret again is measured, per stream, from the moment the
 * new server listens (and, in total, from the restart).
 *
 * Figures, never assertions: exit 0 whether or not the target is met.
 *   node --import tsx bench/sds-reconnect.ts [--workloads 1000] [--services 50]
 *        [--clients 2] [--channels 5, at least streams/client/100] [--timeout-s 120]
 */
import { procCpuMs } from './proc.ts';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { WorkloadTokens } from '../src/ca/token.ts';
import { CertificateAuthority } from '../src/ca/authority.ts';
import { now } from './ipc.ts';
import type { SdsClientConfig } from './sds-client-main.ts';
import { account, NS, pod, sdsChannels, sdsMeshFiles, TRUST_DOMAIN } from './sds-mesh.ts';
import { XDS_LIMITS } from '../src/server/limits.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

const { values } = parseArgs({
  options: {
    workloads: { type: 'string', default: '1000' },
    services: { type: 'string', default: '50' },
    /** service accounts; default one per workload (as many certificates as streams) */
    identities: { type: 'string' },
    clients: { type: 'string', default: '2' },
    /** TLS connections per client process; default (and minimum): enough that none carries over the server's streams per connection */
    channels: { type: 'string' },
    'timeout-s': { type: 'string', default: '120' },
    /** V8 CPU profiles of the first and the restarted server (whole runs) and of every client process (from the restart), into bench/results/ */
    profile: { type: 'boolean', default: false },
  },
});
const WORKLOADS = Number(values.workloads);
const SERVICES = Math.min(Number(values.services), WORKLOADS);
const IDENTITIES = Math.min(Number(values.identities ?? values.workloads), WORKLOADS);
const CLIENTS = Math.max(1, Number(values.clients));
const CHANNELS = sdsChannels(WORKLOADS, CLIENTS, values.channels === undefined ? undefined : Number(values.channels));
if (values.channels !== undefined && CHANNELS > Number(values.channels)) {
  process.stderr.write(`sds bench: --channels ${values.channels} raised to ${CHANNELS}: at most ${XDS_LIMITS.maxStreamsPerConnection} streams per connection\n`);
}
/** A first start signs a certificate per identity before the port opens: minutes on a loaded machine at 10,000. */
const START_TIMEOUT_MS = 180_000;
const TIMEOUT_MS = Number(values['timeout-s']) * 1000;
const mesh = { workloads: WORKLOADS, services: SERVICES, identities: IDENTITIES };

// --- processes -----------------------------------------------------------------

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Every process started, ended by the watchdog or when the run ends. */
const children: ChildProcess[] = [];

interface Server {
  proc: ChildProcess;
  spawnedAt: number;
  /** the xDS port accepts connections */
  listeningAt: number;
  /** CPU the process had used when the port opened (start: mesh, certificates, prewarm) */
  cpuAtListenMs: number;
  exited: Promise<number | null>;
}

async function startTrellis(meshDir: string, stateDir: string, xdsPort: number, adminPort: number, nodeArgs: string[] = []): Promise<Server> {
  const spawnedAt = now();
  const proc = spawn(
    process.execPath,
    [...nodeArgs, path.join(repo, 'bin/trellis.js'), 'serve', '--source', `file:${meshDir}`, '--state-dir', stateDir, '--xds-address', `127.0.0.1:${xdsPort}`, '--admin-address', `127.0.0.1:${adminPort}`],
    { cwd: repo, stdio: ['ignore', 2, 'inherit'], env: { ...process.env, TRELLIS_LOG_LEVEL: 'error' } },
  );
  children.push(proc);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let dead = false;
  void exited.then(() => (dead = true));
  // Poll the port: the measure starts when the xDS port accepts connections.
  for (;;) {
    if (dead) throw new Error('trellis serve exited before listening');
    if (now() - spawnedAt > START_TIMEOUT_MS) {
      throw new Error(`trellis serve did not listen within ${START_TIMEOUT_MS / 1000} s`);
    }
    if (await portOpen(xdsPort)) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  return { proc, spawnedAt, listeningAt: now(), cpuAtListenMs: procCpuMs(proc.pid), exited };
}

/**
 * Every identity holds a certificate once the mesh is published (the server
 * issues them before the xDS port opens): fewer means the mesh did not load
 * as generated, and every stream would get the trust bundle alone.
 */
async function checkMeshLoaded(adminPort: number): Promise<void> {
  const deadline = now() + 30_000;
  let held = -1;
  while (now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/certificates`);
      const body = (await res.json()) as { certificates: Array<{ kind: string }> };
      held = body.certificates.filter((c) => c.kind === 'workload').length;
      if (held >= IDENTITIES) return;
    } catch {
      // the admin port opens after the xDS port
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server holds ${held} of ${IDENTITIES} workload certificates: the mesh did not load as generated (see the server's log above)`);
}

interface Client {
  proc: ChildProcess;
  request<T>(msg: object, event: string): Promise<T>;
}

/**
 * The load generators' V8 flags: a larger young generation cut their CPU by
 * ~20 % at 10,000 streams (their garbage collector was ~22 % of it, and an
 * Envoy has none); SDS_CLIENT_NODE_ARGS replaces them.
 */
const CLIENT_NODE_ARGS = (process.env.SDS_CLIENT_NODE_ARGS ?? '--max-semi-space-size=64').split(' ').filter(Boolean);

/** V8 flags for `trellis serve` (none by default: it runs as shipped). */
const SERVER_NODE_ARGS = (process.env.SDS_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);

function startClient(config: SdsClientConfig): Promise<Client> {
  const proc = fork(path.join(here, 'sds-client-main.ts'), [], { execArgv: ['--import', 'tsx', ...CLIENT_NODE_ARGS], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const request = <T>(msg: object, event: string) =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`client exited (${code})`));
      const on = (m: unknown) => {
        if ((m as { event?: string }).event === event) {
          proc.off('message', on);
          proc.off('exit', onExit);
          resolve(m as T);
        }
      };
      proc.on('message', on);
      proc.once('exit', onExit);
      proc.send(msg);
    });
  return request<unknown>({ cmd: 'start', config }, 'ready').then(() => ({ proc, request }));
}

interface ClientReport {
  cpuMs: number;
  validAt: Array<Record<string, number>>;
  syncedAt: Array<Record<string, number>>;
  invalid: number;
  reconnects: number;
  /** a few streams without a valid secret in the current phase, and what they saw */
  missing: unknown[];
}

async function reports(clients: Client[]): Promise<ClientReport[]> {
  return Promise.all(clients.map((c) => c.request<ClientReport>({ cmd: 'report' }, 'report')));
}

interface ClientProgress {
  valid: number;
  synced: number;
  cpuMs: number;
}

async function progress(clients: Client[]): Promise<ClientProgress[]> {
  return Promise.all(clients.map((c) => c.request<ClientProgress>({ cmd: 'progress' }, 'progress')));
}

/** Waits until every stream has a valid secret in `phase` (polling counts, cheap), then reads the times (ms epoch) once. */
async function allValid(clients: Client[], phase: number, deadline: number): Promise<{ times: number[]; syncedTimes: number[]; missing: number; invalid: number; reconnects: number }> {
  for (;;) {
    const ps = await progress(clients);
    const done = ps.reduce((n, p) => n + Math.min(p.valid, p.synced), 0);
    if (done >= WORKLOADS || now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const rs = await reports(clients);
  const inPhase = (list: Array<Record<string, number>>) => list.map((v) => v[String(phase)]).filter((t): t is number => t !== undefined);
  const times = rs.flatMap((r) => inPhase(r.validAt));
  const syncedTimes = rs.flatMap((r) => inPhase(r.syncedAt));
  const missing = WORKLOADS - Math.min(times.length, syncedTimes.length);
  const invalid = rs.reduce((n, r) => n + r.invalid, 0);
  const reconnects = rs.reduce((n, r) => n + r.reconnects, 0);
  if (missing > 0) process.stderr.write(`sds bench: streams without a valid secret: ${JSON.stringify(rs.flatMap((r) => r.missing))}\n`);
  return { times, syncedTimes, missing, invalid, reconnects };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const round = (n: number) => Math.round(n * 10) / 10;

// --- run -------------------------------------------------------------------------

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-sds-'));
  const meshDir = path.join(work, 'mesh');
  const stateDir = path.join(work, 'state');
  mkdirSync(meshDir);
  for (const [name, text] of Object.entries(sdsMeshFiles(mesh))) writeFileSync(path.join(meshDir, name), text);
  const watchdog = setTimeout(() => {
    process.stderr.write(`sds bench: watchdog after ${(2 * (START_TIMEOUT_MS + TIMEOUT_MS) + 60_000) / 1000} s\n`);
    for (const c of children) c.kill('SIGKILL');
    process.exit(1);
  }, 2 * (START_TIMEOUT_MS + TIMEOUT_MS) + 60_000);
  watchdog.unref();
  try {
    const [xdsPort, adminPort] = [await freePort(), await freePort()];
    const profileArgs = (name: string) => (values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(here, 'results')}`, `--cpu-prof-name=${name}.cpuprofile`] : []);
    let server = await startTrellis(meshDir, stateDir, xdsPort, adminPort, [...SERVER_NODE_ARGS, ...profileArgs('sds-first-server')]);
    const firstStartMs = server.listeningAt - server.spawnedAt;
    await checkMeshLoaded(adminPort);

    // Tokens as `trellis bootstrap` writes them: signed with the state dir's key, bound to the node id.
    const ca = await CertificateAuthority.open({ trustDomain: TRUST_DOMAIN, stateDir, logger: pino({ level: 'warn' }) });
    const rootPem = ca.trustBundlePem();
    const tokens = await WorkloadTokens.open({ stateDir, trustDomain: TRUST_DOMAIN });
    const streams = Array.from({ length: WORKLOADS }, (_, i) => {
      const spiffeId = `spiffe://${TRUST_DOMAIN}/ns/${NS}/sa/${account(i, IDENTITIES)}`;
      const nodeId = `${NS}/${pod(i)}`;
      return { nodeId, spiffeId, token: tokens.issue({ spiffeId, nodeId }) };
    });
    const address = `127.0.0.1:${xdsPort}`;
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, (_, c) =>
        startClient({
          address,
          rootPem,
          channels: CHANNELS,
          streams: streams.filter((_, i) => i % CLIENTS === c),
          ...(values.profile ? { profilePath: path.join(here, 'results', `sds-restart-client-${c}.cpuprofile`) } : {}),
        }),
      ),
    );
    children.push(...clients.map((c) => c.proc));
    const t0 = now();
    const initial = await allValid(clients, 0, now() + TIMEOUT_MS);
    const initialMs = Math.max(...initial.times) - t0;
    if (initial.missing > 0) throw new Error(`${initial.missing} streams never held a valid secret before the restart`);

    // Restart: phase 1 counts only secrets received on streams opened after this point.
    await Promise.all(clients.map((c) => c.request({ cmd: 'phase', phase: 1 }, 'phase')));
    const clientCpuBefore = (await progress(clients)).reduce((n, p) => n + p.cpuMs, 0);
    const loadAtRestart = os.loadavg()[0]!;
    const restartAt = now();
    server.proc.kill('SIGTERM');
    await server.exited;
    const stoppedAt = now();
    server = await startTrellis(meshDir, stateDir, xdsPort, adminPort, [...SERVER_NODE_ARGS, ...profileArgs('sds-restart-server')]);
    const after = await allValid(clients, 1, now() + TIMEOUT_MS);
    const serverCpuMs = procCpuMs(server.proc.pid);
    const clientCpuMs = (await progress(clients)).reduce((n, p) => n + p.cpuMs, 0) - clientCpuBefore;
    const fromListen = after.times.map((t) => t - server.listeningAt).toSorted((a, b) => a - b);
    const lastValid = Math.max(...after.times);
    const lastSynced = Math.max(...after.syncedTimes);

    const result = {
      benchmark: 'sds-reconnect',
      target: 'every reconnected stream holds a valid secret within 2000 ms',
      machine: { cpus: os.cpus().length, node: process.version },
      /** 1-minute load average at the restart and once all were valid: the 2 cores are shared, so wall times move with it */
      loadAverage: { atRestart: round(loadAtRestart), atEnd: round(os.loadavg()[0]!) },
      workloads: WORKLOADS,
      identities: IDENTITIES,
      services: SERVICES,
      clients: CLIENTS,
      connections: CLIENTS * CHANNELS,
      clientReconnectBackoffMs: { initial: 100, max: 1000 },
      initialSyncMs: round(initialMs),
      firstStartMs: round(firstStartMs),
      restart: {
        stopMs: round(stoppedAt - restartAt),
        startMs: round(server.listeningAt - server.spawnedAt),
        validStreams: after.times.length,
        missing: after.missing,
        invalidSecrets: after.invalid,
        fromListenMs: { p50: round(quantile(fromListen, 0.5)), p99: round(quantile(fromListen, 0.99)), max: round(fromListen.at(-1) ?? NaN) },
        allValidFromListenMs: round(lastValid - server.listeningAt),
        allValidFromRestartMs: round(lastValid - restartAt),
        /** every stream holds its clusters and a valid secret (issue 14: 10,000 sidecars back in sync ≤ 15 s) */
        allInSyncFromListenMs: round(lastSynced - server.listeningAt),
        allInSyncFromRestartMs: round(lastSynced - restartAt),
        /** CPU from restart until all valid: the new server process (start included), and all clients */
        cpu: { serverMs: round(serverCpuMs), serverBeforeListenMs: round(server.cpuAtListenMs), serverAfterListenMs: round(serverCpuMs - server.cpuAtListenMs), clientsMs: round(clientCpuMs) },
      },
      targetMet: after.missing === 0 && lastValid - server.listeningAt <= 2000,
      /** issue 14: 10,000 sidecars back in sync (clusters and a valid secret) within 15 s of the port reopening */
      issue14TargetMet: after.missing === 0 && lastSynced - server.listeningAt <= 15_000,
    };
    process.stdout.write(`${JSON.stringify(result)}\n\n`);
    const r = result.restart;
    const rows: Array<[string, string]> = [
      ['workloads / identities / services', `${WORKLOADS} / ${IDENTITIES} / ${SERVICES}`],
      ['client processes / TLS connections', `${CLIENTS} / ${CLIENTS * CHANNELS}`],
      ['initial sync: all streams valid', `${result.initialSyncMs} ms`],
      ['restart: stop (SIGTERM → exit)', `${r.stopMs} ms`],
      ['restart: start (spawn → xDS port open)', `${r.startMs} ms`],
      ['reconnected valid, from listen p50', `${r.fromListenMs.p50} ms`],
      ['reconnected valid, from listen p99', `${r.fromListenMs.p99} ms`],
      ['reconnected valid, from listen max', `${r.fromListenMs.max} ms`],
      ['all valid, from restart (total)', `${r.allValidFromRestartMs} ms`],
      ['all hold clusters + valid secret, from listen / restart', `${r.allInSyncFromListenMs} ms / ${r.allInSyncFromRestartMs} ms`],
      ['CPU until all valid: new server (before / after listen) / clients', `${r.cpu.serverMs} ms (${r.cpu.serverBeforeListenMs} / ${r.cpu.serverAfterListenMs}) / ${r.cpu.clientsMs} ms`],
      ['  per sidecar after listen: server / clients', `${round((r.cpu.serverAfterListenMs / WORKLOADS) * 1000)} µs / ${round((r.cpu.clientsMs / WORKLOADS) * 1000)} µs`],
      ['load average (1 min) at restart / at end', `${result.loadAverage.atRestart} / ${result.loadAverage.atEnd}`],
      ['streams valid / missing / bad secrets', `${r.validStreams} / ${r.missing} / ${r.invalidSecrets}`],
      ['target ≤ 2000 ms from listen (issue 4, 1,000 streams)', result.targetMet ? 'met' : 'NOT met'],
      ['all in sync ≤ 15 s from listen (issue 14, 10,000 streams)', result.issue14TargetMet ? 'met' : 'NOT met'],
    ];
    const w = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`);
    const resultsDir = path.join(here, 'results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, `sds-reconnect-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), `${JSON.stringify(result, null, 2)}\n`);

    // Clients exit on their own (so a --profile is written) before the finally block kills what is left.
    const clientsExited = clients.map((c) => new Promise<void>((r) => (c.proc.exitCode !== null ? r() : c.proc.once('exit', () => r()))));
    for (const c of clients) c.proc.send({ cmd: 'stop' });
    server.proc.kill('SIGTERM');
    await Promise.race([Promise.all([server.exited, ...clientsExited]), new Promise((r) => setTimeout(r, 10_000))]);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`sds bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
