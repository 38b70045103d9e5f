/**
 * `scripts/bench.sh memory`: memory per config change (issue 16, Targets:
 * "memory after 10,000 config changes within 5% of after 100"). A real
 * control plane on a watched folder (bench/churn-mesh.ts) takes --changes
 * changes (endpoint churn, every 10th an intent edit) while --streams
 * Envoy-like ADS streams in a child process ACK everything; every 100 changes
 * it waits until every stream has ACKed the current config. Memory (heap
 * used + external after a forced GC, and RSS) is taken after --first changes
 * and after all of them, each time once every stream is in sync.
 * Figures, never assertions.
 *
 *   node --import tsx bench/memory.ts [--changes 10000] [--first 100] [--services 40]
 *        [--endpoints 20] [--namespaces 4] [--streams 20]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ChurnMesh, measure, mib, reexecWithGc, watchdog, type Memory } from './churn-mesh.ts';
import { DEFAULT_SHAPE } from './translate-mesh.ts';

const { values } = parseArgs({
  options: {
    changes: { type: 'string', default: '10000' },
    first: { type: 'string', default: '100' },
    services: { type: 'string', default: '40' },
    endpoints: { type: 'string', default: '20' },
    namespaces: { type: 'string', default: '4' },
    streams: { type: 'string', default: '20' },
  },
});
const int = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: "${values[name]}" is not a positive whole number`);
  return n;
};

async function main(): Promise<void> {
  const o = { changes: int('changes'), first: int('first'), streams: int('streams') };
  const shape = { ...DEFAULT_SHAPE, services: int('services'), endpointsPerService: int('endpoints'), namespaces: int('namespaces') };
  watchdog(60 * 60_000, 'bench/memory.ts');
  const mesh = await ChurnMesh.start(shape);
  try {
    await mesh.startSidecars(o.streams);
    if (!(await mesh.waitInSync())) throw new Error('the sidecars did not sync');
    const at = new Map<number, Memory & { msPerChange: number }>();
    let t0 = performance.now();
    let done = 0;
    const checkpoints = [...new Set([o.first, o.changes])].sort((a, b) => a - b);
    for (const upTo of checkpoints) {
      while (mesh.count < upTo) {
        await mesh.change();
        if (mesh.count % 100 === 0 && !(await mesh.waitInSync(10_000))) process.stderr.write(`streams not in sync after change ${mesh.count}\n`);
        if (mesh.count % 1000 === 0) process.stderr.write(`${mesh.count} changes, heap ${mib(process.memoryUsage().heapUsed)} MiB\n`);
      }
      if (!(await mesh.waitInSync())) process.stderr.write(`streams not in sync after change ${mesh.count}\n`);
      const msPerChange = (performance.now() - t0) / (upTo - done);
      at.set(upTo, { ...(await measure()), msPerChange });
      t0 = performance.now();
      done = upTo;
    }
    const a = at.get(o.first)!;
    const b = at.get(o.changes)!;
    const rows = [...at].map(([n, m]) => `  ${String(n).padStart(7)}  ${mib(m.heap).padStart(12)}  ${mib(m.rss).padStart(8)}  ${m.msPerChange.toFixed(1).padStart(11)}`);
    const pct = (x: number, y: number) => `${((x / y - 1) * 100).toFixed(1)}%`;
    process.stdout.write(
      [
        `memory per change: ${shape.services} services × ${shape.endpointsPerService} endpoints, ${o.streams} ADS streams ACKing, endpoint churn + every 10th an intent edit, through the file source`,
        `  changes  heap+ext MiB  RSS MiB  ms/change`,
        ...rows,
        `  after ${o.changes} vs after ${o.first}: heap+external ${pct(b.heap, a.heap)} (ratio ${(b.heap / a.heap).toFixed(3)}), RSS ${pct(b.rss, a.rss)} (ratio ${(b.rss / a.rss).toFixed(3)}); target: within 5%`,
        '',
      ].join('\n'),
    );
  } finally {
    await mesh.close();
  }
}

if (!reexecWithGc(fileURLToPath(import.meta.url))) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
