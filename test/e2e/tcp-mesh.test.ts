/**
 * Issue 11 end to end, explicit mode, real Envoys (loopback 127.0.30.x):
 * one Trellis, a server pod (db-1, service account db) and two callers
 * (client-1 as `client`, intruder-1 as `intruder`), each with its sidecar,
 * in a strict mesh.
 *   - TCP: an echo service (appProtocol tcp) through two sidecars over mTLS;
 *     the server sidecar terminated mTLS and its network RBAC allowed the
 *     client by SPIFFE ID; `intruder`, whose TrafficTarget has only an
 *     HTTPRouteGroup rule (no TCPRoute), is refused by the server sidecar.
 *   - WebSocket: an HTTP/1.1 Upgrade through both sidecars, bytes echoed.
 *   - h2c: HTTP/2 with prior knowledge to an `h2c` port, end to end.
 * Bounded: a handful of connections; every process is stopped in afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { componentLogger } from '../../src/log.ts';
import { envoyBin } from '../support/venv.ts';
import { envoyStats } from '../support/envoy-stats.ts';

const NET = '127.0.30';
const SERVER = `${NET}.3`;
const CLIENT = `${NET}.2`;
const INTRUDER = `${NET}.4`;
const PORTS = { tcp: 25432, ws: 28080, h2c: 28081, undeclared: 28082 } as const;
const APP = { tcp: 35432, ws: 38080, h2c: 38081, undeclared: 38082 } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pod = (name: string, sa: string, ip: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: demo, labels: {app: ${name.replace(/-\d+$/, '')}}}
spec: {serviceAccountName: ${sa}, containers: [{name: app}]}
status: {phase: Running, podIP: ${ip}, podIPs: [{ip: ${ip}}], conditions: [{type: Ready, status: "True"}]}
`;
const service = (name: string, port: number, appProtocol?: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  selector: {app: db}
  ports: [{name: p, port: ${port}${appProtocol ? `, appProtocol: ${appProtocol}` : ''}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: demo, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: p, port: ${port}}]
endpoints: [{addresses: [${SERVER}], conditions: {ready: true}, targetRef: {kind: Pod, name: db-1}}]
`;
const target = (name: string, source: string, rules: string) => `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: ${name}, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: db}
  sources: [{kind: ServiceAccount, name: ${source}}]
  rules: ${rules}
`;

const MESH = [
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n',
  'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  authorization: {mode: Strict}\n',
  ...['db', 'client', 'intruder'].map((sa) => `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ${sa}, namespace: demo}\n`),
  pod('db-1', 'db', SERVER),
  pod('client-1', 'client', CLIENT),
  pod('intruder-1', 'intruder', INTRUDER),
  service('echo', PORTS.tcp, 'tcp'),
  service('ws', PORTS.ws, 'http'),
  service('h2', PORTS.h2c, 'h2c'),
  // No appProtocol, a port name that says nothing: detected per connection.
  service('mixed', PORTS.undeclared),
  'apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nmetadata: {name: echo, namespace: demo}\nspec:\n  matches: {ports: [25432]}\n',
  'apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: everything, namespace: demo}\nspec:\n  matches: [{name: all, pathRegex: "/.*"}]\n',
  'apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nmetadata: {name: mixed, namespace: demo}\nspec:\n  matches: {ports: [28082]}\n',
  target('client-to-db', 'client', '[{kind: TCPRoute, name: echo}, {kind: TCPRoute, name: mixed}, {kind: HTTPRouteGroup, name: everything}]'),
  // intruder may make HTTP requests to db's identity, but has no TCPRoute: its TCP connections are refused.
  target('intruder-to-db', 'intruder', '[{kind: HTTPRouteGroup, name: everything}]'),
].join('---\n');

const dir = mkdtempSync(path.join(tmpdir(), 'trellis-tcp-e2e-'));
const children: ChildProcess[] = [];
let server: RunningControlPlane | undefined;
const apps: Array<net.Server | http2.Http2Server> = [];

function run(cmd: string, args: string[], log: string): void {
  const fd = openSync(path.join(dir, log), 'a');
  children.push(spawn(cmd, args, { stdio: ['ignore', fd, fd] }));
}

/** The application: a TCP echo, an HTTP server that accepts WebSocket upgrades and echoes their bytes, an h2c server. */
async function startApps(): Promise<void> {
  const echo = net.createServer((c) => c.pipe(c));
  const ws = http.createServer((_q, s) => s.end('plain'));
  ws.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nx-seen-upgrade: ${req.headers.upgrade}\r\n\r\n`);
    socket.pipe(socket);
  });
  const h2 = http2.createServer((q, s) => s.end(JSON.stringify({ httpVersion: q.httpVersion, xfcc: q.headers['x-forwarded-client-cert'] ?? null })));
  // The undeclared port's application speaks HTTP/1.1 to HTTP clients and echoes anything else.
  const mixed = net.createServer((c) =>
    c.once('data', (d: Buffer) => {
      const text = d.toString();
      if (!/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(text)) return void (c.write(d), c.pipe(c));
      const body = JSON.stringify({ http: true, xfcc: /x-forwarded-client-cert: ([^\r]*)/i.exec(text)?.[1] ?? null });
      c.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    }),
  );
  for (const [s, port] of [[echo, APP.tcp], [ws, APP.ws], [h2, APP.h2c], [mixed, APP.undeclared]] as const) {
    await new Promise<void>((r) => s.listen(port, SERVER, r));
    apps.push(s);
  }
}

/** Bytes a TCP connection got back for `send`, or how it ended without them. */
function exchange(host: string, port: number, send: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect({ host, port });
    const done = (v: string) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(got || 'timeout'));
    s.on('connect', () => s.write(send));
    s.on('data', (d) => {
      got += d;
      if (got.length >= send.length) done(got);
    });
    s.on('end', () => done(got || 'closed'));
    s.on('error', (e: NodeJS.ErrnoException) => done(got || e.code || 'error'));
  });
}

const stats = envoyStats;

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 40_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const v = await f().catch((e: Error) => void (last = e.message));
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${String(last)}`);
    await sleep(250);
  }
}

