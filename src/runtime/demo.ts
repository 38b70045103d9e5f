/**
 * The demo mesh (`trellis demo`, `npm run demo`, test/e2e, bench/demo-edit.ts): the demo mesh on one machine with real
 * Envoy sidecars, all on loopback. Each pod of the mesh folder gets its own
 * 127.0.0.x address (its podIP); on it run the demo application (port
 * 18080), its Envoy's inbound listener (the service port, 8080, mTLS), its
 * outbound listener (15001, where the application sends its calls) and its
 * admin page (15000). Trellis serves xDS over TLS on 127.0.0.1:18000 and its
 * admin API on 127.0.0.1:19000. When the folder declares the Gateway
 * demo/ingress, its gateway Envoy listens on the ingress host (127.0.0.1) at
 * the Gateway's ports (demo-ingress.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentLogger } from '../log.ts';
import type { MeshModel, Workload } from '../model/types.ts';
import type { SourceObject } from '../model/object.ts';
import { ADMIN_PORT, OUTBOUND_PORT, STATS_PORT } from '../translate/sidecar.ts';
import { workloadBootstrapYaml } from './bootstrap.ts';
import { kill, tcpOpen } from './child-processes.ts';
import { startDemoRateLimit } from './demo-ratelimit.ts';
import { findEnvoy } from './envoy-bin.ts';
import { OperatorError } from '../errors.ts';
import { startControlPlane, type RunningControlPlane } from './control-plane.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { proxiesInSync } from '../server/sync-status.ts';
import { startPrometheus, type RunningPrometheus } from './prometheus.ts';
import { JAEGER_PORTS, startJaeger, type RunningJaeger } from './jaeger.ts';
import { INGRESS_ADMIN_PORT, ingressPorts, plannedIngress, startDemoIngress, type DemoIngress } from './demo-ingress.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export const DEMO_PORTS = { app: 18080, service: 8080, outbound: OUTBOUND_PORT, admin: ADMIN_PORT, stats: STATS_PORT } as const;

/** Who each demo application calls (application config, not mesh config). */
const UPSTREAMS: Record<string, string> = { frontend: 'recommendation.demo:8080', recommendation: 'ratings.demo:8080' };

export interface DemoOptions {
  meshDir: string;
  stateDir: string;
  xdsAddress: string;
  adminAddress: string;
  logDir: string;
  /** ms to wait for every Envoy to ACK */
  readyTimeoutMs?: number;
  /**
   * Start a Prometheus on this host:port scraping every sidecar, and read
   * golden metrics from it (`trellis stat`); absent: Trellis reads the
   * sidecars directly.
   */
  prometheus?: { listen: string; scrapeIntervalS?: number };
  /**
   * Start Jaeger (scripts/setup-jaeger.sh) on this host: OTLP/gRPC on 4317,
   * the UI and query API on 16686. The mesh's MeshConfig spec.tracing names
   * where the sidecars send spans (examples/demo: 127.0.0.1:4317).
   */
  jaeger?: { host: string };
  /** Where the ingress gateway listens (default 127.0.0.1), if the folder declares the Gateway demo/ingress. */
  ingressHost?: string;
}

export interface RunningDemo {
  server: RunningControlPlane;
  prometheus?: RunningPrometheus;
  jaeger?: RunningJaeger;
  workloads: Workload[];
  /** The ingress gateway, when the folder declares one: its Envoy is in `envoys` under its node id. */
  ingress?: DemoIngress;
  envoys: Map<string, ChildProcess>;
  apps: Map<string, ChildProcess>;
  readyMs: number;
  /** Restart Trellis (same state dir, same ports); Envoys keep serving meanwhile. */
  restartTrellis(): Promise<void>;
  stop(): Promise<void>;
}

/** The demo cannot start or run (ports taken, an Envoy or an application exited): the message says where to look. */
export class DemoError extends OperatorError {}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

