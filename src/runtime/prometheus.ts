/**
 * A real Prometheus for one machine (the demo, the telemetry tests): Debian's
 * `prometheus` (scripts/setup-prometheus.sh installs it), started with a
 * scrape config Trellis writes, whose targets come by file service discovery
 * from a file Trellis keeps current (the sidecars connected now, each at its
 * stats endpoint). In a cluster, Prometheus finds the sidecars by the pod
 * annotations `trellis inject` sets instead (docs/telemetry.md).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { OperatorError } from '../errors.ts';
import { STATS_PATH } from '../translate/sidecar.ts';
import type { ScrapeTarget } from './golden-metrics.ts';

export class PrometheusMissingError extends OperatorError {}

/** TRELLIS_PROMETHEUS_BIN, else `prometheus` on PATH; the error names the setup script. */
export function findPrometheus(): string {
  const env = process.env.TRELLIS_PROMETHEUS_BIN;
  if (env) {
    if (!existsSync(env)) throw new PrometheusMissingError(`TRELLIS_PROMETHEUS_BIN=${env} does not exist`);
    return env;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim();
  } catch {
    throw new PrometheusMissingError('Prometheus is not installed (no `prometheus` on PATH, TRELLIS_PROMETHEUS_BIN unset): run `bash scripts/setup-prometheus.sh` (Debian\'s prometheus package)');
  }
}

/** The scrape config: the sidecars of `targetsFile` (file_sd, re-read when it changes). */
export function prometheusConfig(o: { targetsFile: string; scrapeIntervalS: number }): string {
  return stringify({
    global: { scrape_interval: `${o.scrapeIntervalS}s`, evaluation_interval: `${o.scrapeIntervalS}s` },
    scrape_configs: [{
      job_name: 'trellis-sidecars',
      metrics_path: STATS_PATH,
      scrape_timeout: `${Math.max(1, Math.min(o.scrapeIntervalS, 10))}s`,
      file_sd_configs: [{ files: [o.targetsFile], refresh_interval: `${Math.max(1, o.scrapeIntervalS)}s` }],
    }],
  });
}

/** file_sd JSON: one group per sidecar, labelled with its pod; written whole, then renamed into place (Prometheus never reads half a file). */
export function writeScrapeTargets(file: string, targets: readonly ScrapeTarget[]): void {
  const groups = targets.map((t) => ({ targets: [t.address], labels: { pod: t.labels.pod, pod_namespace: t.labels.namespace, trellis_node: t.node } }));
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(groups, null, 2) + '\n');
  renameSync(tmp, file);
}

export interface RunningPrometheus {
  url: string;
  process: ChildProcess;
  targetsFile: string;
  stop(): Promise<void>;
}

/**
 * Starts Prometheus on `listen` (host:port) with its data and config in
 * `dir`, and waits until it is ready (`/-/ready`).
 */
export async function startPrometheus(o: { dir: string; listen: string; scrapeIntervalS?: number; logFile: string; readyTimeoutMs?: number }): Promise<RunningPrometheus> {
  const bin = findPrometheus();
  mkdirSync(path.join(o.dir, 'data'), { recursive: true });
  const targetsFile = path.join(o.dir, 'sidecars.json');
  if (!existsSync(targetsFile)) writeScrapeTargets(targetsFile, []);
  const config = path.join(o.dir, 'prometheus.yml');
  writeFileSync(config, prometheusConfig({ targetsFile, scrapeIntervalS: o.scrapeIntervalS ?? 5 }));
  const log = openSync(o.logFile, 'a');
  const proc = spawn(bin, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(o.dir, 'data')}`, `--web.listen-address=${o.listen}`, '--storage.tsdb.retention.time=2h', '--log.level=warn'], { stdio: ['ignore', log, log] });
  const url = `http://${o.listen}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => (clearTimeout(t), resolve()));
      proc.kill('SIGTERM');
    });
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (proc.exitCode !== null) throw new OperatorError(`Prometheus exited with code ${proc.exitCode}; see ${o.logFile}`);
    try {
      if ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      /* not yet listening */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new OperatorError(`Prometheus at ${url} was not ready within ${(o.readyTimeoutMs ?? 30_000) / 1000} s; see ${o.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, process: proc, targetsFile, stop };
}

/**
 * Keeps `file` listing `targets()` (checked every `everyMs`, written only when
 * it changed): what a Prometheus with file_sd reads to find the sidecars.
 * Returns the stop function.
 */
export function keepScrapeTargets(file: string, targets: () => ScrapeTarget[], everyMs = 2000): () => void {
  let last = '';
  const tick = () => {
    const now = targets();
    const text = JSON.stringify(now);
    if (text === last) return;
    writeScrapeTargets(file, now);
    last = text;
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
