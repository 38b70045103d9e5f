/**
 * A lean real mesh for the issue 15 fault and rate limit tests: one Trellis
 * (file source, CA), the Envoy sidecars of a few pods on 127.0.50.x, an HTTP
 * echo application behind the server, and — when asked — the real rate
 * limit service (github.com/envoyproxy/ratelimit, scripts/setup-ratelimit.sh)
 * with its own Redis. Every process is killed by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { allInSync } from '../../src/runtime/demo.ts';
import { kill } from '../../src/runtime/child-processes.ts';
import { startRateLimitService } from '../../src/runtime/demo-ratelimit.ts';
import { ADMIN_PORT, OUTBOUND_PORT } from '../../src/translate/sidecar.ts';
import { envoyBin, repoRoot } from './venv.ts';
import { writeYaml, type YamlFiles } from './mesh-harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The service port callers name, and where the server's application listens behind its sidecar. */
export const SERVICE_PORT = 8080;
export const APP_PORT = 18080;

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

/** One request through a client's sidecar (its outbound listener), to `host`. */
export function viaSidecar(clientIp: string, host: string, headers: Record<string, string> = {}, urlPath = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: clientIp, port: OUTBOUND_PORT, path: urlPath, headers: { host, ...headers }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout after 10 s')));
    req.on('error', reject);
    req.end();
  });
}

/** `n` requests, `concurrency` at a time; replies in completion order. */
export async function many(n: number, concurrency: number, send: () => Promise<Reply>): Promise<Reply[]> {
  const out: Reply[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        out.push(await send());
      }
    }),
  );
  return out;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

export interface LimitsMeshOptions {
  files: YamlFiles;
  /** Workloads (ns/name) that get a sidecar; each pod's IP is in the files. */
  sidecars: { key: string; ip: string; serves?: boolean }[];
  xdsAddress: string;
  adminAddress: string;
  /** Start ratelimit + Redis where the MeshConfig's rateLimitService says (Redis on 6379 of its host; HTTP 8080, debug 6070). */
  rateLimitService?: boolean;
}

export class LimitsMesh {
  private readonly procs: ChildProcess[] = [];
  private readonly apps: http.Server[] = [];
  server!: RunningControlPlane;
  readonly dir = mkdtempSync(path.join(tmpdir(), 'trellis-limits-'));
  readonly meshDir = path.join(this.dir, 'mesh');
  readonly rlsDir = path.join(this.dir, 'ratelimit');

  private constructor(private readonly o: LimitsMeshOptions) {}

  static async start(o: LimitsMeshOptions): Promise<LimitsMesh> {
    const m = new LimitsMesh(o);
    try {
      await m.boot();
    } catch (e) {
      await m.stop();
      throw e;
    }
    return m;
  }

  private log(name: string): number {
    return openSync(path.join(this.dir, `${name}.log`), 'a');
  }

  private async boot(): Promise<void> {
    const o = this.o;
    for (const [name, text] of Object.entries(o.files)) writeYaml(this.meshDir, name, text);
    const stateDir = path.join(this.dir, 'state');
    this.server = await startControlPlane({
      xdsAddress: o.xdsAddress,
      adminAddress: o.adminAddress,
      sourceDir: this.meshDir,
      stateDir,
      reloadDebounceMs: 30,
      ...(o.rateLimitService ? { rateLimitConfigDir: this.rlsDir } : {}),
    });
    if (o.rateLimitService) await this.startRateLimit();
    const envoy = envoyBin();
    for (const s of o.sidecars) {
      if (s.serves) await this.echoApp(s.ip, s.key);
      const yaml = await workloadBootstrapYaml({
        model: this.server.mesh!.model!,
        workloadKey: s.key,
        stateDir,
        mode: 'explicit',
        xdsAddress: o.xdsAddress,
        adminAddress: `${s.ip}:${ADMIN_PORT}`,
        outboundAddress: `${s.ip}:${OUTBOUND_PORT}`,
        appPorts: new Map([[SERVICE_PORT, APP_PORT]]),
        appAddress: s.ip,
      });
      const file = path.join(this.dir, `${s.key.replace('/', '-')}.envoy.yaml`);
      writeFileSync(file, yaml, { mode: 0o600 });
      const log = this.log(`${s.key.replace('/', '-')}.envoy`);
      this.procs.push(spawn(envoy, ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'], { stdio: ['ignore', log, log] }));
    }
    await this.synced(30_000);
    for (const s of o.sidecars) {
      await until(`${s.key}'s Envoy LIVE`, async () => {
        try {
          return (await fetch(`http://${s.ip}:${ADMIN_PORT}/ready`, { signal: AbortSignal.timeout(1000) })).status === 200;
        } catch {
          return false;
        }
      }, 30_000);
    }
  }

  /** The server's application: answers 200 with its name, the way any HTTP service would. */
  private async echoApp(ip: string, key: string): Promise<void> {
    const app = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ server: key, path: req.url, xfcc: req.headers['x-forwarded-client-cert'] }));
    });
    await new Promise<void>((resolve, reject) => app.once('error', reject).listen(APP_PORT, ip, () => resolve()));
    this.apps.push(app);
  }

  /** The demo's way (runtime/demo-ratelimit.ts): Redis and envoyproxy/ratelimit where the MeshConfig says. */
  private async startRateLimit(): Promise<void> {
    const rls = this.server.mesh!.model!.mesh.rateLimitService;
    if (!rls) throw new Error('rateLimitService: the mesh files need a MeshConfig with spec.rateLimitService');
    this.procs.push(...(await startRateLimitService({ rls, configDir: this.rlsDir, logDir: this.dir, repoRoot })));
  }

  /** Every sidecar has ACKed the latest config. */
  async synced(timeoutMs = 15_000): Promise<void> {
    const ids = this.o.sidecars.map((s) => s.key);
    await until('every sidecar in sync', () => allInSync(this.server, ids), timeoutMs);
  }

  /** Writes mesh files, applies them, and waits for every sidecar to ACK. */
  async write(files: YamlFiles): Promise<void> {
    for (const [name, text] of Object.entries(files)) writeYaml(this.meshDir, name, text);
    await this.server.mesh!.flush();
    await this.synced();
  }

  /** An Envoy's /config_dump (what it holds and serves). */
  async configDump(ip: string): Promise<string> {
    const res = await fetch(`http://${ip}:${ADMIN_PORT}/config_dump`, { signal: AbortSignal.timeout(5000) });
    return res.text();
  }

  /** Waits until `ip`'s Envoy serves a config containing `text` (ACK precedes use: listeners warm). */
  async serving(ip: string, test: (dump: string) => boolean, what: string): Promise<void> {
    await until(`${ip}'s Envoy to serve ${what}`, async () => test(await this.configDump(ip)), 15_000);
  }

  /**
   * Waits until `ip`'s Envoy has no listener or filter chain draining: an
   * edited inbound chain (its route config is inline) serves connections
   * opened before the edit until they drain.
   */
  async drained(ip: string): Promise<void> {
    await until(`${ip}'s Envoy to finish draining`, async () => {
      const text = await (await fetch(`http://${ip}:${ADMIN_PORT}/stats?filter=listener_manager.total_(listeners|filter_chains)_draining`, { signal: AbortSignal.timeout(5000) })).text();
      return /total_listeners_draining: 0/.test(text) && !/total_filter_chains_draining: [1-9]/.test(text);
    }, 15_000);
  }

  rateLimitConfig(): string {
    return readFileSync(path.join(this.rlsDir, 'config/trellis.yaml'), 'utf8');
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map(kill));
    for (const a of this.apps) a.close();
    await this.server?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
