/**
 * `scripts/bench.sh hedge` (issue 15): what request hedging buys when one
 * instance of a service is slow. Real Envoy sidecars on 127.0.60.1x (the e2e
 * test uses 127.0.60.1–5): a client, and a service `echo` with two instances,
 * one answering at once and one after --slow-ms. The same --requests GETs
 * (--concurrency at a time) through the client's sidecar under three
 * TrafficPolicies, edited in place:
 *
 *   none     request timeout only: half the requests wait for the slow one
 *   retry    per-try timeout + retries (no hedge): the slow attempt is
 *            cancelled at --per-try-ms and retried on the other instance
 *   hedge    per-try timeout + hedgeOnPerTryTimeout: a second attempt goes
 *            out at --per-try-ms without cancelling the first; first wins
 *   hedge+LR the same with LeastRequest balancing. With round robin over two
 *            instances a hedged request takes two picks (slow, then fast), so
 *            the next request's first pick is the slow one again: nearly every
 *            request starts there and is hedged. LeastRequest sees the slow
 *            instance's outstanding attempts and sends fewer first attempts to it.
 *
 * and prints p50/p90/p99/max latency and how many requests each instance
 * received. Figures, never assertions.
 *   node --import tsx bench/hedge.ts [--requests 400] [--concurrency 4] [--slow-ms 200] [--per-try-ms 50]
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { meshConfig, NAMESPACE, pod, service, serviceAccounts, trafficTarget } from '../test/support/mesh-yaml.ts';
import { startSidecarMesh } from '../test/support/sidecar-mesh.ts';
import { positiveInt } from './options.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '4' },
    'slow-ms': { type: 'string', default: '200' },
    'per-try-ms': { type: 'string', default: '50' },
  },
});
const requests = positiveInt(values, 'requests');
const concurrency = positiveInt(values, 'concurrency');
const slowMs = positiveInt(values, 'slow-ms');
const perTryMs = positiveInt(values, 'per-try-ms');

const NET = '127.0.60';
const CLIENT = `${NET}.11`;
const FAST = `${NET}.12`;
const SLOW = `${NET}.13`;
const APP = 18080;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const received = { fast: 0, slow: 0 };
function instance(name: 'fast' | 'slow', delayMs: number): http.Server {
  return http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.writeHead(200).end();
    received[name]++;
    const t = setTimeout(() => res.writeHead(200).end(name), delayMs);
    res.on('close', () => clearTimeout(t));
  });
}
const apps: Array<[http.Server, string]> = [[instance('fast', 0), FAST], [instance('slow', slowMs), SLOW]];

const policy = (spec: string) => ({
  'policy.yaml': `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: echo, namespace: demo}
spec:
  targetRef: {kind: Service, name: echo}
${spec}`,
});
const SETUPS: Array<[string, string]> = [
  ['none', '  timeouts: {request: 5s}\n  retries: {attempts: 0}\n'],
  ['retry', `  timeouts: {request: 5s, perTry: ${perTryMs}ms}\n  retries: {attempts: 2}\n`],
  ['hedge', `  timeouts: {request: 5s, perTry: ${perTryMs}ms}\n  retries: {attempts: 2, hedgeOnPerTryTimeout: true}\n`],
  ['hedge+LR', `  timeouts: {request: 5s, perTry: ${perTryMs}ms}\n  retries: {attempts: 2, hedgeOnPerTryTimeout: true}\n  loadBalancer: {policy: LeastRequest}\n`],
];

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
function get(): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: CLIENT, port: 15001, path: '/work', headers: { host: 'echo.demo:8080' }, agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Latencies of the requests that succeeded, sorted, and how many failed (e.g. 504: every attempt timed out). */
async function run(): Promise<{ latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      next++;
      await get().then((l) => latencies.push(l), () => failed++);
    }
  }));
  return { latencies: latencies.toSorted((a, b) => a - b), failed };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const ms = (v: number) => `${v.toFixed(1)} ms`.padStart(10);

for (const [server, ip] of apps) await new Promise<void>((r) => server.listen(APP, ip, r));
const mesh = await startSidecarMesh(
  {
    'mesh.yaml': [
      NAMESPACE, meshConfig('Permissive'), serviceAccounts('client', 'echo'),
      pod('client', 'client', CLIENT, 'client'), pod('echo-fast', 'echo', FAST, 'echo'), pod('echo-slow', 'echo', SLOW, 'echo'),
      service('echo', [8080], [['echo-fast', FAST], ['echo-slow', SLOW]]), trafficTarget('client', 'echo'),
    ].join(''),
    ...policy(SETUPS[0]![1]),
  },
  [
    { workload: 'demo/client', ip: CLIENT },
    { workload: 'demo/echo-fast', ip: FAST, appPorts: new Map([[8080, APP]]) },
    { workload: 'demo/echo-slow', ip: SLOW, appPorts: new Map([[8080, APP]]) },
  ],
);
try {
  console.log(`hedge: ${requests} GETs, ${concurrency} at a time, through a sidecar to 2 instances, one answering after ${slowMs} ms; per-try timeout ${perTryMs} ms`);
  console.log(`${'policy'.padEnd(9)}${'p50'.padStart(10)}${'p90'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}   requests at fast / slow`);
  for (const [name, spec] of SETUPS) {
    await mesh.write(policy(spec));
    await sleep(500); // the new routes in force on the worker
    for (let i = 0; i < 20; i++) await get().catch(() => undefined); // warm connections
    received.fast = received.slow = 0;
    const { latencies: l, failed } = await run();
    console.log(`${name.padEnd(9)}${ms(pct(l, 50))}${ms(pct(l, 90))}${ms(pct(l, 99))}${ms(l.at(-1)!)}   ${received.fast} / ${received.slow}${failed ? `   (${failed} failed)` : ''}`);
  }
} finally {
  agent.destroy();
  await mesh.stop();
  for (const [server] of apps) server.close();
}
