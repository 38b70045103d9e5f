/**
 * Issue 14's benchmark mesh and its load (bench/scale.ts, bench/scale-storm.ts):
 * a mesh of bench/translate-mesh.ts written to a folder and served by a real
 * Trellis in this process, one ADS stream per workload from a child process
 * (bench/scale-client-main.ts), and the readers of the server's sync status,
 * CPU and memory the benchmarks print. Figures, never assertions.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { SourceObject } from '../src/model/object.ts';
import { startControlPlane, type RunningControlPlane } from '../src/runtime/control-plane.ts';
import { proxiesInSync } from '../src/server/sync-status.ts';
import { endpointSlice, meshObjects, serviceName, type MeshShape } from './translate-mesh.ts';
import type { ScaleClientConfig } from './scale-client-main.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export const yamlOf = (objects: SourceObject[]) => objects.map((o) => stringify(o.raw)).join('---\n');
export const isIntent = (o: SourceObject) => ['TrafficSplit', 'HTTPRouteGroup', 'TrafficPolicy', 'TrafficTarget', 'MeshConfig'].includes(o.kind);
export const cpuMs = (c: NodeJS.CpuUsage) => Math.round((c.user + c.system) / 1000);
export const mib = (b: number) => Math.round(b / 2 ** 20);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const pct = (xs: number[], p: number) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!);

export class Mesh {
  private constructor(
    readonly dir: string,
    readonly shape: MeshShape,
    readonly server: RunningControlPlane,
    readonly intents: SourceObject[],
  ) {}

  /** `debounceMs`: the folder watcher's (default: edits wait for apply()). */
  static async start(shape: MeshShape, debounceMs = 60_000): Promise<Mesh> {
    const dir = mkdtempSync(path.join(tmpdir(), 'trellis-scale-'));
    const objects = meshObjects(shape);
    write(dir, 'mesh.yaml', yamlOf(objects.filter((o) => !isIntent(o) && o.kind !== 'EndpointSlice')));
    write(dir, 'intents.yaml', yamlOf(objects.filter(isIntent)));
    for (let i = 0; i < shape.services; i++) write(dir, `slices/${serviceName(i)}.yaml`, yamlOf([endpointSlice(i, shape)]));
    // By default edits are applied by flush(), not by the watcher on its own timing.
    const server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir, reloadDebounceMs: debounceMs });
    return new Mesh(dir, shape, server, objects.filter(isIntent));
  }

  async apply(): Promise<void> {
    const mesh = this.server.mesh!;
    const before = mesh.generation;
    await mesh.flush();
    for (let k = 0; k < 50 && mesh.generation === before; k++) {
      await sleep(5);
      await mesh.flush();
    }
  }

  /** Response bytes the server has written so far, per type (short name), every stream. */
  async bytesSent(): Promise<Record<string, number>> {
    const { values } = await this.server.xds.metrics.responseBytes.get();
    const out: Record<string, number> = {};
    for (const v of values) out[String(v.labels.type)] = (out[String(v.labels.type)] ?? 0) + v.value;
    return out;
  }

  inSync(ids: readonly string[]): boolean {
    return proxiesInSync(this.server.xds.syncStatus(), ids);
  }

  /** Per node that ACKed anything after `t0`: its last ACK after t0, minus t0. */
  ackLatencies(t0: number): number[] {
    const out: number[] = [];
    for (const n of this.server.xds.syncStatus()) {
      let last = 0;
      for (const s of n.streams) for (const t of s.types) if (t.ackedAt !== null && t.ackedAt >= t0) last = Math.max(last, t.ackedAt);
      if (last > 0) out.push(last - t0);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** After a full GC (and the finalizers of interned values): heap used + external, and RSS. */
export async function settledMemory(): Promise<{ heap: number; rss: number }> {
  for (let i = 0; i < 3; i++) {
    await sleep(20);
    globalThis.gc?.();
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external, rss: m.rss };
}

export function write(dir: string, file: string, text: string): void {
  const p = path.join(dir, file);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
}

export function startClients(mesh: Mesh, ids: string[], mode: 'sotw' | 'delta', perConnection: number): Promise<ChildProcess> {
  // SCALE_CLIENT_PROFILE=1: a V8 CPU profile of the client process for the whole run, in bench/results.
  const prof = process.env.SCALE_CLIENT_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(here, 'results')}`] : [];
  const child = fork(path.join(here, 'scale-client-main.ts'), [], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096', ...prof] });
  const config: ScaleClientConfig = { address: `127.0.0.1:${mesh.server.xdsPort}`, workloads: ids, mode, perConnection };
  child.send(config);
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`scale clients exited (${code})`)));
    // Later too: a client process that dies mid-run would leave the benchmark waiting out every timeout.
    child.on('exit', (code, signal) => {
      if (code === 0 || signal === 'SIGTERM') return;
      console.error(`[scale] the client process died (${code ?? signal}); stopping`);
      process.exit(1);
    });
  });
}

/** SIGTERM: the client exits through process.exit, so a --cpu-prof profile is written. */
export function stopClients(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill();
  });
}

/** CPU this benchmark spent reading the sync-status view (subtracted from the server's figures). */
let pollCpu = 0;

/** The benchmark's own polling CPU so far. */
export const pollCpuMs = () => pollCpu;

export async function waitInSync(mesh: Mesh, ids: string[], ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const c0 = process.cpuUsage();
    const done = mesh.inSync(ids);
    pollCpu += cpuMs(process.cpuUsage(c0));
    if (done) return true;
    await sleep(50);
  }
  return false;
}

/** The server's CPU since `c0`, without the benchmark's own polling since `poll0`. */
export const serverCpu = (c0: NodeJS.CpuUsage, poll0: number) => cpuMs(process.cpuUsage(c0)) - (pollCpu - poll0);

/** SCALE_PROFILE=<edit name>: a V8 CPU profile of this process during that edit, written to bench/results. */
export async function profiled<T>(name: string, f: () => Promise<T>): Promise<T> {
  if (process.env.SCALE_PROFILE !== name) return f();
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await f();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    const file = path.join(here, 'results', `scale-${name.replace(/\W+/g, '-')}.cpuprofile`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(profile));
    console.log(`[scale] profile: ${file}`);
  }
}