beforeAll(async () => {
  const meshDir = path.join(dir, 'mesh');
  const stateDir = path.join(dir, 'state');
  mkdirSync(meshDir, { recursive: true });
  writeFileSync(path.join(meshDir, 'mesh.yaml'), MESH);
  server = await startControlPlane({ xdsAddress: `${NET}.1:0`, adminAddress: `${NET}.1:0`, sourceDir: meshDir, stateDir, log: componentLogger('trellis') });
  const model = server.mesh!.model!;
  await startApps();
  const xds = `${NET}.1:${server.xdsPort}`;
  const flags = ['--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'];
  const appPorts = new Map<number, number>([[PORTS.tcp, APP.tcp], [PORTS.ws, APP.ws], [PORTS.h2c, APP.h2c], [PORTS.undeclared, APP.undeclared]]);
  for (const [name, ip] of [['db-1', SERVER], ['client-1', CLIENT], ['intruder-1', INTRUDER]] as const) {
    const yaml = await workloadBootstrapYaml({
      model, workloadKey: `demo/${name}`, stateDir, mode: 'explicit', xdsAddress: xds, adminAddress: `${ip}:15000`,
      ...(name === 'db-1' ? { appPorts, appAddress: SERVER } : {}),
    });
    writeFileSync(path.join(dir, `${name}.yaml`), yaml, { mode: 0o600 });
    run(envoyBin(), ['-c', path.join(dir, `${name}.yaml`), ...flags], `${name}.log`);
  }
  // Ready: the server's inbound TCP listener and each caller's local TCP listener hold their config.
  for (const [ip, listener] of [[SERVER, `inbound:${PORTS.tcp}`], [SERVER, `inbound:${PORTS.undeclared}`], [CLIENT, `outbound-tcp:echo.demo:${PORTS.tcp}`], [CLIENT, `outbound-tcp:mixed.demo:${PORTS.undeclared}`], [INTRUDER, `outbound-tcp:echo.demo:${PORTS.tcp}`]] as const) {
    await until(`${listener} on ${ip}`, async () => {
      const r = await fetch(`http://${ip}:15000/listeners?format=json`, { signal: AbortSignal.timeout(2000) });
      const l = (await r.json()) as { listener_statuses: Array<{ name: string }> };
      return l.listener_statuses.some((x) => x.name === listener) ? true : undefined;
    });
  }
}, 90_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const a of apps) a.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('issue 11: TCP services through two sidecars (explicit mode, strict)', () => {
  it('a TCP echo: bytes echoed through client sidecar → mTLS → server sidecar; the server sidecar verified the client by SPIFFE ID', async () => {
    const before = await stats(`${SERVER}:15000`, `inbound_${PORTS.tcp}`);
    const got = await until('an echo through the mesh', async () => {
      const r = await exchange(CLIENT, PORTS.tcp, 'hello over mTLS\n');
      return r === 'hello over mTLS\n' ? r : undefined;
    });
    expect(got).toBe('hello over mTLS\n');
    const payload = 'x'.repeat(64 * 1024);
    expect(await exchange(CLIENT, PORTS.tcp, payload, 5000)).toBe(payload);
    // Server side: mTLS terminated on its listener, the network RBAC allowed the caller's principal.
    const s = await stats(`${SERVER}:15000`, `${PORTS.tcp}`);
    expect(s[`listener.${SERVER}_${PORTS.tcp}.ssl.handshake`]).toBeGreaterThanOrEqual(2);
    expect(s[`inbound_${PORTS.tcp}.rbac.allowed`]! - (before[`inbound_${PORTS.tcp}.rbac.allowed`] ?? 0)).toBeGreaterThanOrEqual(2);
    // Client side: its cluster dialled over TLS.
    // (Its stats carry the destination's labels, not the cluster name: `outbound|port|service|namespace|principals|`, translate/stats.ts.)
    const c = await stats(`${CLIENT}:15000`, 'ssl.handshake');
    const key = Object.keys(c).find((k) => k.startsWith(`cluster.outbound|${PORTS.tcp}|echo|demo|`) && k.endsWith('.ssl.handshake'));
    expect(key, Object.keys(c).join(', ')).toBeDefined();
    expect(c[key!]).toBeGreaterThanOrEqual(2);
  });

  it('plaintext straight to the server sidecar\'s TCP port is not echoed (mTLS required)', async () => {
    expect(await exchange(SERVER, PORTS.tcp, 'no certificate\n')).not.toBe('no certificate\n');
  });

  it('strict: an identity whose TrafficTarget has no TCPRoute is refused by the server sidecar\'s network RBAC', async () => {
    const before = (await stats(`${SERVER}:15000`, `inbound_${PORTS.tcp}.rbac.denied`))[`inbound_${PORTS.tcp}.rbac.denied`] ?? 0;
    const got = await exchange(INTRUDER, PORTS.tcp, 'let me in\n');
    expect(got).not.toBe('let me in\n');
    const after = await until('the denial counted', async () => {
      const n = (await stats(`${SERVER}:15000`, `inbound_${PORTS.tcp}.rbac.denied`))[`inbound_${PORTS.tcp}.rbac.denied`] ?? 0;
      return n > before ? n : undefined;
    });
    expect(after).toBeGreaterThan(before);
  });
});

