/**
 * The memory benchmarks' harness (bench/memory.ts, bench/soak.ts): a real
 * `trellis serve --source file:<dir>` (startControlPlane) in this process,
 * fed the translation benchmark's mesh (translate-mesh.ts) written as YAML
 * into a temp folder, and changed the way a cluster changes it:
 *   - endpoint churn: one service's EndpointSlice rewritten with a pod
 *     replaced (a new address each time, so no two generations share
 *     content, as pods restarting give);
 *   - every `intentEvery`-th change (0: never) an intent edit: intents.yaml
 *     rewritten with every TrafficSplit's weights moved (every proxy calling
 *     a split root is translated again; their routes change).
 * Each change goes through the file source (write, rename, flush) and the
 * whole pipeline: parse, model, publisher, cache, and the ADS streams of the
 * sidecars child (bench/sidecars-main.ts), which ACK everything.
 */
import { fork, type ChildProcess } from 'node:child_process';
import v8 from 'node:v8';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { rootLogger } from '../src/log.ts';
import type { SourceObject } from '../src/model/object.ts';
import { startControlPlane, type RunningControlPlane } from '../src/runtime/control-plane.ts';
import { proxiesInSync } from '../src/server/sync-status.ts';
import { writeYaml } from '../test/support/mesh-harness.ts';
import { endpointSlice, meshObjects, serviceName, workloadKey, type MeshShape } from './translate-mesh.ts';
import type { SidecarsConfig } from './sidecars-main.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Memory {
  /** heap used + external (ArrayBuffers: encoded resources), after a forced GC */
  heap: number;
  /** of `heap`: compiled code (V8's code spaces), which grows as the JIT warms up, not with data */
  code: number;
  rss: number;
}

/** Memory after a full GC; the process must run with --expose-gc (see runWithGc). */
export async function measure(): Promise<Memory> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (see runWithGc)');
  // Interned values are held weakly: they die after the job that last used
  // them, and their interner entries after the finalizers that run after a GC.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  const m = process.memoryUsage();
  const code = v8
    .getHeapSpaceStatistics()
    .filter((s) => s.space_name.startsWith('code'))
    .reduce((a, s) => a + s.space_used_size, 0);
  return { heap: m.heapUsed + m.external, code, rss: m.rss };
}

/** Runs `main` in a process with --expose-gc: this one, or `script` run again with it. Exits when done. */
export function runWithGc(script: string, main: () => Promise<void>): void {
  if (!(globalThis as { gc?: unknown }).gc) {
    const child = fork(script, process.argv.slice(2), { execArgv: [...process.execArgv, '--expose-gc'] });
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
    return;
  }
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}

export const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** Ends the process after `ms` whatever it is doing (scripts/bench.sh: everything stops by itself). */
export function watchdog(ms: number, what: string): void {
  setTimeout(() => {
    process.stderr.write(`${what}: still running after ${Math.round(ms / 60_000)} min; stopped by its watchdog\n`);
    process.exit(1);
  }, ms).unref();
}

const yamlOf = (objects: SourceObject[]) => objects.map((o) => stringify(o.raw)).join('---\n');

/** Service i's slice at `generation`: its last endpoint is a pod replaced `generation` times. */
function sliceAt(i: number, shape: MeshShape, generation: number): SourceObject {
  const slice = endpointSlice(i, shape);
  const endpoints = slice.raw.endpoints as Array<{ addresses: string[] }>;
  const last = endpoints.at(-1)!;
  last.addresses = [`10.${128 + ((generation >> 16) & 127)}.${(generation >> 8) & 255}.${generation & 255}`];
  return slice;
}

function isIntent(o: SourceObject): boolean {
  return ['TrafficSplit', 'HTTPRouteGroup', 'TrafficPolicy', 'TrafficTarget', 'MeshConfig'].includes(o.kind);
}

export class ChurnMesh {
  private changes = 0;
  private sidecars?: ChildProcess;

