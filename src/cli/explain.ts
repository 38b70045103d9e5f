/**
 * `trellis explain --from ns/workload URL [-H 'k: v']... [-X METHOD] [--admin URL] [--output text|json]`:
 * what the proxies of a running Trellis do with one request, from the
 * resources it last sent them (admin/explain/ evaluates; this file parses
 * flags, fetches and prints).
 */
import { X509Certificate } from 'node:crypto';
import { OperatorError, UsageError } from '../errors.ts';
import { AdminClient, adminBaseUrl, DEFAULT_ADMIN } from '../admin/client.ts';
import { explain } from '../admin/explain/explain.ts';
import { formatExplanation } from '../admin/explain/format.ts';
import type { ProxyConfigView, ProxySummary } from '../admin/proxies.ts';
import { parseArgs } from './args.ts';

const USAGE = "usage: trellis explain --from <namespace/workload> <http://service.namespace:port/path> [-H 'name: value']... [-X METHOD] [--admin URL|host:port] [--output text|json]\n";

const SHORT: Record<string, string> = { '-H': '--header', '-X': '--request' };

/** The caller's SPIFFE ID: its stream's proven identity, else the URI SAN of the certificate it was sent. */
function identityOf(proxy: ProxySummary, config: ProxyConfigView): string | undefined {
  if (proxy.identity) return proxy.identity;
  for (const s of config.types.sds ?? []) {
    const pem = ((s.resource.tls_certificate as Record<string, unknown> | undefined)?.certificate_chain as { inline_bytes?: string; inline_string?: string } | undefined);
    const text = pem?.inline_string ?? (pem?.inline_bytes ? Buffer.from(pem.inline_bytes, 'base64').toString() : undefined);
    if (!text) continue;
    try {
      const uri = /URI:([^,\s]+)/.exec(new X509Certificate(text).subjectAltName ?? '')?.[1];
      if (uri) return uri;
    } catch {
      // not a certificate: keep looking
    }
  }
  return undefined;
}

export async function explainCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv.map((a) => SHORT[a] ?? a),
    { values: { admin: DEFAULT_ADMIN, from: undefined, request: 'GET', output: 'text' }, repeatable: ['header'], booleans: ['help'], usage: USAGE },
  );
  if (args.booleans.help) {
    process.stdout.write(`${USAGE}\nWhich listener, virtual host and route the caller's proxy picks for the request, the clusters and weights, timeout and retries, mTLS and the SAN checked, the endpoints and their health, and the destination proxy's RBAC decision, with the file:line of the intents involved. Read from what the running Trellis last sent (as config-dump shows it).\n`);
    return 0;
  }
  const from = args.values.from;
  if (!from) throw new UsageError('explain needs --from <namespace/workload> (trellis status lists the proxies)', USAGE);
  const [url, ...extra] = args.positionals;
  if (!url) throw new UsageError('explain needs a URL (http://service.namespace:port/path)', USAGE);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, USAGE);
  const output = args.values.output!;
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output ${output}: expected text or json`, USAGE);
  const headers = args.lists.header!.map((h): [string, string] => {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`-H ${h}: expected 'name: value'`, USAGE);
    return [h.slice(0, colon).trim(), h.slice(colon + 1).trim()];
  });

  const client = new AdminClient(adminBaseUrl(args.values.admin!, USAGE));
  const proxies = await client.proxies();
  const source = proxies.find((p) => p.node === from) ?? proxies.find((p) => p.metadata['trellis.workload'] === from);
  if (!source) {
    const known = proxies.map((p) => String(p.metadata['trellis.workload'] ?? p.node));
    throw new OperatorError(`no proxy of workload "${from}" is connected to ${client.base} (${known.length ? `connected: ${[...new Set(known)].join(', ')}` : 'no proxy is connected'})`);
  }
  const configs = await Promise.all(proxies.map((p) => client.proxyConfig(p.node)));
  const sourceConfig = configs[proxies.indexOf(source)]!;
  const x = explain({
    source: sourceConfig,
    sourceIdentity: identityOf(source, sourceConfig),
    proxies: configs,
    identities: new Map(proxies.map((p, i) => [p.node, identityOf(p, configs[i]!)])),
    intents: await client.intents(),
    request: { url, method: args.values.request!, headers },
  });
  process.stdout.write(output === 'json' ? `${JSON.stringify(x, null, 2)}\n` : formatExplanation(x));
  return 0;
}
