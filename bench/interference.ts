/**
 * `scripts/bench.sh interference`: XDS_RULES 25 ("a slow reader never blocks
 * other streams") and a NACK storm, as figures. The conformance tests
 * (test/xds/streams.test.ts) check that every change reaches the other
 * streams while one client stops reading or NACKs everything; how fast it
 * reaches them is measured here, never asserted.
 *
 * One Trellis server in this process (startControlPlane) serves the bench
 * mesh (bench/mesh.ts, --services clusters); --streams fast streams (half
 * SotW, half delta) subscribe to one endpoint set. Per change, one cluster
 * and that endpoint set change, and the time from the cache write to each
 * fast stream receiving its response is recorded. Three scenarios, each on a
 * fresh server, after a warm-up run: nobody else; one more stream that took
 * the full CDS once and then stopped reading (blocked); one more stream that
 * sends --nacks NACKs (of its listener response) as each change is made.
 * Client and server share this process, so compare the scenarios with each
 * other, not with bench/run.ts.
 *
 * Figures, never assertions.
 *   node --import tsx bench/interference.ts [--services 1000] [--streams 50] [--changes 30] [--nacks 100]
 */
import { parseArgs } from 'node:util';
import { encodeResource } from '../src/cache/resource.ts';
import { Snapshot, TypeSet } from '../src/cache/snapshot.ts';
import { rootLogger } from '../src/log.ts';
import { SHARED_KEY, startControlPlane, type RunningControlPlane } from '../src/runtime/control-plane.ts';
import { TypeUrl } from '../src/xds/type-urls.ts';
import { node, XdsTestClient, type SotwStream } from '../test/support/ads-client.ts';
import { cluster, endpoints, listener, routeConfiguration, serviceName } from './mesh.ts';
import { positiveInt } from './options.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    streams: { type: 'string', default: '50' },
    changes: { type: 'string', default: '30' },
    nacks: { type: 'string', default: '100' },
  },
});
const int = (name: keyof typeof values) => positiveInt(values, name);
const o = { services: int('services'), streams: int('streams'), changes: int('changes'), nacks: int('nacks') };
const { Cluster: CDS, Endpoint: EDS } = TypeUrl;
const WATCHED = serviceName(0);

/** Generation `g` of the mesh: cluster 0 and its endpoints differ in every generation. */
function snapshotAt(base: { clusters: TypeSet; endpoints: TypeSet; listeners: TypeSet; routes: TypeSet }, g: number): Snapshot {
  return new Snapshot({
    [CDS]: base.clusters.with({ upsert: [encodeResource(CDS, { ...cluster(0), connect_timeout: `${1 + g}s` })] }),
    [EDS]: base.endpoints.with({ upsert: [encodeResource(EDS, endpoints(0, g))] }),
    [TypeUrl.Listener]: base.listeners,
    [TypeUrl.Route]: base.routes,
  });
}

type Scenario = 'alone' | 'beside a blocked reader' | 'during a NACK storm';

