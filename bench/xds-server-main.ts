/**
 * The benchmark's xDS server: a real Trellis server (startControlPlane, as
 * `trellis serve` runs it) on 127.0.0.1, serving a mesh of `--services`
 * services to every node under the shared key. Driven over IPC by
 * bench/run.ts: "report" (memory, CPU, encodes, streams) and "change" (one
 * endpoint set, through the endpoint fast path: cache.setType with
 * TypeSet.with). Exits when its parent goes away.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { encodeResource, encodeStats } from '../src/cache/resource.ts';
import { Snapshot, TypeSet } from '../src/cache/snapshot.ts';
import { SHARED_KEY, startControlPlane } from '../src/runtime/control-plane.ts';
import { TypeUrl } from '../src/xds/type-urls.ts';
import { now, type ServerChanged, type ServerReady, type ServerReport, type ServerRequest } from './ipc.ts';
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

/** CPU spent by report() reading the view: see ServerReport.harnessCpuMs. */
let harnessCpuMs = 0;

async function report(req: Extract<ServerRequest, { cmd: 'report' }>): Promise<void> {
  if (req.gc) collectGarbage();
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  const harnessAtStart = harnessCpuMs;
  const at = now();
  const edsAckedAt: number[] = [];
  if (req.edsVersion) {
    for (const { streams } of server.xds.syncStatus()) {
      for (const s of streams) {
        const eds = s.types.find((t) => t.typeUrl === TypeUrl.Endpoint);
        if (eds?.ackedVersion === req.edsVersion) edsAckedAt.push(eds.ackedAt!);
      }
    }
  }
  const spent = process.cpuUsage(cpu);
  harnessCpuMs += (spent.user + spent.system) / 1000;
  const r: ServerReport = {
    id: req.id,
    rss: m.rss,
    maxRss: process.resourceUsage().maxRSS * 1024,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    cpu,
    harnessCpuMs: harnessAtStart,
    encodes: encodeStats.encodes,
    streamCount: server.xds.streamCount(),
    edsAcked: edsAckedAt.length,
    edsAckedAt,
    acks: await counterTotal(server.xds.metrics.acks),
    nacks: await counterTotal(server.xds.metrics.nacks),
    at,
  };
  send(r);
}

let inspector: Session | undefined;

async function profile(req: Extract<ServerRequest, { cmd: 'profile' }>): Promise<void> {
  if (req.action === 'start') {
    inspector ??= new Session();
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.start');
  } else if (inspector) {
    const { profile } = await inspector.post('Profiler.stop');
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
      const changed: ServerChanged = {
        id: req.id,
        at,
        version: server.cache.get(SHARED_KEY)!.get(TypeUrl.Endpoint).version,
        cpuBefore,
        harnessCpuMsBefore: harnessCpuMs,
        encodesBefore,
        encodesAfter: encodeStats.encodes,
        setMs: now() - at,
      };
      send(changed);
      return;
    }
    case 'stop':
      void server.stop().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 2000).unref();
      return;
  }
});