describe('issue 11: protocols through the mesh', () => {
  it('WebSocket: the Upgrade crosses both sidecars (101), then bytes flow both ways', async () => {
    const result = await new Promise<{ status: number; upgrade?: string; echoed: string }>((resolve, reject) => {
      const req = http.request({ host: CLIENT, port: 15001, path: '/chat', headers: { host: `ws.demo:${PORTS.ws}`, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' }, timeout: 5000 });
      req.on('upgrade', (res, socket) => {
        socket.write('ping through the mesh');
        let echoed = '';
        socket.on('data', (d: Buffer) => {
          echoed += d;
          if (echoed.length >= 'ping through the mesh'.length) {
            socket.destroy();
            resolve({ status: res.statusCode ?? 0, upgrade: res.headers['x-seen-upgrade'] as string | undefined, echoed });
          }
        });
      });
      req.on('response', (res) => resolve({ status: res.statusCode ?? 0, echoed: '' }));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
    expect(result).toEqual({ status: 101, upgrade: 'websocket', echoed: 'ping through the mesh' });
  });

  it('h2c: HTTP/2 with prior knowledge from the application, HTTP/2 to an `h2c` port, the caller\'s identity passed on', async () => {
    const session = http2.connect(`http://${CLIENT}:15001`);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': '/', ':authority': `h2.demo:${PORTS.h2c}` });
        let text = '';
        req.on('data', (d: Buffer) => (text += d));
        req.on('end', () => resolve(text));
        req.on('error', reject);
        req.setTimeout(5000, () => req.close());
        req.end();
      });
      const r = JSON.parse(body) as { httpVersion: string; xfcc: string | null };
      expect(r.httpVersion).toBe('2.0');
      expect(r.xfcc).toContain('/ns/demo/sa/client');
    } finally {
      session.close();
    }
  });

  it('an undeclared port: HTTP and opaque TCP both work — detected by the client sidecar (http_inspector), told to the server sidecar by ALPN', async () => {
    const get = (port: number) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.get({ host: CLIENT, port, path: '/', headers: { host: `mixed.demo:${PORTS.undeclared}` }, timeout: 5000, agent: false }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
      });
    // HTTP through the port's own local listener, and through the outbound HTTP listener.
    for (const port of [PORTS.undeclared, 15001]) {
      const r = await get(port);
      expect(r.status, `via ${port}`).toBe(200);
      const body = JSON.parse(r.body) as { http: boolean; xfcc: string | null };
      // The server sidecar took the HTTP chain (it set XFCC from the verified certificate).
      expect(body.xfcc).toContain('/ns/demo/sa/client');
    }
    // Opaque bytes on the same port: echoed, through the TCP chains on both sides.
    expect(await exchange(CLIENT, PORTS.undeclared, 'not http at all\n')).toBe('not http at all\n');
    const server = await stats(`${SERVER}:15000`, `inbound_${PORTS.undeclared}`);
    expect(server[`http.inbound_${PORTS.undeclared}.downstream_rq_total`]).toBeGreaterThanOrEqual(2);
    expect(server[`tcp.inbound_${PORTS.undeclared}.downstream_cx_total`]).toBeGreaterThanOrEqual(1);
  });
});
