/**
 * `trellis diff <dir> [--admin URL] [--output text|json]`: what applying a
 * folder would change for every proxy connected to a running Trellis, before
 * anything is applied, and which intents apply would reject. The folder is
 * read and checked as the file source and `trellis validate` do; the
 * prediction is the publisher's own code (runtime/config-diff.ts); this file
 * only parses flags, reads, and prints.
 */
import { stat } from 'node:fs/promises';
import { UsageError } from '../errors.ts';
import { AdminClient, adminBaseUrl, DEFAULT_ADMIN } from '../admin/client.ts';
import type { ProxyConfigView } from '../admin/proxies.ts';
import { buildMesh } from '../model/build.ts';
import { formatProblem, formatSourceError } from '../model/problem.ts';
import { loadPaths } from '../sources/file/load.ts';
import { diffProxies } from '../runtime/config-diff.ts';
import { formatDiffJson, formatDiffText } from '../runtime/diff-report.ts';
import { parseArgs } from './args.ts';

const USAGE = 'usage: trellis diff <dir|file>... [--admin URL|host:port] [--output text|json]\n';

export async function diffCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: { admin: DEFAULT_ADMIN, output: 'text' }, booleans: ['help'], usage: USAGE });
  if (args.booleans.help) {
    process.stdout.write(
      `${USAGE}\nWhat applying the folder would change for every proxy connected to a running Trellis (default admin API ${DEFAULT_ADMIN}): per proxy, resources added (+), removed (-) and changed fields (~); and the intents apply would reject, as file:line lines. Nothing is applied. Exit 0: the diff was computed; 1: the folder has rejected intents (the diff of the rest is still printed), or Trellis could not be read.\n`,
    );
    return 0;
  }
  const paths = args.positionals;
  if (paths.length === 0) throw new UsageError('diff needs the folder (or files) you would apply', USAGE);
  const output = args.values.output!;
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output ${output}: expected text or json`, USAGE);
  for (const path of paths) {
    if (!(await stat(path).catch(() => undefined))) throw new UsageError(`${path}: no such file or directory`, USAGE);
  }
  const client = new AdminClient(adminBaseUrl(args.values.admin!, USAGE));

  const loaded = await loadPaths(paths);
  // The running Rollouts' weights are a build input too: without them every canary would look reset to 0.
  const running = await client.rollouts().catch(() => undefined);
  const rolloutProgress = new Map((running?.rollouts ?? []).map((r) => [`${r.namespace}/${r.name}`, { revision: r.revision, canaryWeight: r.canaryWeight }]));
  const { model, statuses } = buildMesh(loaded.objects, { rolloutProgress });
  const located = [
    ...loaded.errors.map((e) => ({ file: e.file, line: e.line, text: formatSourceError(e) })),
    ...statuses.flatMap((s) => s.problems.filter((p) => p.severity === 'error').map((p) => ({ file: p.file ?? '', line: p.line ?? 0, text: formatProblem(p) }))),
  ].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
  const rejectedCount = loaded.errors.length + statuses.filter((s) => s.problems.some((p) => p.severity === 'error')).length;

  const proxies = await client.proxies();
  const held = new Map<string, ProxyConfigView>();
  for (const p of proxies) held.set(p.node, await client.proxyConfig(p.node));
  const report = { admin: client.base, rejected: located.map((l) => l.text), rejectedCount, proxies: diffProxies(model, proxies, held) };
  process.stdout.write(output === 'json' ? formatDiffJson(report) : formatDiffText(report));
  return rejectedCount > 0 ? 1 : 0;
}
