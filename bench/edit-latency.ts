/**
 * `scripts/bench.sh edits` (issue 16 bug 7): how long an operator's edit of
 * the watched folder takes to be served, for both ways a file gets saved:
 * written in place (`>`, most scripts) and renamed over (vim and most
 * editors write a new file and rename it over the old one; before the fix,
 * every edit after the first such save waited for the 5 s safety resync).
 * Trellis serves a folder mesh (file source, as `trellis serve --source
 * file:<dir>`, default debounce and resync); one ADS client (SotW, plaintext)
 * holds the endpoints of one service; each edit moves that service's
 * EndpointSlice (in a nested folder) to a new address, alternately in place
 * and by rename, and the figure is the time from the write to the EDS
 * response carrying the new address: file watcher, model, translation, push.
 * Target (issue 16): p99 under 1 s over 100 edits.
 *
 * Figures, never assertions: exit 0 whether or not the target is met (1 only
 * if the benchmark itself could not run).
 *   node --import tsx bench/edit-latency.ts [--edits 100] [--gap-ms 100]
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootLogger } from '../src/log.ts';
import { startControlPlane, type RunningControlPlane } from '../src/runtime/control-plane.ts';
import { TypeUrl } from '../src/xds/type-urls.ts';
import { XdsTestClient, type SotwResponseView, type SotwStream } from '../test/support/ads-client.ts';
import { grpcNode } from '../test/support/mesh-harness.ts';

const { values } = parseArgs({
  options: {
    edits: { type: 'string', default: '100' },
    'gap-ms': { type: 'string', default: '100' },
  },
});
const EDITS = Number(values.edits);
const GAP_MS = Number(values['gap-ms']);
if (!Number.isInteger(EDITS) || EDITS < 2) throw new Error(`--edits ${values.edits}: expected a whole number of at least 2`);
if (!Number.isFinite(GAP_MS) || GAP_MS < 0) throw new Error(`--gap-ms ${values['gap-ms']}: expected milliseconds`);
/** Per edit: a lost edit is a figure (the wait), not a hang. */
const EDIT_TIMEOUT_MS = 15_000;
const CLUSTER = 'echo.demo:8080';

const meshYaml = [
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}',
  'apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: demo}\nspec: {ports: [{name: http, port: 8080}]}',
].join('\n---\n') + '\n';
const sliceYaml = (address: string) =>
  `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: echo-1, namespace: demo, labels: {kubernetes.io/service-name: echo}}\naddressType: IPv4\nports: [{name: http, port: 8080}]\nendpoints: [{addresses: [${address}], conditions: {ready: true}, zone: z1}]\n`;
const addressOf = (i: number) => `10.${Math.floor(i / 250) + 1}.${i % 250}.${(i % 7) + 1}`;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Resolves with the time of the first EDS response (ACKed as it comes) that carries `address`. */
function served(stream: SotwStream, address: string): Promise<number> {
  const deadline = Date.now() + EDIT_TIMEOUT_MS;
  return (async () => {
    for (;;) {
      let res: SotwResponseView;
      try {
        res = await stream.next(Math.max(1, deadline - Date.now()));
      } catch {
        throw new Error(`address ${address} not served within ${EDIT_TIMEOUT_MS} ms`);
      }
      stream.ack(res, [CLUSTER]);
      if (JSON.stringify(res.resources).includes(address)) return Date.now();
    }
  })();
}

async function main(): Promise<void> {
  rootLogger.level = process.env.TRELLIS_LOG_LEVEL ?? 'error';
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-bench-edits-'));
  const sliceFile = path.join(dir, 'team', 'echo', 'slice.yaml');
  let server: RunningControlPlane | undefined;
  let client: XdsTestClient | undefined;
  try {
    writeFileSync(path.join(dir, 'mesh.yaml'), meshYaml);
    mkdirSync(path.dirname(sliceFile), { recursive: true });
    writeFileSync(sliceFile, sliceYaml(addressOf(0)));
    server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir });
    client = new XdsTestClient(`127.0.0.1:${server.xdsPort}`);
    const stream = client.sotw();
    const first = served(stream, addressOf(0));
    stream.send({ node: grpcNode('bench-edits'), type_url: TypeUrl.Endpoint, resource_names: [CLUSTER] });
    await first;

    const samples: Record<'in place' | 'rename', number[]> = { 'in place': [], rename: [] };
    let lost = 0;
    for (let i = 1; i <= EDITS; i++) {
      await new Promise((r) => setTimeout(r, GAP_MS));
      // The first edit is a rename-over: the save after which, before the fix, edits stalled.
      const how = i % 2 === 1 ? 'rename' : 'in place';
      const address = addressOf(i);
      const seen = served(stream, address);
      const t0 = Date.now();
      if (how === 'rename') {
        const tmp = path.join(path.dirname(sliceFile), `.slice.yaml.${i}.tmp`);
        writeFileSync(tmp, sliceYaml(address));
        renameSync(tmp, sliceFile);
      } else writeFileSync(sliceFile, sliceYaml(address));
      try {
        samples[how].push((await seen) - t0);
      } catch {
        lost++;
        samples[how].push(EDIT_TIMEOUT_MS);
      }
    }
    stream.close();

    const row = (name: string, s: number[]) => {
      const sorted = s.toSorted((a, b) => a - b);
      return { edits: name, n: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1)!, over1s: sorted.filter((x) => x > 1000).length };
    };
    const rows = [row('all', [...samples['in place'], ...samples.rename]), row('in place', samples['in place']), row('rename', samples.rename)];
    process.stdout.write(`\nfile write -> EDS response with the new address (${EDITS} edits, half in place, half rename-over; file source, default debounce and resync)\n`);
    process.stdout.write(`${'edits'.padEnd(10)}${'n'.padStart(5)}${'p50'.padStart(9)}${'p99'.padStart(9)}${'max'.padStart(9)}${'>1 s'.padStart(6)}\n`);
    for (const r of rows) {
      process.stdout.write(`${r.edits.padEnd(10)}${String(r.n).padStart(5)}${`${r.p50Ms} ms`.padStart(9)}${`${r.p99Ms} ms`.padStart(9)}${`${r.maxMs} ms`.padStart(9)}${String(r.over1s).padStart(6)}\n`);
    }
    if (lost > 0) process.stdout.write(`${lost} edit(s) not served within ${EDIT_TIMEOUT_MS} ms (counted as ${EDIT_TIMEOUT_MS} ms)\n`);
    process.stdout.write(`${JSON.stringify({ benchmark: 'edits', edits: EDITS, target: 'p99 < 1000 ms', lost, results: rows })}\n`);
  } finally {
    client?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench edits: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
