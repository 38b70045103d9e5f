/**
 * The benchmark's xDS server: a real Trellis server (startControlPlane, as
 * `trellis serve` runs it) on 127.0.0.1, serving a mesh of `--services`
 * services to every node under the shared key. Driven over IPC by
 * bench/run.ts: "report" (memory, CPU, encodes, streams), "change" (one
 * endpoint set, through the endpoint fast path: cache.setType with
 * TypeSet.with) and "settled" (the end of that push: see ServerSettled).
 * Exits when its parent goes away.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { encodeResource, encodeStats } from '../src/cache/resource.ts';
import { Snapshot, TypeSet } from '../src/cache/snapshot.ts';
import { SHARED_KEY, startControlPlane } from '../src/runtime/control-plane.ts';
import { SHORT_NAMES, TypeUrl } from '../src/xds/type-urls.ts';
import { now, type ServerChanged, type ServerReady, type ServerReport, type ServerRequest, type ServerSettled } from './ipc.ts';
import { cluster, endpoints, listener, routeConfiguration } from './mesh.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

if (!process.send) {
  process.stderr.write('bench/xds-server-main.ts is started by bench/run.ts (npm run bench)\n');
  process.exit(2);
}
const send = (m: unknown) => process.send!(m);
process.on('disconnect', () => process.exit(0));

const services = Number(arg('services', '1000'));
const buildStart = now();
const snapshot = new Snapshot({
  [TypeUrl.Cluster]: TypeSet.of(TypeUrl.Cluster, Array.from({ length: services }, (_, i) => encodeResource(TypeUrl.Cluster, cluster(i)))),
  [TypeUrl.Endpoint]: TypeSet.of(TypeUrl.Endpoint, Array.from({ length: services }, (_, i) => encodeResource(TypeUrl.Endpoint, endpoints(i)))),
  [TypeUrl.Listener]: TypeSet.of(TypeUrl.Listener, [encodeResource(TypeUrl.Listener, listener())]),
  [TypeUrl.Route]: TypeSet.of(TypeUrl.Route, [encodeResource(TypeUrl.Route, routeConfiguration(services))]),
});

const server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0' });
const loaded = server.cache.set(SHARED_KEY, snapshot);
if (!loaded.ok) {
  process.stderr.write(`bench mesh is inconsistent: ${JSON.stringify(loaded.problems.slice(0, 5))}\n`);
  process.exit(1);
}
const ready: ServerReady = { event: 'ready', port: server.xdsPort, services, buildMs: now() - buildStart, encodes: encodeStats.encodes };
send(ready);

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  gc();
  gc();
}

async function counterTotal(counter: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await counter.get()).values.reduce((a, v) => a + v.value, 0);
}

async function report(req: Extract<ServerRequest, { cmd: 'report' }>): Promise<void> {
  if (req.gc) collectGarbage();
  const m = process.memoryUsage();
  const r: ServerReport = {
    id: req.id,
    rss: m.rss,
    maxRss: process.resourceUsage().maxRSS * 1024,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    cpu: process.cpuUsage(),
    encodes: encodeStats.encodes,
    streamCount: server.xds.streamCount(),
    acks: await counterTotal(server.xds.metrics.acks),
    nacks: await counterTotal(server.xds.metrics.nacks),
    at: now(),
  };
  send(r);
}

// --- the end of a push (ServerSettled) ----------------------------------------

/** EDS ACKs applied so far: one label of a counter, read without walking the streams. */
async function edsAcks(): Promise<number> {
  const { values } = await server.xds.metrics.acks.get();
  return values.find((v) => v.labels.type === SHORT_NAMES[TypeUrl.Endpoint])?.value ?? 0;
}

/**
 * Since the last change: the EDS ACK count it started from, and (count, CPU,
 * time) each time a 5 ms poll saw the count move. The poll reads one counter
 * (microseconds); walking every stream's sync status instead, as this harness
 * did before, cost ~30 ms per push at 1,000 streams and garbage on top, all
 * counted as the server's.
 */
interface AckWatch {
  version: string;
  base: number;
  samples: Array<{ acks: number; cpu: NodeJS.CpuUsage; at: number }>;
  timer: NodeJS.Timeout;
  waiter?: { acks: number; done: () => void };
}
let watch: AckWatch | undefined;

