/**
 * The canary's golden metrics as one Analysis (decide.ts): every caller's
 * requests to the canary service (all its ports) over the window, summed;
 * p99 is the largest of the callers' p99s (an upper bound of the merged
 * p99, so a latency gate errs towards rolling back). Pure.
 */
import type { GoldenMetrics } from '../../admin/golden/edges.ts';
import type { Analysis } from './decide.ts';

/**
 * `window.asked`: the seconds the read asked for; `window.sinceStart`: how
 * long ago this revision started. A read whose counts reach back before the
 * start (a direct read counts from the sidecars' previous read: the first
 * one counts since each Envoy started) or far past the window asked is not
 * this rollout's to judge: no data, so the rollout holds.
 */
export function canaryAnalysis(m: GoldenMetrics, canary: { namespace: string; service: string }, window: { asked: number; sinceStart: number }): Analysis {
  if (m.status === 'no-data') return { kind: 'no-data', reason: `${m.source}: ${m.reason}` };
  const w = m.windowSeconds;
  if (w === null || w > window.sinceStart + 0.5 || w > window.asked * 1.5 + 1) {
    const span = w === null ? 'since each sidecar started' : `the last ${Math.round(w)} s`;
    return { kind: 'no-data', reason: `the ${m.source} read counts ${span}, more than the ${window.asked} s window since the rollout started; the coming reads measure it` };
  }
  const edges = m.edges.filter((e) => e.destination.namespace === canary.namespace && e.destination.service === canary.service && e.route === undefined);
  const requests = edges.reduce((n, e) => n + e.requests, 0);
  if (requests === 0) {
    const missing = m.missing?.length ? `; ${m.missing.length} sidecar(s) did not answer` : '';
    return { kind: 'no-data', reason: `no requests to ${canary.namespace}/${canary.service} in the window (${m.source})${missing}` };
  }
  const p99s = edges.filter((e) => e.requests > 0 && e.latencyMs).map((e) => e.latencyMs!.p99);
  return { kind: 'measured', requests, successes: edges.reduce((n, e) => n + e.successes, 0), p99Ms: p99s.length > 0 ? Math.max(...p99s) : null };
}