  private constructor(
    readonly dir: string,
    readonly shape: MeshShape,
    readonly server: RunningControlPlane,
    private readonly intents: SourceObject[],
    private readonly intentEvery: number,
  ) {}

  static async start(shape: MeshShape, intentEvery = 10): Promise<ChurnMesh> {
    // The figures are the output; the server's info lines would bury them.
    if (!process.env.TRELLIS_LOG_LEVEL) rootLogger.level = 'error';
    const dir = mkdtempSync(path.join(tmpdir(), 'trellis-churn-'));
    const objects = meshObjects(shape);
    const intents = objects.filter(isIntent);
    const rest = objects.filter((o) => !isIntent(o) && o.kind !== 'EndpointSlice');
    writeYaml(dir, 'mesh.yaml', yamlOf(rest));
    writeYaml(dir, 'intents.yaml', yamlOf(intents));
    for (let i = 0; i < shape.services; i++) writeYaml(dir, `slices/${serviceName(i)}.yaml`, yamlOf([sliceAt(i, shape, 0)]));
    // A long debounce: each change is applied by flush(), not by the watcher on its own.
    const server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir, reloadDebounceMs: 60_000 });
    return new ChurnMesh(dir, shape, server, intents, intentEvery);
  }

  get count(): number {
    return this.changes;
  }

  /** One change through the file source; returns the pipeline's generation after it. */
  async change(): Promise<number> {
    const c = ++this.changes;
    if (this.intentEvery > 0 && c % this.intentEvery === 0) {
      const shift = ((c / this.intentEvery) % 9) * 10;
      const edited = this.intents.map((o) => {
        if (o.kind !== 'TrafficSplit') return o;
        const spec = o.raw.spec as { backends: Array<{ service: string; weight: number }> };
        if (spec.backends.length !== 2) return o;
        return { ...o, raw: { ...o.raw, spec: { ...spec, backends: [{ ...spec.backends[0]!, weight: 90 - shift }, { ...spec.backends[1]!, weight: 10 + shift }] } } };
      });
      writeYaml(this.dir, 'intents.yaml', yamlOf(edited));
    } else {
      const i = c % this.shape.services;
      writeYaml(this.dir, `slices/${serviceName(i)}.yaml`, yamlOf([sliceAt(i, this.shape, c)]));
    }
    const before = this.server.mesh!.generation;
    await this.server.mesh!.flush();
    // A file still settling (its stamp moving) is read on the next flush.
    for (let k = 0; k < 20 && this.server.mesh!.generation === before; k++) {
      await new Promise((r) => setTimeout(r, 5));
      await this.server.mesh!.flush();
    }
    return this.server.mesh!.generation;
  }

  /**
   * Forks the sidecars child: `streams` Envoy-like ADS streams for the first
   * workloads of the mesh, ACKing everything; with `cycleEveryMs`, one of
   * them leaves and a new one (a new node id) connects at that period.
   */
  startSidecars(streams: number, cycleEveryMs = 0): Promise<void> {
    const config: SidecarsConfig = {
      address: `127.0.0.1:${this.server.xdsPort}`,
      workloads: Array.from({ length: streams }, (_, k) => workloadKey(k % this.shape.services, this.shape)),
      cycleEveryMs,
    };
    const child = fork(path.join(here, 'sidecars-main.ts'), [], { execArgv: ['--import', 'tsx'] });
    this.sidecars = child;
    child.send(config);
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`sidecars child exited (${code})`)));
    });
  }

  /** Node ids connected now; every one of them has ACKed the current config. */
  inSync(): boolean {
    const view = this.server.xds.syncStatus();
    return view.length > 0 && proxiesInSync(view, view.map((n) => n.node.id));
  }

  async waitInSync(ms = 60_000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (this.inSync()) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  async close(): Promise<void> {
    this.sidecars?.kill();
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
