/**
 * `scripts/bench.sh overhead` (issue 11): what a client sidecar + server
 * sidecar pair adds over a direct call, for HTTP/1.1, gRPC and TCP, at a
 * fixed request rate with 1 KB payloads (Istio publishes +2.65 ms at p90 and
 * 0.35 vCPU per 1,000 rps for its sidecar pair).
 *
 * One Trellis, two real Envoys in explicit mode on 127.0.30.11 (client) and
 * 127.0.30.12 (server), the application (bench/overhead-backend-main.ts: an
 * HTTP server, a gRPC server and a TCP echo) in its own process, and the load
 * generator (bench/overhead-load.ts): open loop at --rate requests/s for
 * --seconds per protocol and path (after a 1 s warm-up), HTTP/1.1 and TCP
 * from this process, gRPC from --grpc-processes processes of
 * --grpc-channels channels each (one grpc-js process fell short of 1,000
 * rps here), first straight to the application, then
 * through client sidecar → mTLS → server sidecar. Latency is from a request's
 * dispatch to its full answer; CPU is each Envoy's utime+stime from /proc
 * over the measured window.
 *
 * Variants (--variants): `permissive` (mTLS, no RBAC), `strict` (mTLS + the
 * RBAC filter from a TrafficTarget), `undeclared` (the HTTP service's port
 * has no appProtocol: protocol detection on both sides). Envoy --concurrency
 * is --concurrency (default 1 worker, the least CPU).
 *
 * CPU per 1,000 rps is per 1,000 *answered* requests a second: on a loaded
 * machine the generator may still fall short of --rate, and the line says
 * what it reached.
 *
 * Figures, never assertions; bounded: every phase stops after --seconds and
 * everything started is stopped.
 *   node --import tsx bench/overhead.ts [--rate 1000] [--seconds 10] [--variants permissive,strict,undeclared] [--concurrency 1]
 *     [--grpc-processes 2] [--grpc-channels 2]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { componentLogger } from '../src/log.ts';
import { workloadBootstrapYaml } from '../src/runtime/bootstrap.ts';
import { startControlPlane, type RunningControlPlane } from '../src/runtime/control-plane.ts';
import { envoyBin } from '../test/support/venv.ts';
import { drive, type Driven, httpSender, type Sender, tcpSender } from './overhead-load.ts';
import { positiveInt } from './options.ts';
import { procCpuMs } from './proc.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    variants: { type: 'string', default: 'permissive,strict,undeclared' },
    concurrency: { type: 'string', default: '1' },
    'grpc-processes': { type: 'string', default: '2' },
    'grpc-channels': { type: 'string', default: '2' },
  },
});
const RATE = positiveInt(values, 'rate');
const SECONDS = positiveInt(values, 'seconds');
const CONCURRENCY = positiveInt(values, 'concurrency');
const GRPC_PROCESSES = positiveInt(values, 'grpc-processes');
const GRPC_CHANNELS = positiveInt(values, 'grpc-channels');
const VARIANTS = values.variants.split(',').filter(Boolean);
for (const v of VARIANTS) if (!['permissive', 'strict', 'undeclared'].includes(v)) throw new Error(`--variants: "${v}" is not one of permissive, strict, undeclared`);

const CLIENT = '127.0.30.11';
const SERVER = '127.0.30.12';
const PORT = { http: 21080, grpc: 21090, tcp: 21432 } as const;
const APP = { http: 31080, grpc: 31090, tcp: 31432 } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function meshYaml(variant: string): string {
  const pod = (name: string, ip: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: bench, labels: {app: ${name}}}
spec: {serviceAccountName: ${name}, containers: [{name: app}]}
status: {phase: Running, podIP: ${ip}, podIPs: [{ip: ${ip}}], conditions: [{type: Ready, status: "True"}]}
`;
  const service = (name: string, port: number, appProtocol: string | undefined) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: bench}
spec:
  selector: {app: server}
  ports: [{name: main, port: ${port}${appProtocol ? `, appProtocol: ${appProtocol}` : ''}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: bench, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: main, port: ${port}}]
endpoints: [{addresses: [${SERVER}], conditions: {ready: true}, targetRef: {kind: Pod, name: server}}]
`;
  return [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n',
    ...['client', 'server'].map((sa) => `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ${sa}, namespace: bench}\n`),
    pod('client', CLIENT),
    pod('server', SERVER),
    service('echo-http', PORT.http, variant === 'undeclared' ? undefined : 'http'),
    service('echo-grpc', PORT.grpc, 'grpc'),
    service('echo-tcp', PORT.tcp, 'tcp'),
    ...(variant === 'strict'
      ? [
          'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  authorization: {mode: Strict}\n',
          'apiVersion: access.smi-spec.io/v1alpha3\nkind: TrafficTarget\nmetadata: {name: client-to-server, namespace: bench}\nspec:\n  destination: {kind: ServiceAccount, name: server}\n  sources: [{kind: ServiceAccount, name: client}]\n',
        ]
      : []),
  ].join('---\n');
}

interface Phase {
  latencies: number[];
  errors: number;
  /** CPU ms of each Envoy over the window. */
  cpu: { client: number; server: number };
  seconds: number;
}

