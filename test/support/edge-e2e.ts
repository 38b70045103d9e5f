/**
 * Plumbing of the issue-11 end-to-end tests (permissive mTLS, egress): an
 * in-process Trellis on a folder, real Envoys from the bootstraps `trellis
 * bootstrap` writes, small HTTP/TCP probes, and a wait that says what it saw
 * last. Every process started is killed by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { envoyBin } from './venv.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface HttpAnswer {
  status: number;
  body: string;
}

export function get(url: string, headers: Record<string, string> = {}, localAddress?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, timeout: 3000, agent: false, ...(localAddress ? { localAddress } : {}) }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** What a raw TCP connection gets: the data, 'empty' (closed without data), the error code, or 'timeout'. */
export function connect(host: string, port: number, send?: string, localAddress?: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    s.setTimeout(3000, () => {
      s.destroy();
      resolve(got || 'timeout');
    });
    s.on('connect', () => send && s.write(send));
    s.on('data', (d) => (got += d));
    s.on('end', () => resolve(got || 'empty'));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(got || e.code || 'error'));
  });
}

/** f until it gives a value; `last.seen` is what the latest try saw, for the timeout's message. */
export async function until<T>(what: string, f: (last: { seen: unknown }) => Promise<T | undefined>, ms = 40_000): Promise<T> {
  const deadline = Date.now() + ms;
  const last: { seen: unknown } = { seen: undefined };
  for (;;) {
    const v = await f(last).catch((e: Error) => void (last.seen = e.message));
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last saw: ${JSON.stringify(last.seen)}`);
    await sleep(200);
  }
}

/** An HTTP server answering who called (XFCC as the sidecar set it, the peer address) and its own name. */
export function whoAmI(name: string, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((q, s) => s.end(JSON.stringify({ name, xfcc: q.headers['x-forwarded-client-cert'] ?? null, from: q.socket.remoteAddress })));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/**
 * `wrap` for EdgeMesh.envoy: the sidecar alone sees `hosts` as /etc/hosts
 * (names of "external" servers for its DNS-resolved clusters), in a mount
 * namespace of its own; the machine's /etc/hosts is untouched. Needs root.
 */
export function withHostsFile(hosts: string): string[] {
  return ['unshare', '-m', 'sh', '-c', `mount --bind ${hosts} /etc/hosts && exec "$0" "$@"`];
}

export class EdgeMesh {
  private readonly children: ChildProcess[] = [];
  private readonly servers: Array<http.Server | net.Server> = [];

  private constructor(
    readonly dir: string,
    readonly plane: RunningControlPlane,
    readonly xdsAddress: string,
  ) {}

  /** Trellis on `files` (written into a fresh folder), its xDS on `xdsHost`:ephemeral. */
  static async start(files: Record<string, string>, xdsHost: string): Promise<EdgeMesh> {
    const dir = mkdtempSync(path.join(tmpdir(), 'trellis-edge-'));
    // A sidecar run as the proxy uid (transparent mode) reads its bootstrap here.
    chmodSync(dir, 0o755);
    mkdirSync(path.join(dir, 'mesh'));
    mkdirSync(path.join(dir, 'logs'));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, 'mesh', name), text);
    const plane = await startControlPlane({ xdsAddress: `${xdsHost}:0`, adminAddress: '127.0.0.1:0', sourceDir: path.join(dir, 'mesh'), stateDir: path.join(dir, 'state'), reloadDebounceMs: 30 });
    return new EdgeMesh(dir, plane, `${xdsHost}:${plane.xdsPort}`);
  }

  /** Replace a file of the folder and wait until Trellis has applied it. */
  async write(name: string, text: string): Promise<void> {
    const tmp = path.join(this.dir, 'mesh', `.${name}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, path.join(this.dir, 'mesh', name));
    await this.plane.mesh!.flush();
  }

  keep<T extends http.Server | net.Server>(s: T): T {
    this.servers.push(s);
    return s;
  }

  /** A real Envoy for `workload` (explicit mode unless said), its admin on `admin` (host:port). */
  async envoy(workload: string, admin: string, o: { mode?: 'explicit' | 'transparent'; appPorts?: ReadonlyMap<number, number>; appAddress?: string; outboundAddress?: string; wrap?: string[] } = {}): Promise<void> {
    const yaml = await workloadBootstrapYaml({
      model: this.plane.mesh!.model!,
      workloadKey: workload,
      stateDir: path.join(this.dir, 'state'),
      mode: o.mode ?? 'explicit',
      xdsAddress: this.xdsAddress,
      adminAddress: admin,
      ...(o.outboundAddress ? { outboundAddress: o.outboundAddress } : {}),
      ...(o.appPorts ? { appPorts: o.appPorts } : {}),
      ...(o.appAddress ? { appAddress: o.appAddress } : {}),
    });
    const name = workload.replace('/', '-');
    const file = path.join(this.dir, `${name}.yaml`);
    writeFileSync(file, yaml, { mode: o.wrap ? 0o644 : 0o600 });
    const args = ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1', '--base-id-path', path.join(this.dir, `${name}.base-id`), '--use-dynamic-base-id'];
    this.run(o.wrap ? o.wrap[0]! : envoyBin(), o.wrap ? [...o.wrap.slice(1), envoyBin(), ...args] : args, `${name}.log`);
  }

  run(cmd: string, args: string[], log: string): ChildProcess {
    const fd = openSync(path.join(this.dir, 'logs', log), 'a');
    const c = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    this.children.push(c);
    return c;
  }

  log(name: string): string {
    try {
      return readFileSync(path.join(this.dir, 'logs', name), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of this.servers) s.close();
    await this.plane.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
