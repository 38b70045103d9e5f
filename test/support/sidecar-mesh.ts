/**
 * A small mesh with real Envoy sidecars for end-to-end tests and benchmarks:
 * one Trellis (`startControlPlane` on ephemeral ports, TLS + SDS from a temp
 * state dir) serving a temp folder of YAML, and one Envoy per listed
 * workload, bootstrapped as `trellis bootstrap` would (explicit mode: the
 * workload's IP carries its inbound listeners, its outbound listener on
 * 15001 and its admin page on 15000). The applications are the caller's
 * business (in-process servers on the same IPs). Every process started here
 * is stopped by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { allInSync } from '../../src/runtime/demo.ts';
import { ADMIN_PORT, OUTBOUND_PORT } from '../../src/translate/sidecar.ts';
import { writeYaml, type YamlFiles } from './mesh-harness.ts';
import { envoyBin } from './venv.ts';

export interface SidecarSpec {
  /** "ns/pod" */
  workload: string;
  /** The pod's IP (its podIP in the YAML). */
  ip: string;
  /** Service port → the port the application listens on, on the same IP. */
  appPorts?: ReadonlyMap<number, number>;
}

export interface SidecarMesh {
  server: RunningControlPlane;
  dir: string;
  logDir: string;
  /** Writes files into the watched folder, applies them and waits until every Envoy ACKed. */
  write(files: YamlFiles): Promise<void>;
  /** An Envoy's admin page, e.g. `/clusters` or `/stats?filter=jwt`. */
  admin(ip: string, urlPath: string): Promise<string>;
  /** The tail of one sidecar's log, for failure messages. */
  log(workload: string): string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startSidecarMesh(files: YamlFiles, sidecars: readonly SidecarSpec[], o: { readyTimeoutMs?: number } = {}): Promise<SidecarMesh> {
  const root = mkdtempSync(path.join(tmpdir(), 'trellis-sidecars-'));
  const dir = path.join(root, 'mesh');
  const stateDir = path.join(root, 'state');
  const logDir = path.join(root, 'logs');
  mkdirSync(dir);
  mkdirSync(logDir);
  for (const [name, text] of Object.entries(files)) writeYaml(dir, name, text);
  const envoys: ChildProcess[] = [];
  const server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir, stateDir, reloadDebounceMs: 30 });
  const ids = sidecars.map((s) => s.workload);
  const logOf = (w: string) => path.join(logDir, `${w.replace('/', '-')}.envoy.log`);
  const stop = async () => {
    await Promise.all(envoys.map((e) => kill(e)));
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  };
  const waitSynced = async (what: string) => {
    const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
    while (!allInSync(server, ids)) {
      const dead = envoys.findIndex((e) => e.exitCode !== null);
      if (dead >= 0) throw new Error(`Envoy for ${ids[dead]} exited (${envoys[dead]!.exitCode}):\n${tail(logOf(ids[dead]!))}`);
      if (Date.now() > deadline) throw new Error(`${what}: not every Envoy ACKed within ${(o.readyTimeoutMs ?? 30_000) / 1000} s`);
      await sleep(50);
    }
  };
  try {
    for (const s of sidecars) {
      const yaml = await workloadBootstrapYaml({
        model: server.mesh!.model!,
        workloadKey: s.workload,
        stateDir,
        mode: 'explicit',
        xdsAddress: `127.0.0.1:${server.xdsPort}`,
        adminAddress: `${s.ip}:${ADMIN_PORT}`,
        outboundAddress: `${s.ip}:${OUTBOUND_PORT}`,
        appPorts: new Map(s.appPorts ?? []),
        appAddress: s.ip,
      });
      const file = path.join(root, `${s.workload.replace('/', '-')}.yaml`);
      writeFileSync(file, yaml, { mode: 0o600 });
      const out = openSync(logOf(s.workload), 'a');
      envoys.push(spawn(envoyBin(), ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'], { stdio: ['ignore', out, out] }));
    }
    await waitSynced('start');
    // ACKed is not yet serving: listeners warm until their secrets arrive.
    for (const s of sidecars) {
      const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
      while (!(await live(s.ip))) {
        if (Date.now() > deadline) throw new Error(`Envoy for ${s.workload} is not LIVE:\n${tail(logOf(s.workload))}`);
        await sleep(50);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    server,
    dir,
    logDir,
    async write(more) {
      for (const [name, text] of Object.entries(more)) writeYaml(dir, name, text);
      await server.mesh!.flush();
      await waitSynced('after an edit');
    },
    async admin(ip, urlPath) {
      const res = await fetch(`http://${ip}:${ADMIN_PORT}${urlPath}`, { signal: AbortSignal.timeout(5000) });
      return res.text();
    },
    log: (w) => tail(logOf(w)),
    stop,
  };
}

async function live(ip: string): Promise<boolean> {
  try {
    return (await fetch(`http://${ip}:${ADMIN_PORT}/ready`, { signal: AbortSignal.timeout(1000) })).status === 200;
  } catch {
    return false;
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-40).join('\n');
  } catch {
    return '(no log)';
  }
}

function kill(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      resolve();
    }, 3000);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    p.kill('SIGTERM');
  });
}
