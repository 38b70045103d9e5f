/**
 * The canary's golden metrics as one Analysis (decide.ts): every caller's
 * requests to the canary service (all its ports) over the window, summed;
 * p99 is the largest of the callers' p99s (an upper bound of the merged
 * p99, so a latency gate errs towards rolling back). Pure.
 */
import type { GoldenMetrics } from '../../admin/golden/edges.ts';
import type { Analysis } from './decide.ts';

export function canaryAnalysis(m: GoldenMetrics, canary: { namespace: string; service: string }): Analysis {
  if (m.status === 'no-data') return { kind: 'no-data', reason: `${m.source}: ${m.reason}` };
  const edges = m.edges.filter((e) => e.destination.namespace === canary.namespace && e.destination.service === canary.service && e.route === undefined);
  const requests = edges.reduce((n, e) => n + e.requests, 0);
  if (requests === 0) {
    const missing = m.missing?.length ? `; ${m.missing.length} sidecar(s) did not answer` : '';
    return { kind: 'no-data', reason: `no requests to ${canary.namespace}/${canary.service} in the window (${m.source})${missing}` };
  }
  const p99s = edges.filter((e) => e.requests > 0 && e.latencyMs).map((e) => e.latencyMs!.p99);
  return { kind: 'measured', requests, successes: edges.reduce((n, e) => n + e.successes, 0), p99Ms: p99s.length > 0 ? Math.max(...p99s) : null };
}
