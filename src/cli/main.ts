/**
 * `trellis` entry point. The composition root stays thin: each subcommand lives
 * in its own file and is imported only when it runs, so `trellis validate`
 * does not pay for loading gRPC and the Envoy protos.
 */
import { errorMessage, OperatorError, UsageError } from '../errors.ts';
import { logToStderr } from '../log.ts';

type Command = (argv: string[]) => Promise<number>;

/**
 * `logs: 'stdout'` only for the commands whose output is their logs (serve,
 * demo); every other command's stdout is data that a pipe or `>` must get
 * intact, so its logs go to stderr.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command>; logs?: 'stdout' }> = {
  ca: { summary: 'the mesh CA: ca import (your root or intermediate), ca rotate [--finish], ca show (the chain)', load: async () => (await import('./ca.ts')).caCommand },
  check: { summary: 'named checks of a cluster running Trellis, each ✔ or × with what to do; --pre before install', load: async () => (await import('./check.ts')).checkCommand },
  certs: { summary: 'list issued certificates (serial, SPIFFE ID, validity, root; never keys)', load: async () => (await import('./certs.ts')).certsCommand },
  bootstrap: { summary: 'print the Envoy bootstrap of a workload, with its identity token', load: async () => (await import('./bootstrap.ts')).bootstrapCommand },
  'workload-certs': { summary: 'write (and with --watch renew) the certificate files of a proxyless gRPC workload (gRFC A29)', load: async () => (await import('./workload-certs.ts')).workloadCertsCommand },
  inject: { summary: 'add the Envoy sidecar, its bootstrap, token and iptables redirect to workload manifests', load: async () => (await import('./inject.ts')).injectCommand },
  demo: { summary: 'run the demo mesh on this machine with real Envoy sidecars', load: async () => (await import('./demo.ts')).demoCommand, logs: 'stdout' },
  stat: { summary: 'golden metrics per edge: success rate, rps, latency p50/p95/p99 per workload -> service (--watch)', load: async () => (await import('./stat.ts')).statCommand },
  top: { summary: 'golden metrics per route, like stat (alias: routes)', load: async () => (await import('./stat.ts')).topCommand },
  routes: { summary: 'the same as top', load: async () => (await import('./stat.ts')).topCommand },
  rollout: { summary: 'rollout status: every Rollout, its phase, step, canary weight, last analysis and history', load: async () => (await import('./rollout.ts')).rolloutCommand },
  status: { summary: 'every connected proxy, per type SYNCED / STALE / NACKED (from the admin API)', load: async () => (await import('./status.ts')).statusCommand },
  'config-dump': { summary: 'the resources last sent to a proxy, by type and name; never private keys', load: async () => (await import('./config-dump.ts')).configDumpCommand },
  explain: { summary: 'what the proxies do with one request: route, clusters, retries, mTLS, endpoints, RBAC decision', load: async () => (await import('./explain.ts')).explainCommand },
  diff: { summary: 'what applying a folder would change for each connected proxy, and which intents it would reject', load: async () => (await import('./diff.ts')).diffCommand },
  install: { summary: 'render (or --apply) the CRDs, RBAC, Deployment, Service and webhook of Trellis, and its CA Secret once', load: async () => (await import('./install.ts')).installCommand },
  uninstall: { summary: 'remove what install made (the CA Secret only with --delete-ca, the CRDs with --delete-crds)', load: async () => (await import('./install.ts')).uninstallCommand },
  serve: { summary: 'run the xDS server and admin API', load: async () => (await import('./serve.ts')).serveCommand, logs: 'stdout' },
  validate: { summary: 'check intents (files or directories) before apply', load: async () => (await import('./validate.ts')).validateCommand },
  migrate: { summary: 'print the Gateway API HTTPRoutes equivalent to the SMI TrafficSplits of files or directories', load: async () => (await import('./migrate.ts')).migrateCommand },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return `usage: trellis <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`trellis: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  if (command.logs !== 'stdout') logToStderr();
  try {
    return await (await command.load())(rest);
  } catch (e) {
    return exitCodeOf(`trellis ${name}`, e);
  }
}

/**
 * The one place where what a command throws becomes what the operator sees.
 * Commands throw and never print their own errors:
 *   - UsageError (a flag, an argument, an input file): its message, then the
 *     command's usage if it has one; exit 2;
 *   - OperatorError (CaError, DemoError, EnvoyMissingError, a port in use...):
 *     a problem the operator can fix, whose message says how: the message
 *     alone, no stack trace; exit 1;
 *   - anything else is a bug in Trellis: the stack trace; exit 1.
 */
function exitCodeOf(prefix: string, e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`${prefix}: ${e.message}\n${e.usage ?? ''}`);
    return 2;
  }
  if (e instanceof OperatorError) {
    process.stderr.write(`${prefix}: ${e.message}\n`);
    return 1;
  }
  process.stderr.write(`${prefix}: ${e instanceof Error ? (e.stack ?? e.message) : errorMessage(e)}\n`);
  return 1;
}

// A reader that stops early (`trellis install | head`) has what it wanted: exit quietly, not
// with an unhandled EPIPE's stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(0);
});

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || !process.env.TRELLIS_KEEP_ALIVE) process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = exitCodeOf('trellis', err);
  },
);
