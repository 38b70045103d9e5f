/** `trellis explain`'s text: one step a line, in the order Envoy takes them. */
import type { ClusterExplanation, Explanation } from './explain.ts';

function where(o: { origin?: { file: string; line?: number } }): string {
  return o.origin ? `${o.origin.file}${o.origin.line ? `:${o.origin.line}` : ''}` : '(origin unknown)';
}

function cluster(c: ClusterExplanation): string[] {
  const lines = [`  ${c.name}  weight ${c.weight} (${c.percent}%)`];
  lines.push(c.mtls ? `    mTLS: yes, SNI ${c.mtls.sni ?? '-'}, peer SAN checked: ${c.mtls.sans.join('; ') || 'none (any certificate of the trust bundle)'}` : '    mTLS: no (plaintext upstream)');
  if (c.endpoints.length === 0) lines.push('    endpoints: none (Envoy answers 503)');
  for (const e of c.endpoints) {
    lines.push(`    endpoint ${e.address}  ${e.health}  locality ${e.locality}`);
    const d = e.destination;
    if (!d) {
      lines.push('      destination: no connected proxy serves it (authorization unknown)');
      continue;
    }
    const node = d.candidates ? `one of ${d.candidates.join(', ')} (transparent mode; they decide alike)` : d.node;
    lines.push(`      destination ${node}, listener ${d.listener}${d.mtlsRequired ? ', client certificate required' : ''}`);
    for (const r of d.rbac) {
      const by = r.matchedPolicies.length > 0 ? `policy ${r.matchedPolicies.join(', ')}` : 'no policy matches';
      lines.push(`      RBAC ${r.action}: ${r.allowed ? 'allowed' : 'denied'} (${by})${r.unknown.length ? `; not evaluated: ${r.unknown.join('; ')}` : ''}`);
    }
    if (d.rbac.length === 0) lines.push('      RBAC: none on this listener (allowed)');
  }
  return lines;
}

export function formatExplanation(x: Explanation): string {
  const hdrs = Object.entries(x.request.headers).map(([k, v]) => ` -H '${k}: ${v}'`).join('');
  const lines = [
    `request:        ${x.request.method} ${x.request.authority}${x.request.path}${hdrs}`,
    `from:           ${x.source.node} (${x.source.identity ?? 'identity unknown'})`,
    `listener:       ${x.listener} -> route configuration ${x.routeConfiguration}`,
    `virtual host:   ${x.virtualHost}`,
    `route:          ${x.route.name} (#${x.route.index}; ${JSON.stringify(x.route.match)})${x.route.skipped.length ? `, after ${x.route.skipped.join(', ')} did not match` : ''}`,
    `timeout:        ${x.timeout}`,
    `retries:        ${x.retryPolicy ? `${String(x.retryPolicy.num_retries ?? 1)} on ${String(x.retryPolicy.retry_on ?? '-')}${x.retryPolicy.per_try_timeout ? `, per try ${String(x.retryPolicy.per_try_timeout)}` : ''}` : 'none'}`,
    ...(x.limits.fault ? [`fault:          ${x.limits.fault}`] : []),
    ...(x.limits.localLimit ? [`local limit:    ${x.limits.localLimit}`] : []),
    ...(x.limits.globalLimit ? [`global limit:   ${x.limits.globalLimit}`] : []),
    'clusters:',
    ...x.clusters.flatMap(cluster),
    `decision:       ${x.decision.toUpperCase()}`,
  ];
  if (x.intents.length > 0) lines.push('intents:', ...x.intents.map((i) => `  ${where(i)}: ${i.kind} ${i.namespace}/${i.name} (${i.why})`));
  if (x.notes.length > 0) lines.push('notes:', ...x.notes.map((n) => `  ${n}`));
  return `${lines.join('\n')}\n`;
}
