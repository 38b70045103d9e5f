/**
 * `trellis rollout status` as text: one row per Rollout, then, per Rollout,
 * why it holds, its last analysis and its history (oldest first). Pure.
 */
import type { RolloutsAnswer, RolloutView } from './rollouts.ts';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

function details(r: RolloutView, historyLimit: number): string[] {
  const out = [`${r.namespace}/${r.name}:`];
  if (r.held) out.push(`  held: ${r.held}`);
  if (r.lastAnalysis && !r.held) out.push(`  last analysis: ${r.lastAnalysis}`);
  const shown = r.history.slice(-historyLimit);
  if (shown.length < r.history.length) out.push(`  (${r.history.length - shown.length} earlier entries; --output json for all)`);
  for (const h of shown) out.push(`  ${h.at}  ${h.event.padEnd(12)}  ${String(h.canaryWeight).padStart(3)}%  ${h.message}`);
  if (r.history.length === 0) out.push('  no decision yet');
  return out;
}

export function formatRolloutTable(a: RolloutsAnswer, source: string, historyLimit = 10): string {
  if (a.rollouts.length === 0) return `no Rollout is accepted by ${source} (rejected ones: trellis validate, /api/v1/intents)\n`;
  const rows = [['NAMESPACE', 'NAME', 'SERVICE', 'STABLE', 'CANARY', 'DRIVES', 'PHASE', 'STEP', 'CANARY_WEIGHT']];
  for (const r of a.rollouts) {
    rows.push([r.namespace, r.name, r.service, r.stable, r.canary, r.drives, r.held ? `${r.phase} (held)` : r.phase, r.step === null ? '-' : `${r.step}/${r.steps}`, `${r.canaryWeight}%`]);
  }
  const notes = a.deciding ? [] : ['this replica is not the leader: it serves the weights the leader decided'];
  return `${[table(rows), '', ...a.rollouts.flatMap((r) => [...details(r, historyLimit), '']), ...notes, `progress kept in ${a.progressStore}`].join('\n')}\n`;
}
