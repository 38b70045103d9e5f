/**
 * `scripts/bench.sh memory`: memory per config change (issue 16, Targets:
 * "memory after 10,000 config changes within 5% of after 100"). A real
 * control plane on a watched folder (bench/churn-mesh.ts) takes --changes
 * changes while --streams Envoy-like ADS streams in a child process ACK
 * everything; every 100 changes it waits until every stream has ACKed the
 * current config. Memory (heap used + external after a forced GC, the
 * compiled code within it, and RSS) is taken after --first changes, after
 * 1,000 and 3,000, and after all of them, each time once every stream is in
 * sync.
 *
 * Two scenarios, each on a fresh control plane:
 *   - churn: endpoint churn only, as a cluster whose pods come and go while
 *     nobody edits intents (issue 16 bug 1 kept every endpoint set of it);
 *   - mixed: the same with every 10th change an intent edit (TrafficSplit
 *     weights): the routes change, the streams re-read clusters and endpoints.
 * Figures, never assertions.
 *
 *   node --import tsx bench/memory.ts [--scenarios churn,mixed] [--changes 10000] [--first 100]
 *        [--services 40] [--endpoints 20] [--namespaces 4] [--streams 20]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { parseArgs } from 'node:util';
import { ChurnMesh, measure, mib, runWithGc, watchdog, type Memory } from './churn-mesh.ts';
import { DEFAULT_SHAPE, type MeshShape } from './translate-mesh.ts';
import { positiveInt } from './options.ts';

const { values } = parseArgs({
  options: {
    scenarios: { type: 'string', default: 'churn,mixed' },
    changes: { type: 'string', default: '10000' },
    first: { type: 'string', default: '100' },
    services: { type: 'string', default: '40' },
    endpoints: { type: 'string', default: '20' },
    namespaces: { type: 'string', default: '4' },
    streams: { type: 'string', default: '20' },
    // A V8 heap snapshot at each checkpoint (<dir>/<scenario>-<changes>.heapsnapshot), to diff what the warm-up holds.
    snapshots: { type: 'string' },
  },
});
const int = (name: keyof typeof values) => positiveInt(values, name);
const SCENARIOS = { churn: { intentEvery: 0, what: 'endpoint churn only' }, mixed: { intentEvery: 10, what: 'endpoint churn, every 10th change an intent edit' } };
type Scenario = keyof typeof SCENARIOS;

interface Options {
  changes: number;
  first: number;
  streams: number;
}

async function run(scenario: Scenario, shape: MeshShape, o: Options): Promise<string[]> {
  const mesh = await ChurnMesh.start(shape, SCENARIOS[scenario].intentEvery);
  try {
    await mesh.startSidecars(o.streams);
    if (!(await mesh.waitInSync())) throw new Error('the sidecars did not sync');
    const at = new Map<number, Memory & { msPerChange: number }>();
    let t0 = performance.now();
    let done = 0;
    // The checkpoints between show where growth stops (warm-up: compiled code, weak tables' high water) and whether it goes on.
    const checkpoints = [o.first, 1000, 3000, o.changes].filter((n) => n >= o.first && n <= o.changes);
    for (const upTo of [...new Set(checkpoints)].sort((a, b) => a - b)) {
      while (mesh.count < upTo) {
        await mesh.change();
        if (mesh.count % 100 === 0 && !(await mesh.waitInSync(10_000))) process.stderr.write(`${scenario}: streams not in sync after change ${mesh.count}\n`);
        if (mesh.count % 1000 === 0) process.stderr.write(`${scenario}: ${mesh.count} changes\n`);
      }
      if (!(await mesh.waitInSync())) process.stderr.write(`${scenario}: streams not in sync after change ${mesh.count}\n`);
      const msPerChange = (performance.now() - t0) / (upTo - done);
      at.set(upTo, { ...(await measure()), msPerChange });
      if (values.snapshots) v8.writeHeapSnapshot(path.join(values.snapshots, `${scenario}-${upTo}.heapsnapshot`));
      t0 = performance.now();
      done = upTo;
    }
    const a = at.get(o.first)!;
    const b = at.get(o.changes)!;
    const warm = at.get(1000);
    const pct = (x: number, y: number) => `${x >= y ? '+' : ''}${((x / y - 1) * 100).toFixed(1)}% (ratio ${(x / y).toFixed(3)})`;
    return [
      `${scenario}: ${SCENARIOS[scenario].what}`,
      ...[...at].map(
        ([n, m]) =>
          `  ${String(n).padStart(7)}  ${mib(m.heap).padStart(12)}  ${mib(m.code).padStart(8)}  ${mib(m.heap - m.code).padStart(13)}  ${mib(m.rss).padStart(8)}  ${m.msPerChange.toFixed(1).padStart(9)}`,
      ),
      `  after ${o.changes} vs after ${o.first}: heap+external ${pct(b.heap, a.heap)}; without code ${pct(b.heap - b.code, a.heap - a.code)}; RSS ${pct(b.rss, a.rss)}`,
      ...(warm && o.changes > 1000 && o.first < 1000
        ? [`  after ${o.changes} vs after 1000 (warm): heap+external ${pct(b.heap, warm.heap)}; without code ${pct(b.heap - b.code, warm.heap - warm.code)}; RSS ${pct(b.rss, warm.rss)}`]
        : []),
    ];
  } finally {
    await mesh.close();
  }
}

async function main(): Promise<void> {
  const o: Options = { changes: int('changes'), first: int('first'), streams: int('streams') };
  const shape = { ...DEFAULT_SHAPE, services: int('services'), endpointsPerService: int('endpoints'), namespaces: int('namespaces') };
  const scenarios = values.scenarios.split(',').map((s) => s.trim());
  for (const s of scenarios) if (!(s in SCENARIOS)) throw new Error(`--scenarios: "${s}" is not one of ${Object.keys(SCENARIOS).join(', ')}`);
  watchdog(scenarios.length * 60 * 60_000, 'bench/memory.ts');
  const lines = [
    `memory per change: ${shape.services} services × ${shape.endpointsPerService} endpoints, ${o.streams} ADS streams ACKing, changes through the file source; target: after ${o.changes} within 5% of after ${o.first}`,
    `  changes  heap+ext MiB  code MiB  without code  RSS MiB  ms/change`,
  ];
  for (const s of scenarios as Scenario[]) lines.push(...(await run(s, shape, o)));
  process.stdout.write(`${lines.join('\n')}\n`);
}

runWithGc(fileURLToPath(import.meta.url), main);
