/**
 * `scripts/bench.sh soak` (opt-in: 30 minutes): the soak benchmark of issue
 * 16 ("30 minutes of endpoint churn and intent edits with streams connecting
 * and leaving; heap and RSS sampled; flat after warm-up"). The control plane
 * of bench/churn-mesh.ts takes --rate changes a second (endpoint churn, every
 * 10th an intent edit) while --streams Envoy-like ADS streams in a child
 * process ACK everything, one of them leaving and a new proxy connecting
 * every --cycle-ms. Every --sample-seconds: heap used + external after a
 * forced GC, and RSS. Prints the samples, then per figure the least-squares
 * slope over the samples after --warmup-minutes, in MiB per hour.
 * Figures, never assertions.
 *
 *   SOAK_MINUTES=30 node --import tsx bench/soak.ts [--rate 10] [--sample-seconds 30]
 *        [--warmup-minutes min(5, minutes/3)] [--streams 20] [--cycle-ms 1000]
 *        [--services 40] [--endpoints 20] [--namespaces 4]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ChurnMesh, measure, mib, runWithGc, watchdog, type Memory } from './churn-mesh.ts';
import { DEFAULT_SHAPE } from './translate-mesh.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '10' },
    'sample-seconds': { type: 'string', default: process.env.SOAK_SAMPLE_SECONDS ?? '30' },
    'warmup-minutes': { type: 'string' },
    streams: { type: 'string', default: '20' },
    'cycle-ms': { type: 'string', default: '1000' },
    services: { type: 'string', default: '40' },
    endpoints: { type: 'string', default: '20' },
    namespaces: { type: 'string', default: '4' },
  },
});
const num = (name: string, text: string | undefined) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: "${text}" is not a positive number`);
  return n;
};

interface Sample extends Memory {
  minutes: number;
  changes: number;
  streams: number;
}

/** Least-squares slope of `y` over `x`. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

async function main(): Promise<void> {
  const minutes = num('SOAK_MINUTES', process.env.SOAK_MINUTES ?? '30');
  const rate = num('--rate', values.rate);
  const sampleMs = num('--sample-seconds', values['sample-seconds']) * 1000;
  const warmup = values['warmup-minutes'] !== undefined ? num('--warmup-minutes', values['warmup-minutes']) : Math.min(5, minutes / 3);
  const streams = num('--streams', values.streams);
  const shape = { ...DEFAULT_SHAPE, services: num('--services', values.services), endpointsPerService: num('--endpoints', values.endpoints), namespaces: num('--namespaces', values.namespaces) };
  watchdog((minutes + 10) * 60_000, 'bench/soak.ts');
  const mesh = await ChurnMesh.start(shape);
  const samples: Sample[] = [];
  const line = (s: Sample) =>
    `  ${s.minutes.toFixed(1).padStart(7)}  ${String(s.changes).padStart(8)}  ${String(s.streams).padStart(7)}  ${mib(s.heap).padStart(12)}  ${mib(s.code).padStart(8)}  ${mib(s.rss).padStart(8)}`;
  const header = '  minutes   changes  streams  heap+ext MiB  code MiB  RSS MiB';
  try {
    await mesh.startSidecars(streams, num('--cycle-ms', values['cycle-ms']));
    process.stdout.write(
      `soak: ${minutes} min, ${rate} changes/s (endpoint churn, every 10th change an intent edit), ${streams} ADS streams ACKing, one replaced every ${values['cycle-ms']} ms; ` +
        `${shape.services} services × ${shape.endpointsPerService} endpoints; a sample every ${sampleMs / 1000} s; warm-up ${warmup.toFixed(1)} min\n${header}\n`,
    );
    const start = performance.now();
    const end = start + minutes * 60_000;
    let nextSample = start;
    while (performance.now() < end) {
      const now = performance.now();
      if (now >= nextSample) {
        const m = await measure();
        const s = { minutes: (performance.now() - start) / 60_000, changes: mesh.count, streams: mesh.server.xds.streamCount(), ...m };
        samples.push(s);
        process.stdout.write(`${line(s)}\n`);
        nextSample += sampleMs;
      }
      // Paced: the change that is due, then wait for the next one's time.
      const due = start + (mesh.count * 1000) / rate;
      if (performance.now() < due) await new Promise((r) => setTimeout(r, Math.min(due - performance.now(), Math.max(0, nextSample - performance.now()))));
      else await mesh.change();
    }
    const m = await measure();
    samples.push({ minutes: (performance.now() - start) / 60_000, changes: mesh.count, streams: mesh.server.xds.streamCount(), ...m });
    const after = samples.filter((s) => s.minutes >= warmup);
    const perHour = (pick: (s: Sample) => number) => (slope(after.map((s) => [s.minutes, pick(s)])) * 60) / 1024 / 1024;
    const span = (pick: (s: Sample) => number) => `${mib(Math.min(...after.map(pick)))}..${mib(Math.max(...after.map(pick)))} MiB`;
    process.stdout.write(
      [
        '',
        `samples (${samples.length}):`,
        header,
        ...samples.map(line),
        `after warm-up (${after.length} samples from minute ${warmup.toFixed(1)}; ${samples.at(-1)!.changes} changes in all):`,
        `  heap+external: slope ${perHour((s) => s.heap).toFixed(2)} MiB/hour, range ${span((s) => s.heap)}`,
        `  without code:  slope ${perHour((s) => s.heap - s.code).toFixed(2)} MiB/hour, range ${span((s) => s.heap - s.code)}`,
        `  RSS:           slope ${perHour((s) => s.rss).toFixed(2)} MiB/hour, range ${span((s) => s.rss)}`,
        `  target: flat after warm-up`,
        '',
      ].join('\n'),
    );
  } finally {
    await mesh.close();
  }
}

runWithGc(fileURLToPath(import.meta.url), main);
