/**
 * `trellis demo` / `npm run demo`: flags, then the demo mesh (runtime/demo.ts),
 * its summary on the terminal, and everything stopped on Ctrl-C.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rootLogger, useLogFormat } from '../log.ts';
import type { MeshModel } from '../model/types.ts';
import { DEMO_PORTS, startDemo, type DemoOptions, type RunningDemo } from '../runtime/demo.ts';
import { parseArgs } from './args.ts';
import { errorMessage } from '../errors.ts';
import { findPrometheus } from '../runtime/prometheus.ts';
import { jaegerBin } from '../runtime/jaeger.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export function demoSummary(demo: RunningDemo, o: DemoOptions): string {
  const fe = demo.workloads.find((w) => (w.labels.app ?? w.name) === 'frontend');
  const lines = [
    '',
    `Trellis demo mesh is up: ${demo.workloads.length} workloads, every Envoy ACKed in ${(demo.readyMs / 1000).toFixed(1)} s.`,
    '',
    ...demo.workloads.map((w) => `  ${w.key.padEnd(28)} ${w.ip}  app :${DEMO_PORTS.app}  envoy in :${DEMO_PORTS.service} out :${DEMO_PORTS.outbound} admin http://${w.ip}:${DEMO_PORTS.admin}`),
    '',
    'Try:',
    fe ? `  curl -s http://${fe.ip}:${DEMO_PORTS.app}/                      # frontend → recommendation (90% v1, 10% v2) → ratings` : '',
    fe ? `  curl -s -H 'x-canary: true' http://${fe.ip}:${DEMO_PORTS.app}/  # header canary: always recommendation v2` : '',
    // The reply nests frontend → recommendation → ratings, each with its own "version": count recommendation's.
    ...ingressHints(demo),
    fe ? `  for i in $(seq 100); do curl -s http://${fe.ip}:${DEMO_PORTS.app}/ | sed -n 's/.*"service":"recommendation","version":"\\(v[0-9]*\\)".*/recommendation \\1/p'; done | sort | uniq -c  # the split, counted` : '',
    `  node ${path.join(repoRoot, 'bin/trellis.js')} status --admin ${o.adminAddress}   # every proxy: SYNCED / STALE / NACKED per type`,
    `  http://${o.adminAddress}/dashboard                # in a browser: the mesh as a graph with live golden metrics per edge, intents, proxies, certificates`,
    `  curl -s http://${o.adminAddress}/api/v1/proxies     # every proxy, what it was sent and ACKed`,
    `  curl -s http://${o.adminAddress}/api/v1/intents     # intents and their conditions`,
    `  curl -s http://${o.adminAddress}/api/v1/certificates`,
    `  node ${path.join(repoRoot, 'bin/trellis.js')} stat --admin ${o.adminAddress} --watch   # golden metrics per edge${demo.prometheus ? `, from Prometheus at ${demo.prometheus.url}` : ' (from the sidecars)'}`,
    `  node ${path.join(repoRoot, 'bin/trellis.js')} top --admin ${o.adminAddress}           # per route`,
    demo.jaeger ? `  open ${demo.jaeger.query}   # traces (Jaeger): every request through the mesh (examples/demo/mesh.yaml spec.tracing)` : '',
    `  edit ${o.meshDir}/intents.yaml (the ${splitKindOf(demo.server.mesh?.model)}'s weights, e.g. 50/50) and watch traffic change live`,
    '',
    `Logs: ${o.logDir}.  Ctrl-C stops everything.`,
  ];
  return lines.filter((l) => l !== '').join('\n').replace('Try:', '\nTry:') + '\n';
}

/** What routes recommendation in this mesh folder: the demo's HTTPRoute, or its SMI version's TrafficSplit (examples/smi). */
export function splitKindOf(model: MeshModel | undefined): 'HTTPRoute' | 'TrafficSplit' {
  const services = [...(model?.services.values() ?? [])];
  return services.some((s) => s.routes.length > 0) || !services.some((s) => s.splits.length > 0) ? 'HTTPRoute' : 'TrafficSplit';
}

/** The ingress gateway's curl lines (examples/demo/ingress.yaml): from outside the mesh, through it, to frontend. */
function ingressHints(demo: RunningDemo): string[] {
  const i = demo.ingress;
  if (!i) return [];
  return [
    i.httpPort ? `  curl -s http://${i.host}:${i.httpPort}/                      # from outside the mesh: the ingress gateway (Gateway demo/ingress) → frontend → …` : '',
    i.httpsPort ? `  curl -s --cacert ${i.caFile} https://${i.host}:${i.httpsPort}/   # the same over HTTPS (its certificate from the mesh CA)` : '',
  ];
}

export async function demoCommand(argv: string[]): Promise<number> {
  // The terminal is for the summary and the curl lines; Trellis's info logs
  // would bury them (TRELLIS_LOG_LEVEL=info brings them back).
  if (!process.env.TRELLIS_LOG_LEVEL) rootLogger.level = 'warn';
  // What does reach it is for a person: a rejected intent edit as `file:line: Kind ns/name: field: message`.
  useLogFormat('demo');
  const args = parseArgs(argv, {
    values: {
      mesh: path.join(repoRoot, 'examples/demo'),
      'state-dir': path.join(repoRoot, '.trellis/demo'),
      'xds-address': '127.0.0.1:18000',
      'admin-address': '127.0.0.1:19000',
      // A Prometheus scraping every sidecar when one is installed (scripts/setup-prometheus.sh); `off`: none.
      prometheus: '127.0.0.1:9090',
      // Jaeger on this host when it is built (scripts/setup-jaeger.sh); `off`: none.
      jaeger: '127.0.0.1',
    },
  });
  let jaeger: DemoOptions['jaeger'];
  if (args.values.jaeger !== 'off') {
    try {
      jaegerBin();
      jaeger = { host: args.values.jaeger! };
    } catch (e) {
      process.stdout.write(`${errorMessage(e)}; the sidecars' spans go nowhere.\n`);
    }
  }
  let prometheus: DemoOptions['prometheus'];
  if (args.values.prometheus !== 'off') {
    try {
      findPrometheus();
      prometheus = { listen: args.values.prometheus! };
    } catch (e) {
      process.stdout.write(`${errorMessage(e)}; trellis stat reads the sidecars directly instead.\n`);
    }
  }
  const o: DemoOptions = {
    meshDir: args.values.mesh!,
    stateDir: args.values['state-dir']!,
    xdsAddress: args.values['xds-address']!,
    adminAddress: args.values['admin-address']!,
    logDir: path.join(args.values['state-dir']!, 'logs'),
    ...(prometheus ? { prometheus } : {}),
    ...(jaeger ? { jaeger } : {}),
  };
  // startDemo leaves nothing running when it fails; once it is up, every way out stops it.
  const demo = await startDemo(o);
  try {
    process.stdout.write(demoSummary(demo, o));
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    process.stdout.write('\nstopping the demo…\n');
  } finally {
    await demo.stop();
  }
  process.stdout.write(`demo stopped; every process it started has exited.\n`);
  return 0;
}
