/**
 * `trellis status` as a terminal table, in the manner of `istioctl
 * proxy-status`: one row per node, a column per xDS type with the state the
 * admin API decided (typeSyncState: SYNCED, STALE, NACKED), `—` for a type the
 * node never asked for, and the NACK messages listed under the table so a
 * long message does not break the columns. Pure: data in, text out.
 */
import type { ProxySummary } from './proxies.ts';

const TYPES = ['cds', 'eds', 'lds', 'rds', 'sds'] as const;
const NOT_REQUESTED = '—';

function streamsCell(p: ProxySummary): string {
  const kinds = [...new Set(p.streams.map((s) => (s.api === 'ads' ? `ads/${s.mode}` : `${s.api}/${s.mode}`)))].sort();
  return `${p.streams.length} ${kinds.join(',')}`.trim();
}

function identityCell(p: ProxySummary): string {
  if (p.identity) return p.identity;
  const states = new Set(p.streams.map((s) => s.identityState));
  if (states.has('refused')) return '(refused)';
  if (states.has('pending')) return '(pending)';
  return NOT_REQUESTED;
}

function pad(cells: string[], widths: number[]): string {
  return cells
    .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
    .join('   ')
    .trimEnd();
}

/** The table, and a line per NACK below it: `node  TYPE: message`. */
export function formatStatusTable(proxies: readonly ProxySummary[], adminBase: string): string {
  if (proxies.length === 0) return `no proxies are connected to ${adminBase}\n`;
  const header = ['NODE', 'CLUSTER', ...TYPES.map((t) => t.toUpperCase()), 'STREAMS', 'IDENTITY'];
  const sorted = proxies.toSorted((a, b) => a.node.localeCompare(b.node));
  const rows = sorted.map((p) => [p.node, p.cluster || NOT_REQUESTED, ...TYPES.map((t) => p.sync[t]?.state ?? NOT_REQUESTED), streamsCell(p), identityCell(p)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const lines = [pad(header, widths), ...rows.map((r) => pad(r, widths))];
  const nacks = sorted.flatMap((p) => TYPES.flatMap((t) => (p.sync[t]?.state === 'NACKED' ? [`  ${p.node} ${t.toUpperCase()}: ${p.sync[t]!.message ?? '(no message)'}`] : [])));
  if (nacks.length > 0) lines.push('', 'NACKED (the proxy keeps running its last ACKed version):', ...nacks);
  const having = (state: string) => sorted.filter((p) => Object.values(p.sync).some((s) => s.state === state)).length;
  const inSync = sorted.filter((p) => Object.values(p.sync).every((s) => s.state === 'SYNCED')).length;
  lines.push('', `${proxies.length} ${proxies.length === 1 ? 'proxy' : 'proxies'}: ${inSync} in sync, ${having('STALE')} with a stale type, ${having('NACKED')} with a NACK`);
  return lines.join('\n') + '\n';
}
