/**
 * `scripts/bench.sh overhead` (issue 11): what a client sidecar + server
 * sidecar pair adds over a direct call, for HTTP/1.1, gRPC and TCP, at a
 * fixed request rate with 1 KB payloads (Istio publishes +2.65 ms at p90 and
 * 0.35 vCPU per 1,000 rps for its sidecar pair).
 *
 * One Trellis, two real Envoys in explicit mode on 127.0.30.11 (client) and
 * 127.0.30.12 (server), the application (bench/overhead-backend-main.ts: an
 * HTTP server, a gRPC server and a TCP echo) in its own process, and the load
 * generator here: open loop at --rate requests/s for --seconds per protocol
 * and path (after a 1 s warm-up), first straight to the application, then
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
 * machine the generator may fall short of --rate (grpc-js, client and server
 * in Node, is the first to), and the line says what it reached.
 *
 * Figures, never assertions; bounded: every phase stops after --seconds and
 * everything started is stopped.
 *   node --import tsx bench/overhead.ts [--rate 1000] [--seconds 10] [--variants permissive,strict,undeclared] [--concurrency 1]
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { componentLogger } from '../src/log.ts';
import { workloadBootstrapYaml } from '../src/runtime/bootstrap.ts';
import { startControlPlane, type RunningControlPlane } from '../src/runtime/control-plane.ts';
import { envoyBin } from '../test/support/venv.ts';
import { ECHO_METHOD } from './echo-service.ts';
import { positiveInt } from './options.ts';
import { procCpuMs } from './proc.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    variants: { type: 'string', default: 'permissive,strict,undeclared' },
    concurrency: { type: 'string', default: '1' },
  },
});
const RATE = positiveInt(values, 'rate');
const SECONDS = positiveInt(values, 'seconds');
const CONCURRENCY = positiveInt(values, 'concurrency');
const VARIANTS = values.variants.split(',').filter(Boolean);
for (const v of VARIANTS) if (!['permissive', 'strict', 'undeclared'].includes(v)) throw new Error(`--variants: "${v}" is not one of permissive, strict, undeclared`);

const CLIENT = '127.0.30.11';
const SERVER = '127.0.30.12';
const PORT = { http: 21080, grpc: 21090, tcp: 21432 } as const;
const APP = { http: 31080, grpc: 31090, tcp: 31432 } as const;
const PAYLOAD = Buffer.alloc(1024, 'x');
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

/** Open loop: `rate` dispatches a second for `seconds`, whatever the answers do. */
async function drive(send: () => Promise<void>, rate: number, seconds: number, record: boolean): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let inflight = 0;
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    for (; sent < due; sent++) {
      const t0 = performance.now();
      inflight++;
      send().then(
        () => record && latencies.push(performance.now() - t0),
        () => errors++,
      ).finally(() => inflight--);
    }
    await sleep(1);
  }
  const deadline = performance.now() + 10_000;
  while (inflight > 0 && performance.now() < deadline) await sleep(5);
  return { latencies, errors: errors + inflight };
}

type Sender = { send: () => Promise<void>; close: () => void };

function httpSender(host: string, port: number, authority: string): Sender {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const send = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host, port, method: 'POST', path: '/echo', agent, headers: { host: authority, 'content-length': PAYLOAD.length } }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 && n === PAYLOAD.length ? resolve() : reject(new Error(`HTTP ${res.statusCode}, ${n} bytes`))));
      });
      req.on('error', reject);
      req.end(PAYLOAD);
    });
  return { send, close: () => agent.destroy() };
}

function grpcSender(target: string, authority?: string): Sender {
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), authority ? { 'grpc.default_authority': authority } : {});
  const raw = (b: Buffer) => b;
  const send = () =>
    new Promise<void>((resolve, reject) =>
      client.makeUnaryRequest(ECHO_METHOD, raw, raw, PAYLOAD, (e, r) => (e ? reject(e) : r?.length === PAYLOAD.length ? resolve() : reject(new Error('short answer')))),
    );
  return { send, close: () => client.close() };
}

/** A pool of persistent connections; a request takes a free one, writes 1 KB and waits for 1 KB back. */
function tcpSender(host: string, port: number, size = 32): Sender {
  const free: net.Socket[] = [];
  const waiting: Array<(s: net.Socket) => void> = [];
  const all: net.Socket[] = [];
  for (let i = 0; i < size; i++) {
    const s = net.connect({ host, port, noDelay: true });
    s.on('error', () => undefined);
    all.push(s);
    free.push(s);
  }
  const take = () => new Promise<net.Socket>((r) => (free.length ? r(free.pop()!) : waiting.push(r)));
  const give = (s: net.Socket) => (waiting.length ? waiting.shift()!(s) : free.push(s));
  const send = async () => {
    const s = await take();
    await new Promise<void>((resolve, reject) => {
      let n = 0;
      const onData = (d: Buffer) => {
        n += d.length;
        if (n >= PAYLOAD.length) done();
      };
      const onClose = () => done(new Error('connection closed'));
      const done = (e?: Error) => {
        s.off('data', onData);
        s.off('close', onClose);
        if (e) reject(e);
        else resolve();
      };
      s.on('data', onData);
      s.once('close', onClose);
      s.write(PAYLOAD);
    });
    give(s);
  };
  return { send, close: () => all.forEach((s) => s.destroy()) };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}

async function measure(sender: Sender, pids: { client: number; server: number }): Promise<Phase> {
  await drive(sender.send, RATE, 1, false); // warm-up: connections, pools, JIT
  const before = { client: procCpuMs(pids.client), server: procCpuMs(pids.server) };
  const t0 = performance.now();
  const r = await drive(sender.send, RATE, SECONDS, true);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = { client: procCpuMs(pids.client) - before.client, server: procCpuMs(pids.server) - before.server };
  sender.close();
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

    const protocols: Array<{ name: string; direct: () => Sender; mesh: () => Sender }> = [
      { name: 'HTTP/1.1', direct: () => httpSender(SERVER, APP.http, `${SERVER}:${APP.http}`), mesh: () => httpSender(CLIENT, 15001, `echo-http.bench:${PORT.http}`) },
      { name: 'gRPC', direct: () => grpcSender(`${SERVER}:${APP.grpc}`), mesh: () => grpcSender(`${CLIENT}:15001`, `echo-grpc.bench:${PORT.grpc}`) },
      { name: 'TCP', direct: () => tcpSender(SERVER, APP.tcp), mesh: () => tcpSender(CLIENT, PORT.tcp) },
    ];
    for (const p of protocols) {
      const direct = await measure(p.direct(), pids);
      const mesh = await measure(p.mesh(), pids);
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
          ` | answered ${Math.round(achieved)} rps through the mesh, ${Math.round(direct.latencies.length / direct.seconds)} direct; ${mesh.errors}+${direct.errors} errors`,
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
