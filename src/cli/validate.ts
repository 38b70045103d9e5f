/**
 * `trellis validate <file|dir>...` — the checks `serve` runs, before apply.
 * Reads every file (directories recursively), builds the model from all of
 * them together (so cross-file references resolve), and prints each problem as
 * `path:line: Kind ns/name: field: message` on stdout, sorted by file and line.
 * Exit 0 when there is no error (warnings are printed but pass), 1 on errors,
 * 2 on usage errors.
 */
import { stat } from 'node:fs/promises';
import { buildMesh } from '../model/build.ts';
import { formatProblem, formatSourceError } from '../model/problem.ts';
import { loadPaths } from '../sources/file/load.ts';
import { UsageError } from '../errors.ts';
import { parseArgs } from './args.ts';

const USAGE = 'usage: trellis validate [--quiet] [--trust-domain TD] <file|dir>...\n';

export async function validateCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: { 'trust-domain': undefined }, booleans: ['quiet', 'help'], usage: USAGE });
  if (args.booleans.help) {
    process.stdout.write(
      `${USAGE}\nChecks Kubernetes-shaped YAML intents as \`trellis serve\` would. Exit 0: no errors; 1: errors; 2: usage.\n  --quiet            print errors only, not warnings or the summary\n` +
        '  --trust-domain TD  check as a running serve whose CA is in TD does: a MeshConfig naming another trust domain is refused until a restart\n',
    );
    return 0;
  }
  const paths = args.positionals;
  const quiet = args.booleans.quiet ?? false;
  if (paths.length === 0) throw new UsageError('validate needs at least one file or directory', USAGE);
  for (const path of paths) {
    if (!(await stat(path).catch(() => undefined))) throw new UsageError(`${path}: no such file or directory`, USAGE);
  }

  const loaded = await loadPaths(paths);
  const runningTrustDomain = args.values['trust-domain'];
  const { statuses } = buildMesh(loaded.objects, runningTrustDomain !== undefined ? { runningTrustDomain } : {});
  const lines: { file: string; line: number; text: string; error: boolean }[] = [];
  for (const e of loaded.errors) lines.push({ file: e.file, line: e.line, text: formatSourceError(e), error: true });
  for (const s of statuses) {
    for (const p of s.problems) {
      if (quiet && p.severity !== 'error') continue;
      lines.push({ file: p.file ?? '', line: p.line ?? 0, text: formatProblem(p), error: p.severity === 'error' });
    }
  }
  const ordered = lines.toSorted((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
  if (ordered.length > 0) process.stdout.write(ordered.map((l) => l.text).join('\n') + '\n');
  const errors = ordered.filter((l) => l.error).length;
  const warnings = ordered.length - errors;
  if (!quiet) {
    const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
    process.stderr.write(`${plural(loaded.objects.length, 'object')} in ${plural(loaded.files.length, 'file')}: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}\n`);
  }
  return errors > 0 ? 1 : 0;
}
