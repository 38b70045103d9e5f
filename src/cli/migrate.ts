/**
 * `trellis migrate <file|dir>...` — prints the Gateway API equivalent of the
 * SMI routing in the given files (model/migrate.ts): one HTTPRoute per
 * TrafficSplit root and HTTP port, as YAML on stdout, each preceded by the
 * TrafficSplits it replaces. Changes no file; TrafficTargets stay as they
 * are (authorization is not routing). Exit 0; 1 when the input has errors
 * (`trellis validate` says which), 2 on usage errors.
 */
import { stat } from 'node:fs/promises';
import { stringify } from 'yaml';
import { UsageError } from '../errors.ts';
import { buildMesh, hasErrors } from '../model/index.ts';
import { migrateSplits } from '../model/migrate.ts';
import { requireRe2 } from '../model/re2.ts';
import { loadPaths } from '../sources/file/load.ts';
import { parseArgs } from './args.ts';

const USAGE = 'usage: trellis migrate <file|dir>...\n';

export async function migrateCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: {}, booleans: ['help'], usage: USAGE });
  if (args.booleans.help) {
    process.stdout.write(`${USAGE}\nPrints the Gateway API HTTPRoutes equivalent to the TrafficSplits (and their HTTPRouteGroup matches) of the files, to review and apply. See docs/gateway-api.md.\n`);
    return 0;
  }
  if (args.positionals.length === 0) throw new UsageError('migrate needs at least one file or directory', USAGE);
  for (const p of args.positionals) if (!(await stat(p).catch(() => undefined))) throw new UsageError(`${p}: no such file or directory`, USAGE);
  requireRe2();
  const loaded = await loadPaths(args.positionals);
  const { model, statuses } = buildMesh(loaded.objects);
  const invalid = statuses.filter((s) => ['TrafficSplit', 'HTTPRouteGroup'].includes(s.kind) && hasErrors(s.problems));
  const docs = migrateSplits(model).map((m) => `# replaces TrafficSplit ${m.from.join(', TrafficSplit ')}\n${stringify(m.route)}`);
  if (docs.length > 0) process.stdout.write(docs.join('---\n'));
  process.stderr.write(`${docs.length} HTTPRoute${docs.length === 1 ? '' : 's'} from ${model.splits.size} TrafficSplit${model.splits.size === 1 ? '' : 's'}; TrafficTargets need no change\n`);
  if (invalid.length > 0 || loaded.errors.length > 0) {
    process.stderr.write(`${invalid.length + loaded.errors.length} input object(s) have errors and are left out; run \`trellis validate\` on the same paths\n`);
    return 1;
  }
  return 0;
}