function split(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

/**
 * Every proxy connected and in sync (server/sync-status.ts); and each has
 * asked for clusters, listeners and its secrets, which every sidecar does
 * (EDS and RDS only if it has something to call), so readiness cannot pass
 * before its first requests.
 */
export function allInSync(server: RunningControlPlane, nodeIds: readonly string[]): boolean {
  return proxiesInSync(server.xds.syncStatus(), nodeIds, [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.Secret]);
}

async function envoyLive(host: string, port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}:${port}/ready`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function startDemo(o: DemoOptions): Promise<RunningDemo> {
  const log = componentLogger('demo');
  const envoy = findEnvoy();
  mkdirSync(o.logDir, { recursive: true });
  const started: ChildProcess[] = [];
  let server: RunningControlPlane | undefined;
  let prometheus: RunningPrometheus | undefined;
  let jaeger: RunningJaeger | undefined;
  try {
    const metrics = () => (prometheus ? { prometheusUrl: prometheus.url, scrapeTargetsFile: prometheus.targetsFile } : {});
    const startTrellis = () =>
      startControlPlane({
        xdsAddress: o.xdsAddress,
        adminAddress: o.adminAddress,
        sourceDir: o.meshDir,
        stateDir: o.stateDir,
        renewalCheckMs: 5000,
        log: componentLogger('trellis'),
        rateLimitConfigDir: path.join(o.stateDir, 'ratelimit'),
        metrics: metrics(),
      });
    // Check every port first: a demo started twice, or a port taken by something
    // else, gets one clear message and leaves nothing running.
    const probe = await startTrellisModelOnly(o.meshDir);
    const workloads = [...probe.model.workloads.values()].filter((w) => w.ip);
    const wanted: Array<[string, number, string]> = [
      [...split(o.xdsAddress), 'Trellis xDS'],
      [...split(o.adminAddress), 'Trellis admin'],
    ];
    for (const w of workloads) {
      for (const [what, port] of Object.entries(DEMO_PORTS)) wanted.push([w.ip!, port, `${w.name} ${what}`]);
    }
    if (o.prometheus) wanted.push([...split(o.prometheus.listen), 'Prometheus']);
    if (o.jaeger) for (const [port, what] of Object.entries(JAEGER_PORTS)) wanted.push([o.jaeger.host, Number(port), `Jaeger ${what}`]);
    const ingress = plannedIngress(probe.model, probe.objects, o.ingressHost ?? '127.0.0.1', o.stateDir);
    if (ingress) for (const [port, what] of ingressPorts(ingress)) wanted.push([ingress.host, port, what]);
    const taken: string[] = [];
    for (const [host, port, what] of wanted) if (!(await portFree(host, port))) taken.push(`${host}:${port} (${what})`);
    if (taken.length > 0) {
      throw new DemoError(`ports already in use: ${taken.join(', ')}. Is a demo (or another Trellis) already running? Stop it first (Ctrl-C in its terminal), or free those ports.`);
    }

    const t0 = performance.now();
    if (o.prometheus) {
      prometheus = await startPrometheus({ dir: path.join(o.stateDir, 'prometheus'), listen: o.prometheus.listen, scrapeIntervalS: o.prometheus.scrapeIntervalS, logFile: path.join(o.logDir, 'prometheus.log') });
      started.push(prometheus.process);
    }
    if (o.jaeger) {
      jaeger = await startJaeger({ host: o.jaeger.host, dir: o.stateDir, logFile: path.join(o.logDir, 'jaeger.log') });
      started.push(jaeger.process);
    }
    server = await startTrellis();
    // Global rate limits need the rate limit service: started only when some policy has one.
    started.push(...(await startDemoRateLimit({ model: server.mesh!.model!, configDir: path.join(o.stateDir, 'ratelimit'), logDir: o.logDir, repoRoot })));
    const envoys = new Map<string, ChildProcess>();
    const apps = new Map<string, ChildProcess>();
    const bootDir = path.join(o.stateDir, 'bootstrap');
    mkdirSync(bootDir, { recursive: true });
    for (const w of workloads) {
      const app = w.labels.app ?? w.name;
      const args = ['--import', 'tsx', path.join(repoRoot, 'examples/demo-app/server.ts'), '--name', app, '--version', w.labels.version ?? 'v1', '--listen', `${w.ip}:${DEMO_PORTS.app}`];
      if (UPSTREAMS[app]) args.push('--upstream-host', UPSTREAMS[app]!, '--via', `${w.ip}:${DEMO_PORTS.outbound}`);
      const appLog = openSync(path.join(o.logDir, `${w.name}.app.log`), 'a');
      const appProc = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', appLog, appLog] });
      started.push(appProc);
      apps.set(w.key, appProc);

      const yaml = await workloadBootstrapYaml({
        model: server.mesh!.model!,
        workloadKey: w.key,
        stateDir: o.stateDir,
        mode: 'explicit',
        xdsAddress: o.xdsAddress,
        adminAddress: `${w.ip}:${DEMO_PORTS.admin}`,
        outboundAddress: `${w.ip}:${DEMO_PORTS.outbound}`,
        appPorts: new Map([[DEMO_PORTS.service, DEMO_PORTS.app]]),
        appAddress: w.ip,
        statsAddress: `${w.ip}:${DEMO_PORTS.stats}`,
      });
      const file = path.join(bootDir, `${w.namespace}-${w.name}.yaml`);
      writeFileSync(file, yaml, { mode: 0o600 });
      const envoyLog = openSync(path.join(o.logDir, `${w.name}.envoy.log`), 'a');
      const e = spawn(envoy, ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'], { stdio: ['ignore', envoyLog, envoyLog] });
      started.push(e);
      envoys.set(w.key, e);
    }
    if (ingress) {
      mkdirSync(o.stateDir, { recursive: true });
      const gateway = await startDemoIngress({ ingress, server, meshDir: o.meshDir, stateDir: o.stateDir, xdsAddress: o.xdsAddress, envoy, logDir: o.logDir });
      started.push(gateway);
      envoys.set(ingress.key, gateway);
    }
    // The gateway's node id is its Gateway's key (gatewayBootstrapYaml's default).
    const ids = [...workloads.map((w) => w.key), ...(ingress ? [ingress.key] : [])];
    const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
    while (!allInSync(server, ids)) {
      for (const [k, e] of envoys) if (e.exitCode !== null) throw new DemoError(`Envoy for ${k} exited with code ${e.exitCode}; see ${o.logDir}/${k.split('/')[1]}.envoy.log`);
      if (Date.now() > deadline) throw new DemoError(`not every Envoy ACKed within ${(o.readyTimeoutMs ?? 30_000) / 1000} s; see ${o.logDir} and ${o.adminAddress}/api/v1/proxies`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // ACKed is not yet serving: listeners warm until their secrets arrive.
    // Envoy's own /ready says LIVE once its initial config is in force.
    const admins = [...workloads.map((w) => ({ key: w.key, host: w.ip!, port: DEMO_PORTS.admin, log: `${w.name}.envoy.log` })), ...(ingress ? [{ key: ingress.key, host: ingress.host, port: INGRESS_ADMIN_PORT, log: 'ingress.envoy.log' }] : [])];
    for (const a of admins) {
      while (!(await envoyLive(a.host, a.port))) {
        if (Date.now() > deadline) throw new DemoError(`Envoy for ${a.key} is not LIVE (http://${a.host}:${a.port}/ready); see ${o.logDir}/${a.log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // LIVE Envoys are not enough: each application (node + tsx, slow to start
    // on a busy machine) must listen too, or the first requests to it end as
    // 503 "remote connection failure" from its sidecar's inbound cluster.
    for (const w of workloads) {
      while (!(await tcpOpen(w.ip!, DEMO_PORTS.app))) {
        const app = apps.get(w.key)!;
        if (app.exitCode !== null) throw new DemoError(`the demo application for ${w.key} exited with code ${app.exitCode}; see ${o.logDir}/${w.name}.app.log`);
        if (Date.now() > deadline) throw new DemoError(`the demo application for ${w.key} is not listening on ${w.ip}:${DEMO_PORTS.app}; see ${o.logDir}/${w.name}.app.log`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const readyMs = performance.now() - t0;
    const demo: RunningDemo = {
      server,
      ...(prometheus ? { prometheus } : {}),
      ...(jaeger ? { jaeger } : {}),
      workloads,
      ...(ingress ? { ingress } : {}),
      envoys,
      apps,
      readyMs,
      async restartTrellis() {
        await demo.server.stop();
        demo.server = await startTrellis();
      },
      async stop() {
        await Promise.all(started.map(kill));
        await demo.server.stop();
        await prometheus?.stop();
        await jaeger?.stop();
      },
    };
    log.debug({ readyMs }, 'demo ready');
    return demo;
  } catch (e) {
    await Promise.all(started.map(kill));
    await server?.stop();
    throw e;
  }
}

/** The model of the mesh folder and its objects, to plan ports before anything starts. */
async function startTrellisModelOnly(dir: string): Promise<{ model: MeshModel; objects: readonly SourceObject[] }> {
  const { loadPaths } = await import('../sources/file/load.ts');
  const { buildMesh } = await import('../model/index.ts');
  const { objects } = await loadPaths([dir]);
  return { model: buildMesh(objects).model, objects };
}
