/**
 * `trellis config-dump`: the resources last sent to one proxy, as the admin
 * API returns them (GET /api/v1/proxies/{node}/config: decoded proto JSON,
 * each marked ACKED / NACKED / SENT, secrets already redacted by the server),
 * narrowed by type and name, and rendered as YAML in the manner of Envoy's
 * /config_dump, or JSON. Pure: data in, text out.
 */
import { stringify } from 'yaml';
import { OperatorError, UsageError } from '../errors.ts';
import { isKnownTypeUrl, SHORT_NAMES } from '../xds/type-urls.ts';
import type { HeldResourceView, ProxyConfigView } from './proxies.ts';

const SHORTS = Object.values(SHORT_NAMES);

/** `--type`: cds|eds|lds|rds|sds in any case, or a resource type URL -> the short name the admin API keys by. */
export function parseTypeFilter(arg: string, usage?: string): string {
  const lower = arg.toLowerCase();
  if (SHORTS.includes(lower)) return lower;
  if (isKnownTypeUrl(arg)) return SHORT_NAMES[arg];
  throw new UsageError(`--type ${arg}: expected one of ${SHORTS.join(', ')} (any case) or a type URL such as ${Object.keys(SHORT_NAMES)[0]}`, usage);
}

export interface DumpFilter {
  /** short type name (parseTypeFilter) */
  type?: string;
  /** exact resource name */
  name?: string;
}

/**
 * The part of `config` the filter selects, in the same shape. A name that
 * matches nothing is an error naming what the node does hold, so a typo is
 * not mistaken for an empty config.
 */
export function filterConfig(config: ProxyConfigView, filter: DumpFilter): ProxyConfigView {
  const types: Record<string, HeldResourceView[]> = {};
  for (const short of SHORTS) {
    const held = config.types[short];
    if (!held || (filter.type && short !== filter.type)) continue;
    const kept = filter.name === undefined ? held : held.filter((r) => r.name === filter.name);
    if (kept.length > 0) types[short] = kept;
  }
  if (filter.name !== undefined && Object.keys(types).length === 0) {
    const where = filter.type ? `no ${filter.type.toUpperCase()} resource` : 'no resource';
    const names = (filter.type ? (config.types[filter.type] ?? []) : Object.values(config.types).flat()).map((r) => r.name);
    const shown = names.length === 0 ? 'it holds none' : `it holds: ${names.slice(0, 20).join(', ')}${names.length > 20 ? `, … (${names.length} in all)` : ''}`;
    throw new OperatorError(`proxy "${config.node}" holds ${where} named "${filter.name}" (${shown})`);
  }
  return { node: config.node, types };
}

/**
 * One document for both outputs: a section per type (cds, eds, lds, rds, sds),
 * each resource with its version and status first and the decoded resource
 * (with its '@type') last, the way Envoy's config_dump puts `version_info`
 * and `error_state` beside the resource.
 */
export function formatConfigDump(config: ProxyConfigView, output: 'yaml' | 'json'): string {
  const doc = {
    node: config.node,
    configs: Object.entries(config.types).map(([type, resources]) => ({
      type,
      resources: resources.map((r) => ({
        name: r.name,
        version_info: r.version,
        status: r.status,
        ...(r.nackMessage ? { error_state: r.nackMessage } : {}),
        resource: r.resource,
      })),
    })),
  };
  if (output === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  return stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });
}
