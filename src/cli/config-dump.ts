/**
 * `trellis config-dump <node> [--type T] [--name N] [--admin URL] [--output yaml|json]`:
 * the resources a running Trellis last sent to a proxy, each marked ACKED,
 * NACKED or SENT, read from its admin API. Private keys never leave the
 * server (the admin API redacts them); this file only parses flags and prints.
 */
import { UsageError } from '../errors.ts';
import { AdminClient, adminBaseUrl, DEFAULT_ADMIN } from '../admin/client.ts';
import { filterConfig, formatConfigDump, parseTypeFilter } from '../admin/config-dump.ts';
import { parseArgs } from './args.ts';

const USAGE = 'usage: trellis config-dump <node> [--type cds|eds|lds|rds|sds|<type URL>] [--name N] [--admin URL|host:port] [--output yaml|json]\n';

export async function configDumpCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: { admin: DEFAULT_ADMIN, output: 'yaml', type: undefined, name: undefined }, booleans: ['help'], usage: USAGE });
  if (args.booleans.help) {
    process.stdout.write(`${USAGE}\nThe resources last sent to <node> (its node id; \`trellis status\` lists them), decoded, each with its version and ACKED / NACKED / SENT. Secrets show certificates, never private keys.\n`);
    return 0;
  }
  const [node, ...extra] = args.positionals;
  if (!node) throw new UsageError('config-dump needs a node id (trellis status lists them)', USAGE);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, USAGE);
  const output = args.values.output!;
  if (output !== 'yaml' && output !== 'json') throw new UsageError(`--output ${output}: expected yaml or json`, USAGE);
  const type = args.values.type === undefined ? undefined : parseTypeFilter(args.values.type, USAGE);
  const client = new AdminClient(adminBaseUrl(args.values.admin!, USAGE));
  const config = filterConfig(await client.proxyConfig(node), { type, name: args.values.name });
  process.stdout.write(formatConfigDump(config, output));
  return 0;
}