async function run(scenario: Scenario): Promise<{ latencies: number[]; blockedStreams: number; nacks: number }> {
  const base = {
    clusters: TypeSet.of(CDS, Array.from({ length: o.services }, (_, i) => encodeResource(CDS, cluster(i)))),
    endpoints: TypeSet.of(EDS, Array.from({ length: o.services }, (_, i) => encodeResource(EDS, endpoints(i)))),
    listeners: TypeSet.of(TypeUrl.Listener, [encodeResource(TypeUrl.Listener, listener())]),
    routes: TypeSet.of(TypeUrl.Route, [encodeResource(TypeUrl.Route, routeConfiguration(o.services))]),
  };
  // The figures are the output: the server's warnings (a NACK storm, streams told to reconnect at shutdown) would bury them.
  if (!process.env.TRELLIS_LOG_LEVEL) rootLogger.level = 'error';
  const server: RunningControlPlane = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0' });
  const address = `127.0.0.1:${server.xdsPort}`;
  const clients: XdsTestClient[] = [];
  const connect = () => {
    const c = new XdsTestClient(address, { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1 });
    clients.push(c);
    return c;
  };
  try {
    const set = (g: number) => {
      const r = server.cache.set(SHARED_KEY, snapshotAt(base, g));
      if (!r.ok) throw new Error(`bench mesh is inconsistent: ${JSON.stringify(r.problems.slice(0, 3))}`);
    };
    set(0);
    // Each fast stream: wait for its next response, then ACK it.
    const fastClient = connect();
    const fast: Array<(ms: number) => Promise<() => void>> = [];
    for (let i = 0; i < o.streams; i++) {
      if (i % 2 === 0) {
        const s = fastClient.sotw();
        s.send({ node: node(`fast-${i}`), type_url: EDS, resource_names: [WATCHED] });
        s.ack(await s.next(10_000), [WATCHED]);
        fast.push((ms) => s.next(ms).then((r) => () => s.ack(r, [WATCHED])));
      } else {
        const s = fastClient.delta();
        s.send({ node: node(`fast-${i}`), type_url: EDS, resource_names_subscribe: [WATCHED] });
        s.ack(await s.next(10_000));
        fast.push((ms) => s.next(ms).then((r) => () => s.ack(r)));
      }
    }
    // The stormer NACKs its listener response, which no change touches, so its nonce stays the latest and every NACK counts.
    let storm: { s: SotwStream; nonce: string } | undefined;
    if (scenario === 'beside a blocked reader') {
      const slow = connect().sotw();
      slow.send({ node: node('slow'), type_url: CDS });
      await slow.next(10_000);
      slow.call.pause(); // reads nothing more
    } else if (scenario === 'during a NACK storm') {
      const s = connect().sotw();
      s.send({ node: node('stormer'), type_url: TypeUrl.Listener });
      storm = { s, nonce: (await s.next(10_000)).nonce };
    }
    const latencies: number[] = [];
    const gauge = async (m: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await m.get()).values.reduce((a, v) => a + v.value, 0);
    for (let g = 1; g <= o.changes; g++) {
      // The storm is in flight when the change is made.
      for (let k = 0; storm && k < o.nacks; k++) {
        storm.s.send({ type_url: TypeUrl.Listener, response_nonce: storm.nonce, version_info: '', error_detail: { code: 3, message: `no ${k}` } });
      }
      const t0 = performance.now();
      set(g);
      const got = fast.map((next) => next(10_000).then((ack) => ({ ack, ms: performance.now() - t0 })));
      for (const { ack, ms } of await Promise.all(got)) {
        latencies.push(ms);
        ack();
      }
    }
    // Every NACK reached the server (so the storm was real), or 10 s passed.
    const settledAt = performance.now();
    while (storm && (await gauge(server.xds.metrics.nacks)) < o.changes * o.nacks && performance.now() - settledAt < 10_000) await new Promise((r) => setTimeout(r, 10));
    // That the scenario held: the slow stream blocked, the NACKs received.
    return { latencies, blockedStreams: await gauge(server.xds.metrics.blockedStreams), nacks: await gauge(server.xds.metrics.nacks) };
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const round = (ms: number) => Math.round(ms * 10) / 10;

const rows: string[] = [];
const result: Record<string, unknown> = { benchmark: 'interference', at: new Date().toISOString(), options: o, scenarios: {} };
await run('alone'); // warm-up (JIT, interning), not reported: the first scenario would otherwise pay for it
for (const scenario of ['alone', 'beside a blocked reader', 'during a NACK storm'] as const) {
  const { latencies, blockedStreams, nacks } = await run(scenario);
  const sorted = latencies.toSorted((a, b) => a - b);
  const fig = { samples: sorted.length, p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), maxMs: round(sorted.at(-1)!), blockedStreams, nacks };
  (result.scenarios as Record<string, unknown>)[scenario] = fig;
  rows.push(
    `  ${scenario.padEnd(26)} ${String(fig.p50Ms).padStart(8)} ${String(fig.p99Ms).padStart(8)} ${String(fig.maxMs).padStart(8)}   (${fig.samples} responses; blocked streams ${blockedStreams}, NACKs ${nacks})`,
  );
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n`);
process.stdout.write(`change → response on the other ${o.streams} streams, ms:\n  ${'scenario'.padEnd(26)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}\n${rows.join('\n')}\n`);
process.exit(0);
