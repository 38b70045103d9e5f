/**
 * `trellis explain`'s view of faults and rate limits (issue 15): what a
 * virtual host and the route a request takes make the caller's sidecar do to
 * it, read from the served resources as Envoy reads them (the route's
 * per-filter config replaces its virtual host's; its rate_limits replace the
 * virtual host's). One line each, for the explanation's text. Pure.
 */
import type { Json } from './resources.ts';

const FAULT = 'envoy.filters.http.fault';
const LOCAL = 'envoy.filters.http.local_ratelimit';

export interface LimitsExplanation {
  /** e.g. "abort 30% with HTTP 503; delay 10% by 2s (only with x-chaos: on)" */
  fault?: string;
  /** e.g. "5 per 1s, burst 10 (this sidecar's bucket)" */
  localLimit?: string;
  /** e.g. "counted by the rate limit service as trellis_policy=demo/web" */
  globalLimit?: string;
}

const percentOf = (p: Json | undefined): string => {
  const n = Number(p?.numerator ?? 0);
  const per = p?.denominator === 'MILLION' ? 10_000 : p?.denominator === 'TEN_THOUSAND' ? 100 : 1;
  return `${Math.round((n / per) * 10_000) / 10_000}%`;
};

function describeFault(f: Json): string {
  const parts: string[] = [];
  const abort = f.abort as Json | undefined;
  if (abort) parts.push(`abort ${percentOf(abort.percentage as Json)} with ${abort.grpc_status !== undefined ? `gRPC status ${String(abort.grpc_status)}` : `HTTP ${String(abort.http_status)}`}`);
  const delay = f.delay as Json | undefined;
  if (delay) parts.push(`delay ${percentOf(delay.percentage as Json)} by ${String(delay.fixed_delay)}`);
  const headers = ((f.headers as Json[] | undefined) ?? []).map((h) => `${String(h.name)}: ${String((h.string_match as Json | undefined)?.exact ?? '?')}`);
  return parts.join('; ') + (headers.length > 0 ? ` (only with ${headers.join(', ')})` : '');
}

function describeLocal(l: Json): string {
  const b = (l.token_bucket as Json | undefined) ?? {};
  return `${String(b.tokens_per_fill ?? 1)} per ${String(b.fill_interval)}, burst ${String(b.max_tokens)} (this sidecar's bucket)`;
}

function describeGlobal(rateLimits: Json[]): string {
  const keys = rateLimits.flatMap((r) => ((r.actions as Json[] | undefined) ?? []).map((a) => a.generic_key as Json | undefined)).filter((g) => g !== undefined);
  return `counted by the rate limit service as ${keys.map((g) => `${String(g.descriptor_key ?? 'generic_key')}=${String(g.descriptor_value)}`).join(', ')}`;
}

/** What the fault and rate limit filters do to a request that took `route` in `vhost`. */
export function limitsOf(vhost: Json, route: Json): LimitsExplanation {
  const perFilter = (k: string): Json | undefined => ((route.typed_per_filter_config as Json | undefined)?.[k] ?? (vhost.typed_per_filter_config as Json | undefined)?.[k]) as Json | undefined;
  const routeLimits = ((route.route as Json | undefined)?.rate_limits as Json[] | undefined) ?? [];
  const globals = routeLimits.length > 0 ? routeLimits : ((vhost.rate_limits as Json[] | undefined) ?? []);
  const fault = perFilter(FAULT);
  const local = perFilter(LOCAL);
  return {
    ...(fault ? { fault: describeFault(fault) } : {}),
    ...(local ? { localLimit: describeLocal(local) } : {}),
    ...(globals.length > 0 ? { globalLimit: describeGlobal(globals) } : {}),
  };
}
