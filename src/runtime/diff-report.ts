/**
 * `trellis diff`'s output: the rejected intents (as `trellis validate` and the
 * server's log print them: `file:line: Kind ns/name: field: message`), then
 * per proxy that would change a line per resource (`+` added, `-` removed,
 * `~` a changed field), then a summary; or the same as one JSON document.
 * Pure: data in, text out.
 */
import { formatFieldChange } from '../xds/json-diff.ts';
import type { ProxyDiff, ResourceChange } from './config-diff.ts';

/** Which Envoy object a short type name holds, for people. */
const KIND: Record<string, string> = { cds: 'cluster', eds: 'endpoints', lds: 'listener', rds: 'route' };

export const SECRETS_NOTE = 'secrets (SDS) are not compared: they come from the CA, which diff does not read';

export interface DiffReport {
  admin: string;
  /** `file:line: …` lines of what apply would reject (source errors and objects with an error) */
  rejected: string[];
  /** how many objects (or unreadable documents) those lines are about */
  rejectedCount: number;
  proxies: ProxyDiff[];
}

function changeLines(c: ResourceChange): string[] {
  const what = `${KIND[c.type] ?? c.type} ${c.name}`;
  if (c.change === 'added') return [`  + ${what}`];
  if (c.change === 'removed') return [`  - ${what}`];
  const fields = c.fields ?? [];
  const lines = fields.map((f) => `  ~ ${what}: ${formatFieldChange(f)}`);
  const more = (c.fieldCount ?? fields.length) - fields.length;
  if (more > 0) lines.push(`  ~ ${what}: … and ${more} more field${more === 1 ? '' : 's'}`);
  // Versions differ with equal decoded JSON only if encoding differs: still a change, name it.
  if (lines.length === 0) lines.push(`  ~ ${what}: version ${c.from} → ${c.to}`);
  return lines;
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export function formatDiffText(r: DiffReport): string {
  const out: string[] = [`diff against ${r.admin} (${SECRETS_NOTE})`];
  out.push(...r.rejected);
  const changed = r.proxies.filter((p) => p.changes.length > 0);
  for (const p of changed) {
    out.push(`node ${p.node}:`);
    for (const c of p.changes) out.push(...changeLines(c));
  }
  const unchanged = r.proxies.length - changed.length;
  const rejected = r.rejectedCount > 0 ? `; ${plural(r.rejectedCount, 'intent')} rejected (apply keeps their last good version)` : '';
  if (r.proxies.length === 0) out.push(`no proxy is connected: nothing to compare${rejected}`);
  else if (changed.length === 0) out.push(`no changes: ${plural(r.proxies.length, 'proxy', 'proxies')} would hold what they hold now${rejected}`);
  else out.push(`${plural(changed.length, 'proxy', 'proxies')} would change, ${unchanged} unchanged${rejected}`);
  return `${out.join('\n')}\n`;
}

export function formatDiffJson(r: DiffReport): string {
  const changed = r.proxies.filter((p) => p.changes.length > 0).length;
  const doc = {
    admin: r.admin,
    note: SECRETS_NOTE,
    rejected: r.rejected,
    proxies: r.proxies,
    summary: { changed, unchanged: r.proxies.length - changed, rejected: r.rejectedCount },
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