/** A generator: `seconds` of open-loop load at --rate, recorded or not (warm-up). */
interface Load {
  run(seconds: number, record: boolean): Promise<Driven>;
  close(): void;
}

function inProcess(sender: Sender): Load {
  return { run: (seconds, record) => drive(sender.send, RATE, seconds, record), close: sender.close };
}

/**
 * gRPC load from --grpc-processes processes (bench/overhead-grpc-main.ts),
 * each --grpc-channels channels and an equal share of --rate: one grpc-js
 * process beside Envoy, the application and this one falls short of 1,000
 * rps on this machine.
 */
async function grpcProcesses(target: string, authority: string | undefined): Promise<Load> {
  const children = Array.from({ length: GRPC_PROCESSES }, () =>
    spawn(process.execPath, ['--import', 'tsx', path.join(here, 'overhead-grpc-main.ts'), target, authority ?? '-', String(GRPC_CHANNELS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const next = (c: ChildProcess) =>
    new Promise<unknown>((resolve, reject) => {
      c.once('message', resolve);
      c.once('exit', (code) => reject(new Error(`gRPC generator exited ${code}`)));
    });
  await Promise.all(children.map(next));
  return {
    async run(seconds, record) {
      const answers = children.map((c) => next(c) as Promise<Driven>);
      for (const c of children) c.send({ rate: RATE / children.length, seconds, record });
      const all = await Promise.all(answers);
      return { latencies: all.flatMap((a) => a.latencies), errors: all.reduce((n, a) => n + a.errors, 0) };
    },
    close() {
      for (const c of children) c.kill('SIGKILL');
    },
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}

async function measure(load: Load, pids: { client: number; server: number }): Promise<Phase> {
  await load.run(1, false); // warm-up: connections, pools, JIT
  const before = { client: procCpuMs(pids.client), server: procCpuMs(pids.server) };
  const t0 = performance.now();
  const r = await load.run(SECONDS, true);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = { client: procCpuMs(pids.client) - before.client, server: procCpuMs(pids.server) - before.server };
  load.close();
  return { latencies: r.latencies.toSorted((a, b) => a - b), errors: r.errors, cpu, seconds };
}

const ms = (x: number) => `${x.toFixed(2)} ms`;

async function waitFor(what: string, f: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await f().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function listeners(ip: string): Promise<string[]> {
  const r = await fetch(`http://${ip}:15000/listeners?format=json`, { signal: AbortSignal.timeout(2000) });
  return ((await r.json()) as { listener_statuses: Array<{ name: string }> }).listener_statuses.map((l) => l.name);
}

async function runVariant(variant: string): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-overhead-'));
  const children: ChildProcess[] = [];
  let server: RunningControlPlane | undefined;
  try {
    mkdirSync(path.join(dir, 'mesh'));
    writeFileSync(path.join(dir, 'mesh', 'mesh.yaml'), meshYaml(variant));
    server = await startControlPlane({ xdsAddress: '127.0.30.10:0', adminAddress: '127.0.30.10:0', sourceDir: path.join(dir, 'mesh'), stateDir: path.join(dir, 'state'), log: componentLogger('trellis') });
    const backend = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'overhead-backend-main.ts'), SERVER, String(APP.http), String(APP.grpc), String(APP.tcp)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(backend);
    await new Promise<void>((resolve, reject) => {
      backend.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      backend.once('exit', (code) => reject(new Error(`backend exited ${code}`)));
    });
    const model = server.mesh!.model!;
    const pids = { client: 0, server: 0 };
    for (const [name, ip] of [['client', CLIENT], ['server', SERVER]] as const) {
      const yaml = await workloadBootstrapYaml({
        model, workloadKey: `bench/${name}`, stateDir: path.join(dir, 'state'), mode: 'explicit', xdsAddress: `127.0.30.10:${server.xdsPort}`, adminAddress: `${ip}:15000`,
        ...(name === 'server' ? { appPorts: new Map<number, number>([[PORT.http, APP.http], [PORT.grpc, APP.grpc], [PORT.tcp, APP.tcp]]), appAddress: SERVER } : {}),
      });
      writeFileSync(path.join(dir, `${name}.yaml`), yaml, { mode: 0o600 });
      const envoy = spawn(envoyBin(), ['-c', path.join(dir, `${name}.yaml`), '--disable-hot-restart', '--concurrency', String(CONCURRENCY), '--log-level', 'error', '--drain-time-s', '1'], { stdio: 'ignore' });
      children.push(envoy);
      pids[name] = envoy.pid!;
    }
    await waitFor('the sidecars\' listeners', async () => {
      const [c, s] = await Promise.all([listeners(CLIENT), listeners(SERVER)]);
      return c.includes('outbound') && c.includes(`outbound-tcp:echo-tcp.bench:${PORT.tcp}`) && [PORT.http, PORT.grpc, PORT.tcp].every((p) => s.includes(`inbound:${p}`));
    });
    await waitFor('a request through the mesh', async () => {
      const h = httpSender(CLIENT, 15001, `echo-http.bench:${PORT.http}`);
      try {
        await h.send();
        return true;
      } finally {
        h.close();
      }
    });

    const protocols: Array<{ name: string; direct: () => Promise<Load>; mesh: () => Promise<Load> }> = [
      { name: 'HTTP/1.1', direct: async () => inProcess(httpSender(SERVER, APP.http, `${SERVER}:${APP.http}`)), mesh: async () => inProcess(httpSender(CLIENT, 15001, `echo-http.bench:${PORT.http}`)) },
      { name: 'gRPC', direct: () => grpcProcesses(`${SERVER}:${APP.grpc}`, undefined), mesh: () => grpcProcesses(`${CLIENT}:15001`, `echo-grpc.bench:${PORT.grpc}`) },
      { name: 'TCP', direct: async () => inProcess(tcpSender(SERVER, APP.tcp)), mesh: async () => inProcess(tcpSender(CLIENT, PORT.tcp)) },
    ];
    for (const p of protocols) {
      const direct = await measure(await p.direct(), pids);
      const mesh = await measure(await p.mesh(), pids);
      const vcpu = (mesh.cpu.client + mesh.cpu.server) / 1000 / mesh.seconds;
      // Per 1,000 answered requests a second: on a loaded machine the generator may fall short of --rate.
      const achieved = mesh.latencies.length / mesh.seconds;
      const per1k = vcpu / (achieved / 1000);
      const added = (q: number) => `+${ms(percentile(mesh.latencies, q) - percentile(direct.latencies, q))}`;
      console.log(
        `[overhead] ${variant.padEnd(10)} ${p.name.padEnd(8)} direct p50 ${ms(percentile(direct.latencies, 50))} p99 ${ms(percentile(direct.latencies, 99))}` +
          ` | mesh p50 ${ms(percentile(mesh.latencies, 50))} p99 ${ms(percentile(mesh.latencies, 99))}` +
          ` | added p50 ${added(50)} p90 ${added(90)} p99 ${added(99)}` +
          ` | Envoy CPU client ${(mesh.cpu.client / 1000 / mesh.seconds).toFixed(3)} + server ${(mesh.cpu.server / 1000 / mesh.seconds).toFixed(3)} = ${vcpu.toFixed(3)} vCPU = ${per1k.toFixed(3)} vCPU per 1,000 rps` +
          ` | answered ${Math.round(achieved)} rps through the mesh, ${Math.round(direct.latencies.length / direct.seconds)} direct; ${mesh.errors}+${direct.errors} errors` +
          ` | load average ${os.loadavg()[0]!.toFixed(1)}`,
      );
    }
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const watchdog = setTimeout(() => {
  console.error('[overhead] watchdog: still running after the time budget; stopping');
  process.exit(1);
}, (VARIANTS.length * (6 * (SECONDS + 12) + 90)) * 1000);
watchdog.unref();

console.log(`[overhead] ${RATE} rps, 1 KB payloads, ${SECONDS} s per protocol and path, Envoy --concurrency ${CONCURRENCY}, ${os.cpus().length} cores (shared with the load generator and the application)`);
for (const v of VARIANTS) await runVariant(v);
process.exit(0);
