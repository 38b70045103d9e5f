/**
 * `trellis status [--admin URL] [--output table|json]`: every proxy connected
 * to a running Trellis and, per xDS type, SYNCED / STALE / NACKED (with the
 * message), read from its admin API. The states are the admin API's
 * (typeSyncState); this file only parses flags and prints.
 */
import { UsageError } from '../errors.ts';
import { AdminClient, adminBaseUrl, DEFAULT_ADMIN } from '../admin/client.ts';
import { formatStatusTable } from '../admin/status-table.ts';
import { parseArgs } from './args.ts';

const USAGE = 'usage: trellis status [--admin URL|host:port] [--output table|json]\n';

export async function statusCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: { admin: DEFAULT_ADMIN, output: 'table' }, booleans: ['help'], usage: USAGE });
  if (args.booleans.help) {
    process.stdout.write(`${USAGE}\nEvery proxy connected to a running Trellis (default admin API ${DEFAULT_ADMIN}); per type SYNCED (ACKed what was last sent), STALE (sent and not yet ACKed, or a send is due), NACKED (rejected: the message follows the table), — (never asked for).\n`);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, USAGE);
  const output = args.values.output!;
  if (output !== 'table' && output !== 'json') throw new UsageError(`--output ${output}: expected table or json`, USAGE);
  const client = new AdminClient(adminBaseUrl(args.values.admin!, USAGE));
  const proxies = await client.proxies();
  process.stdout.write(output === 'json' ? `${JSON.stringify({ proxies }, null, 2)}\n` : formatStatusTable(proxies, client.base));
  return 0;
}
