/**
 * `scripts/bench.sh reroute`: how fast an operator's edit reaches real
 * proxyless gRPC clients. Trellis serves a folder mesh (file source, as
 * `trellis serve --source file:<dir>`); @grpc/grpc-js-xds and Python grpcio
 * clients call service `moving` every ~20 ms in watch mode; each edit
 * rewrites the TrafficSplit of `moving` to send everything to the other
 * version (v1 -> v2 -> v1 ...), and the figure is the time from the write of
 * the file to each client's first call answered by the new version: file
 * watcher, model, translation, ADS push, the client's own update, one call.
 * test/interop/mesh.test.ts checks that the move happens and sticks; the
 * time is measured here.
 *
 * Figures, never assertions: exit 0 whether or not any target is met (1 only
 * if the benchmark itself could not run).
 *   node --import tsx bench/reroute.ts [--edits 20] [--debounce-ms 50]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootLogger } from '../src/log.ts';
import { startControlPlane, type RunningControlPlane } from '../src/runtime/control-plane.ts';
import type { WatchEvent } from '../test/interop/client-output.ts';
import { startEchoBackend, type EchoBackend } from '../test/support/echo-backend.ts';
import { writeYaml } from '../test/support/mesh-harness.ts';
import { grpcXdsBootstrap, watchXdsClient, type XdsClientKind, type XdsClientWatch } from '../test/support/xds-bootstrap.ts';

const { values } = parseArgs({
  options: {
    edits: { type: 'string', default: '20' },
    'debounce-ms': { type: 'string' },
  },
});
const EDITS = Number(values.edits);
const DEBOUNCE_MS = values['debounce-ms'] === undefined ? undefined : Number(values['debounce-ms']);
if (!Number.isInteger(EDITS) || EDITS < 1) throw new Error(`--edits ${values.edits}: expected a positive whole number`);

const KINDS: XdsClientKind[] = ['js', 'py'];
/** Pods on their own loopback addresses, as EndpointSlices name them in a cluster. */
const CLIENT_IP: Record<XdsClientKind, string> = { js: '127.0.0.62', py: '127.0.0.63' };
const VERSIONS = { v1: '127.0.0.64', v2: '127.0.0.65' } as const;
type Version = keyof typeof VERSIONS;

function workloadsYaml(ports: Record<Version, number>): string {
  const pod = (name: string, ip: string, sa: string, labels: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: demo, labels: {${labels}}}\nspec: {serviceAccountName: ${sa}, containers: [{name: app, image: bench/${name}}]}\nstatus: {podIP: ${ip}}`;
  const service = (name: string, selector: string) =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: demo}\nspec: {selector: {${selector}}, ports: [{name: grpc, port: 8080, appProtocol: grpc}]}`;
  const slice = (svc: string, v: Version) =>
    `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: ${svc}-${v}, namespace: demo, labels: {kubernetes.io/service-name: ${svc}}}\naddressType: IPv4\nports: [{name: grpc, port: ${ports[v]}}]\nendpoints: [{addresses: [${VERSIONS[v]}], conditions: {ready: true}, zone: z1, targetRef: {kind: Pod, name: echo-${v}}}]`;
  return [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}',
    'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: client, namespace: demo}',
    'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: echo, namespace: demo}',
    ...KINDS.map((k) => pod(`client-${k}`, CLIENT_IP[k], 'client', 'app: client')),
    ...(['v1', 'v2'] as const).map((v) => pod(`echo-${v}`, VERSIONS[v], 'echo', `app: echo, version: ${v}`)),
    service('moving', 'app: echo'),
    service('echo-v1', 'app: echo, version: v1'),
    service('echo-v2', 'app: echo, version: v2'),
    slice('moving', 'v1'),
    slice('moving', 'v2'),
    slice('echo-v1', 'v1'),
    slice('echo-v2', 'v2'),
  ].join('\n---\n') + '\n';
}

const splitYaml = (to: Version) =>
  `apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: moving, namespace: demo}\nspec:\n  service: moving\n  backends:\n  - {service: echo-v1, weight: ${to === 'v1' ? 100 : 0}}\n  - {service: echo-v2, weight: ${to === 'v2' ? 100 : 0}}\n`;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function main(): Promise<void> {
  rootLogger.level = process.env.TRELLIS_LOG_LEVEL ?? 'warn';
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-bench-reroute-'));
  const backends: EchoBackend[] = [];
  const watchers: XdsClientWatch[] = [];
  let server: RunningControlPlane | undefined;
  try {
    const v1 = await startEchoBackend({ name: 'v1', host: VERSIONS.v1 });
    const v2 = await startEchoBackend({ name: 'v2', host: VERSIONS.v2 });
    backends.push(v1, v2);
    writeYaml(dir, 'workloads.yaml', workloadsYaml({ v1: v1.port, v2: v2.port }));
    writeYaml(dir, 'split.yaml', splitYaml('v1'));
    server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir, reloadDebounceMs: DEBOUNCE_MS });
    const xdsAddress = `127.0.0.1:${server.xdsPort}`;
    for (const kind of KINDS) {
      const bootstrap = grpcXdsBootstrap({ xdsAddress, nodeId: `demo/client-${kind}` });
      const target = kind === 'js' ? 'xds:///moving.demo.svc.cluster.local:8080' : 'xds:///moving.demo:8080';
      watchers.push(watchXdsClient(kind, { target, bootstrap, maxDurationMs: (EDITS + 10) * 5_000 }));
    }
    const on = (v: Version, after = 0) => (e: WatchEvent) => e.t > after && 'backend' in e && e.backend === v;
    await Promise.all(watchers.map((w) => w.waitFor(on('v1'), 30_000)));

    const samples: Record<XdsClientKind, number[]> = { js: [], py: [] };
    let to: Version = 'v1';
    for (let i = 0; i < EDITS; i++) {
      // Let every client settle on the current version for a few calls first.
      const steady = Date.now() + 200;
      await Promise.all(watchers.map((w) => w.waitFor(on(to, steady), 10_000)));
      to = to === 'v1' ? 'v2' : 'v1';
      const t0 = Date.now();
      writeYaml(dir, 'split.yaml', splitYaml(to));
      const first = await Promise.all(watchers.map((w) => w.waitFor(on(to, t0 - 1), 10_000)));
      KINDS.forEach((kind, k) => samples[kind].push(first[k]!.t - t0));
    }

    const rows = KINDS.map((kind) => {
      const s = samples[kind].toSorted((a, b) => a - b);
      return { client: kind, edits: s.length, p50Ms: percentile(s, 50), p90Ms: percentile(s, 90), maxMs: s.at(-1)! };
    });
    process.stdout.write(`\nfile write -> first call on the new version (${EDITS} edits, file source, debounce ${DEBOUNCE_MS === undefined ? 'the default' : `${DEBOUNCE_MS} ms`})\n`);
    process.stdout.write(`${'client'.padEnd(8)}${'p50'.padStart(8)}${'p90'.padStart(8)}${'max'.padStart(8)}\n`);
    for (const r of rows) process.stdout.write(`${r.client.padEnd(8)}${`${r.p50Ms} ms`.padStart(8)}${`${r.p90Ms} ms`.padStart(8)}${`${r.maxMs} ms`.padStart(8)}\n`);
    process.stdout.write(`${JSON.stringify({ benchmark: 'reroute', edits: EDITS, results: rows })}\n`);
  } finally {
    await Promise.all(watchers.map((w) => w.stop()));
    await server?.stop();
    await Promise.all(backends.map((b) => b.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench reroute: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