async function startWatch(version: string): Promise<void> {
  if (watch) clearInterval(watch.timer);
  const w: AckWatch = { version, base: await edsAcks(), samples: [], timer: setInterval(() => void poll(w), 5) };
  watch = w;
}

async function poll(w: AckWatch): Promise<void> {
  const acks = (await edsAcks()) - w.base;
  const last = w.samples.at(-1);
  if (acks !== (last?.acks ?? 0)) w.samples.push({ acks, cpu: process.cpuUsage(), at: now() });
  if (w.waiter && acks >= w.waiter.acks) w.waiter.done();
}

async function settled(req: Extract<ServerRequest, { cmd: 'settled' }>): Promise<void> {
  const w = watch;
  if (!w) throw new Error('"settled" before any "change"');
  const reached = () => w.samples.find((s) => s.acks >= req.acks);
  if (!reached()) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, req.timeoutMs);
      w.waiter = { acks: req.acks, done: () => (clearTimeout(timer), resolve()) };
    });
  }
  clearInterval(w.timer);
  const end = reached() ?? { acks: (await edsAcks()) - w.base, cpu: process.cpuUsage(), at: now() };
  // Only now, with the CPU figure taken, read the streams' applied times.
  const edsAckedAt: number[] = [];
  for (const { streams } of server.xds.syncStatus()) {
    for (const s of streams) {
      const eds = s.types.find((t) => t.typeUrl === TypeUrl.Endpoint);
      if (eds?.ackedVersion === w.version) edsAckedAt.push(eds.ackedAt!);
    }
  }
  const r: ServerSettled = { id: req.id, acks: end.acks, cpu: end.cpu, at: end.at, encodes: encodeStats.encodes, edsAcked: edsAckedAt.length, edsAckedAt };
  send(r);
}

let inspector: Session | undefined;
let profiling: 'cpu' | 'alloc' | undefined;

async function profile(req: Extract<ServerRequest, { cmd: 'profile' }>): Promise<void> {
  if (req.action === 'start') {
    inspector ??= new Session();
    inspector.connect();
    profiling = req.kind;
    if (req.kind === 'cpu') {
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.start');
    } else {
      // Objects the collector already freed stay in the profile: a push's garbage is the point.
      await inspector.post('HeapProfiler.enable');
      await inspector.post('HeapProfiler.startSampling', { samplingInterval: 16 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    }
  } else if (inspector) {
    const { profile } = profiling === 'cpu' ? await inspector.post('Profiler.stop') : await inspector.post('HeapProfiler.stopSampling');
    writeFileSync(req.file, JSON.stringify(profile));
    inspector.disconnect();
  }
  send({ id: req.id });
}

process.on('message', (raw: unknown) => {
  const req = raw as ServerRequest;
  switch (req.cmd) {
    case 'profile':
      void profile(req);
      return;
    case 'report':
      void report(req);
      return;
    case 'settled':
      void settled(req);
      return;
   case 'change': {
      const cpuBefore = process.cpuUsage();
      const encodesBefore = encodeStats.encodes;
      const at = now();
      // The endpoint fast path: one ClusterLoadAssignment re-encoded, the
      // EDS set copied with it replaced, listeners and routes untouched.
      const current = server.cache.get(SHARED_KEY)!.get(TypeUrl.Endpoint);
      const next = current.with({ upsert: [encodeResource(TypeUrl.Endpoint, endpoints(req.service, req.generation))] });
      const result = server.cache.setType(SHARED_KEY, next);
      if (!result.ok) throw new Error(`endpoint change rejected: ${JSON.stringify(result.problems)}`);
      const version = server.cache.get(SHARED_KEY)!.get(TypeUrl.Endpoint).version;
      const changed: ServerChanged = {
        id: req.id,
        at,
        version,
        cpuBefore,
        encodesBefore,
        encodesAfter: encodeStats.encodes,
        setMs: now() - at,
      };
      send(changed);
      void startWatch(version);
      return;
    }
    case 'stop':
      void server.stop().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 2000).unref();
      return;
  }
});
