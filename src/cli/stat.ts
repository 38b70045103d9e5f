/**
 * `trellis stat [WORKLOAD] [-n NS]` and `trellis top [WORKLOAD]` (alias
 * `routes`): golden metrics per edge, and per route, read from a running
 * Trellis's admin API (which reads Prometheus or the sidecars:
 * docs/telemetry.md). `--watch` redraws every `--interval` seconds.
 */
import { UsageError } from '../errors.ts';
import { AdminClient, adminBaseUrl, DEFAULT_ADMIN } from '../admin/client.ts';
import { formatStatTable } from '../admin/golden/stat-table.ts';
import { parseArgs } from './args.ts';

function usage(command: string): string {
  return `usage: trellis ${command} [WORKLOAD] [--namespace NS] [--window 60s] [--watch [--interval 2]] [--output table|json] [--admin URL|host:port]\n`;
}

async function run(command: string, argv: string[], byRoute: boolean): Promise<number> {
  const USAGE = usage(command);
  const args = parseArgs(argv, { values: { admin: DEFAULT_ADMIN, output: 'table', namespace: undefined, window: '60s', interval: '2' }, booleans: ['help', 'watch'], usage: USAGE });
  if (args.booleans.help) {
    process.stdout.write(`${USAGE}\n${byRoute ? 'Per route' : 'Per edge'} (source workload -> destination service port${byRoute ? ', route' : ''}): success rate (not 5xx), requests per second, latency p50/p95/p99, requests and TCP connections over the window. "no data" where nothing was measured.\n`);
    return 0;
  }
  if (args.positionals.length > 1) throw new UsageError(`unexpected argument "${args.positionals[1]}"`, USAGE);
  const output = args.values.output!;
  if (output !== 'table' && output !== 'json') throw new UsageError(`--output ${output}: expected table or json`, USAGE);
  const interval = Number(args.values.interval);
  if (!(interval >= 0.5)) throw new UsageError(`--interval ${args.values.interval}: expected seconds (at least 0.5)`, USAGE);
  const workload = args.positionals[0];
  const namespace = args.values.namespace;
  const query: Record<string, string> = { window: args.values.window!, ...(byRoute ? { route: 'true' } : {}), ...(namespace ? { namespace } : {}), ...(workload ? { workload } : {}) };
  const what = workload ? `${namespace ? `${namespace}/` : ''}${workload}` : namespace ? `namespace ${namespace}` : 'the mesh';
  const client = new AdminClient(adminBaseUrl(args.values.admin!, USAGE));
  for (;;) {
    const m = await client.goldenMetrics(query);
    const text = output === 'json' ? `${JSON.stringify(m, null, 2)}\n` : formatStatTable(m, { byRoute, what });
    if (args.booleans.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
    process.stdout.write(text);
    if (!args.booleans.watch) return 0;
    if (!process.stdout.isTTY) process.stdout.write('\n');
    await new Promise((r) => setTimeout(r, interval * 1000));
  }
}

export const statCommand = (argv: string[]) => run('stat', argv, false);
export const topCommand = (argv: string[]) => run('top', argv, true);
