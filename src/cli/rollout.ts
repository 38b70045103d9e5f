/**
 * `trellis rollout status [NAMESPACE/NAME] [--admin URL] [--output table|json]`:
 * the Rollouts of a running Trellis, their phase, step, the canary weight
 * served, why one holds, the last analysis and the history of steps and
 * decisions (GET /api/v1/rollouts). Flags, then the admin client; the table
 * is admin/rollout-table.ts.
 */
import { UsageError } from '../errors.ts';
import { AdminClient, adminBaseUrl, DEFAULT_ADMIN } from '../admin/client.ts';
import { formatRolloutTable } from '../admin/rollout-table.ts';
import { parseArgs } from './args.ts';

const USAGE = 'usage: trellis rollout status [NAMESPACE/NAME] [--admin URL|host:port] [--output table|json] [--history N]\n';

export async function rolloutCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === undefined) {
    process.stdout.write(`${USAGE}\nEvery Rollout (docs/intents.md "Rollout"): PHASE Pending, Progressing (held: the gates cannot be evaluated, nothing changes), Promoted or RolledBack; STEP n/m; the canary's weight served now; then each one's last analysis and history.\n`);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'status') throw new UsageError(`unknown subcommand "${sub}"; expected status`, USAGE);
  const args = parseArgs(rest, { values: { admin: DEFAULT_ADMIN, output: 'table', history: '10' }, booleans: ['help'], usage: USAGE });
  const output = args.values.output!;
  if (output !== 'table' && output !== 'json') throw new UsageError(`--output ${output}: expected table or json`, USAGE);
  const history = Number(args.values.history);
  if (!Number.isInteger(history) || history < 0) throw new UsageError(`--history ${args.values.history}: expected a whole number`, USAGE);
  if (args.positionals.length > 1) throw new UsageError(`unexpected argument "${args.positionals[1]}"`, USAGE);
  const only = args.positionals[0];
  if (only !== undefined && !/^[^/]+\/[^/]+$/.test(only)) throw new UsageError(`${only}: expected NAMESPACE/NAME`, USAGE);
  const client = new AdminClient(adminBaseUrl(args.values.admin!, USAGE));
  const answer = await client.rollouts();
  const shown = only ? { ...answer, rollouts: answer.rollouts.filter((r) => `${r.namespace}/${r.name}` === only) } : answer;
  if (only && shown.rollouts.length === 0) throw new UsageError(`no accepted Rollout ${only} at ${client.base} (accepted: ${answer.rollouts.map((r) => `${r.namespace}/${r.name}`).join(', ') || 'none'})`);
  process.stdout.write(output === 'json' ? `${JSON.stringify(shown, null, 2)}\n` : formatRolloutTable(shown, client.base, history));
  return 0;
}
