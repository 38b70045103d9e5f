/**
 * `scripts/bench.sh stats`: issue 12's target "added sidecar CPU and memory
 * per 1,000 rps with the golden-metric stats on vs off".
 *
 * One real Envoy as a client sidecar, configured twice with Trellis's own
 * builders: "on" is what Trellis sends (the bootstrap's stats tags, the
 * Prometheus listener on 15090, clusters' identity-naming stat names,
 * per-route stat prefixes) and a Prometheus-like scrape of the stats
 * endpoint every second; "off" is the same config without any of it. The
 * sidecar holds --services outbound clusters and virtual hosts (a mesh's
 * worth of stats), and a client sends --rps requests per second for
 * --seconds to one of them, served by a small HTTP server. Per run: the
 * Envoy's CPU (utime+stime from /proc) and RSS at the end, and the
 * allocated heap Envoy reports (/memory); figures per 1,000 rps achieved.
 *
 * Figures, never assertions.
 *   node --import tsx bench/stats-cost.ts [--rps 1000] [--seconds 15] [--services 50]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { findEnvoy } from '../src/runtime/envoy-bin.ts';
import { singleAddress, socketAddress } from '../src/translate/fragments.ts';
import { outboundListener } from '../src/translate/listeners.ts';
import { outboundClusterStatName, routeStatPrefix, virtualHostName } from '../src/translate/names.ts';
import { adminCluster, statsConfig, statsListener } from '../src/translate/stats.ts';
import type { Cluster, RouteConfiguration } from '../src/xds/envoy-types.ts';
import { positiveInt } from './options.ts';

const { values } = parseArgs({ options: { rps: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '15' }, services: { type: 'string', default: '50' } } });
const rps = positiveInt(values, 'rps');
const seconds = positiveInt(values, 'seconds');
const services = positiveInt(values, 'services');
const HOST = '127.0.80.200';
const PORTS = { admin: 15000, outbound: 15001, stats: 15090, backend: 18080 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A static sidecar config of `services` services, with or without the golden-metric stats. */
function bootstrap(on: boolean): unknown {
  const clusters: Cluster[] = [];
  const route: RouteConfiguration = { name: 'outbound', virtual_hosts: [] };
  for (let i = 0; i < services; i++) {
    const svc = `svc-${i}`;
    const name = `${svc}.bench:8080`;
    clusters.push({
      name,
      type: 'STATIC',
      connect_timeout: '1s',
      ...(on ? { alt_stat_name: outboundClusterStatName('bench', svc, 8080, [`spiffe://bench.local/ns/bench/sa/${svc}`]) } : {}),
      load_assignment: singleAddress(name, HOST, PORTS.backend),
    });
    route.virtual_hosts!.push({
      name: virtualHostName('bench', svc, 8080),
      domains: [svc],
      routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: name }, ...(on ? { stat_prefix: routeStatPrefix('default') } : {}) }],
    });
  }
  const listener = outboundListener({ name: 'outbound', address: HOST, port: PORTS.outbound, transparent: false });
  // Static: the route configuration inline instead of over RDS.
  const hcm = listener.filter_chains![0]!.filters![0]!.typed_config as unknown as Record<string, unknown>;
  delete hcm.rds;
  hcm.route_config = route;
  const admin = { address: HOST, port: PORTS.admin };
  return {
    node: { id: 'bench/client', cluster: 'client' },
    admin: { address: socketAddress(HOST, PORTS.admin) },
    static_resources: {
      listeners: [listener, ...(on ? [statsListener({ address: HOST, port: PORTS.stats })] : [])],
      clusters: [...clusters, ...(on ? [adminCluster(admin)] : [])],
    },
    ...(on ? { stats_config: statsConfig({ namespace: 'bench', workload: 'client', identity: 'spiffe://bench.local/ns/bench/sa/client' }) } : {}),
  };
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (100/s)
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

async function ready(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://${HOST}:${PORTS.admin}/ready`)).ok) return;
    } catch {
      /* starting */
    }
    await sleep(50);
  }
  throw new Error('Envoy did not become ready');
}

/** Paced requests at `rps` for `seconds` through the sidecar; returns the number completed. */
async function load(agent: http.Agent): Promise<{ done: number; errors: number }> {
  let done = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const tickMs = 10;
  const perTick = rps / (1000 / tickMs);
  let owed = 0;
  const inflight = new Set<Promise<void>>();
  while (performance.now() < end) {
    owed += perTick;
    while (owed >= 1) {
      owed--;
      const p = new Promise<void>((resolve) => {
        const req = http.request({ host: HOST, port: PORTS.outbound, path: '/', headers: { host: 'svc-0' }, agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) done++;
            else errors++;
            resolve();
          });
        });
        req.on('error', () => (errors++, resolve()));
        req.end();
      });
      inflight.add(p);
      void p.then(() => inflight.delete(p));
    }
    await sleep(tickMs);
  }
  await Promise.all(inflight);
  return { done, errors };
}

async function run(on: boolean, dir: string): Promise<{ cpuPer1k: number; rss: number; heap: number; achieved: number; errors: number }> {
  const file = path.join(dir, `envoy-${on ? 'on' : 'off'}.yaml`);
  writeFileSync(file, stringify(bootstrap(on), { lineWidth: 0 }));
  const envoy: ChildProcess = spawn(findEnvoy(), ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'error'], { stdio: 'ignore' });
  try {
    await ready();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    await load(agent).catch(() => undefined); // warm-up is part of neither figure
    const scraper = on ? setInterval(() => void fetch(`http://${HOST}:${PORTS.stats}/stats/prometheus`).then((r) => r.text()).catch(() => undefined), 1000) : undefined;
    const cpu0 = cpuSeconds(envoy.pid!);
    const t0 = performance.now();
    const { done, errors } = await load(agent);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(envoy.pid!) - cpu0;
    clearInterval(scraper);
    agent.destroy();
    const mem = (await (await fetch(`http://${HOST}:${PORTS.admin}/memory`)).json()) as { allocated: string };
    const achieved = done / elapsed;
    return { cpuPer1k: ((cpu / elapsed) * 100) / (achieved / 1000), rss: rssMiB(envoy.pid!), heap: Number(mem.allocated) / 2 ** 20, achieved, errors };
  } finally {
    envoy.kill('SIGTERM');
    await new Promise((r) => envoy.once('exit', r));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-stats-'));
  const backend = http.createServer((_q, res) => res.end('ok'));
  await new Promise<void>((r) => backend.listen(PORTS.backend, HOST, r));
  try {
    const off = await run(false, dir);
    const on = await run(true, dir);
    const f = (n: number) => n.toFixed(2);
    console.log(`[bench] stats cost: one sidecar, ${services} services, ${rps} rps asked for ${seconds} s (achieved: off ${off.achieved.toFixed(0)} rps, on ${on.achieved.toFixed(0)} rps; errors ${off.errors}/${on.errors})`);
    console.log(`[bench]   CPU per 1,000 rps: off ${f(off.cpuPer1k)} % of a core, on ${f(on.cpuPer1k)} % (added ${f(on.cpuPer1k - off.cpuPer1k)} %)`);
    console.log(`[bench]   memory: RSS off ${f(off.rss)} MiB, on ${f(on.rss)} MiB (added ${f(on.rss - off.rss)} MiB); Envoy heap off ${f(off.heap)} MiB, on ${f(on.heap)} MiB (added ${f(on.heap - off.heap)} MiB)`);
  } finally {
    backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
