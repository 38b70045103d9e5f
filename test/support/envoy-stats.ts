/**
 * An Envoy's counters and gauges from its admin page (`/stats?filter=`), as
 * numbers by stat name: what e2e tests read to see what a sidecar did
 * (handshakes, RBAC decisions, proxied connections). Histograms, whose lines
 * are not `name: number`, are left out.
 */
export async function envoyStats(admin: string, filter: string): Promise<Record<string, number>> {
  const r = await fetch(`http://${admin}/stats?filter=${encodeURIComponent(filter)}`, { signal: AbortSignal.timeout(3000) });
  const out: Record<string, number> = {};
  for (const line of (await r.text()).split('\n')) {
    const m = /^(.+): (\d+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
