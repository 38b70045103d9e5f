/**
 * The resilience settings of a TrafficPolicy (trellis.io/v1alpha1), decoded
 * with their defaults applied. Documented for operators in docs/intents.md;
 * keep the two in step.
 */
import type { Field } from '../field.ts';
import type { CircuitBreaker, HashOn, LoadBalancer, Locality, OutlierDetection, RetryPolicy, Timeouts } from '../types.ts';

/** Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on conditions. */
export const RETRY_ON = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
] as const;
export const DEFAULT_RETRY_ON = ['5xx', 'reset', 'connect-failure', 'refused-stream', 'unavailable'] as const;
/** RFC 9110 §9.2.2: repeating these has the same effect as sending them once. */
export const IDEMPOTENT_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'] as const;
const METHODS = ['*', 'GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;
const COUNT = { min: 1, max: 1_000_000_000 };
const DAY_MS = 86_400_000;

/** `allowConnect`: a connect timeout is the cluster's, so a whole port's (spec.timeouts), never one route's. */
export function decodeTimeouts(f: Field, opts: { allowConnect?: boolean } = {}): Timeouts | undefined {
  if (!f.object({ known: ['request', 'perTry', 'idle', ...(opts.allowConnect ? ['connect'] : [])] })) return undefined;
  const get = (k: string): number | undefined => (f.child(k).absent ? undefined : f.child(k).duration({ minMs: 1, maxMs: DAY_MS }));
  const requestMs = get('request');
  const perTryMs = get('perTry');
  const idleMs = get('idle');
  const connectMs = opts.allowConnect && !f.child('connect').absent ? f.child('connect').duration({ minMs: 1, maxMs: 3_600_000 }) : undefined;
  if (requestMs !== undefined && perTryMs !== undefined && perTryMs > requestMs) {
    f.child('perTry').report('InvalidValue', `perTry (${String(f.child('perTry').value)}) is longer than request (${String(f.child('request').value)}), so no retry could ever start; make perTry shorter than request`);
  }
  return { ...(requestMs !== undefined ? { requestMs } : {}), ...(perTryMs !== undefined ? { perTryMs } : {}), ...(idleMs !== undefined ? { idleMs } : {}), ...(connectMs !== undefined ? { connectMs } : {}) };
}

export function decodeRetries(f: Field, opts: { allowBudget: boolean }): RetryPolicy | undefined {
  const known = ['attempts', 'retryOn', 'retriableStatusCodes', 'methods', 'hedgeOnPerTryTimeout', 'retryAfter', ...(opts.allowBudget ? ['budget'] : [])];
  if (!f.object({ known })) return undefined;
  if (!opts.allowBudget && !f.child('budget').absent) {
    f.child('budget').report('InvalidValue', 'a retry budget caps retries for the whole service port, so it cannot be set per route; move retries.budget to the policy\'s spec.retries');
  }
  const attempts = f.child('attempts').absent ? 2 : f.child('attempts').integer({ min: 0, max: 10, expected: 'retries after the first attempt (0 to 10)' });
  const retryOn = f.child('retryOn').absent ? [...DEFAULT_RETRY_ON] : stringList(f.child('retryOn'), RETRY_ON);
  const codes: number[] = [];
  if (!f.child('retriableStatusCodes').absent) {
    for (const c of f.child('retriableStatusCodes').list()) {
      const v = c.integer({ min: 100, max: 599, expected: 'an HTTP status code' });
      if (v !== undefined) codes.push(v);
    }
  }
  if (codes.length > 0 && !retryOn.includes('retriable-status-codes')) retryOn.push('retriable-status-codes');
  let methods: string[] = [...IDEMPOTENT_METHODS];
  if (!f.child('methods').absent) {
    const listed = stringList(f.child('methods'), METHODS);
    // "*" opts into retrying every method, including POST (gRPC calls are POSTs).
    methods = listed.includes('*') ? [] : listed;
  }
  let budget: RetryPolicy['budget'];
  const b = f.child('budget');
  if (opts.allowBudget && !b.absent && b.object({ known: ['percent', 'minConcurrency'] })) {
    const percent = b.child('percent').absent ? 20 : b.child('percent').integer({ min: 1, max: 100, expected: 'the share of active requests that may be retries, in percent' });
    const minConcurrency = b.child('minConcurrency').absent ? 3 : b.child('minConcurrency').integer({ min: 0, max: 1000 });
    if (percent !== undefined && minConcurrency !== undefined) budget = { percent, minConcurrency };
  }
  const hedge = decodeHedge(f, attempts, methods);
  const retryAfter = decodeRetryAfter(f, retryOn, codes);
  if (attempts === undefined) return undefined;
  return { attempts, retryOn, retriableStatusCodes: codes, methods, ...(budget ? { budget } : {}), ...(hedge ? { hedgeOnPerTryTimeout: true } : {}), ...(retryAfter ? { retryAfter } : {}) };
}

/**
 * Hedging sends a second copy of a request while the first is still running,
 * so both may take effect: only idempotent methods may be hedged (RFC 9110
 * §9.2.2). A route is idempotent here when the methods it retries, which are
 * the ones it hedges, are all idempotent — the default `methods`.
 * Whether a per-try timeout (what triggers a hedge) is set is the caller's
 * check (traffic-policy.ts), since timeouts are a section of their own.
 */
function decodeHedge(f: Field, attempts: number | undefined, methods: readonly string[]): boolean {
  const h = f.child('hedgeOnPerTryTimeout');
  if (h.absent || h.boolean() !== true) return false;
  const unsafe = methods.length === 0 ? ['*'] : methods.filter((m) => !(IDEMPOTENT_METHODS as readonly string[]).includes(m));
  if (unsafe.length > 0) {
    h.report('InvalidValue', `hedging sends a second copy of a request while the first still runs, so only idempotent methods may be hedged, and retries.methods includes ${unsafe.map((m) => (m === '*' ? '"*" (every method)' : m)).join(', ')}; limit methods to ${IDEMPOTENT_METHODS.join(', ')} (the default), or turn hedging off`);
    return false;
  }
  if (attempts === 0) {
    h.report('InvalidValue', 'a hedge is an extra attempt, and attempts is 0; set attempts to 1 or more');
    return false;
  }
  return true;
}

/** Envoy honours Retry-After only in seconds and X-RateLimit-Reset as a Unix time (rate_limited_retry_back_off). */
function decodeRetryAfter(f: Field, retryOn: readonly string[], codes: readonly number[]): { maxIntervalMs: number } | undefined {
  const r = f.child('retryAfter');
  if (r.absent || !r.object({ known: ['maxInterval'] })) return undefined;
  const maxIntervalMs = r.child('maxInterval').absent ? 10_000 : r.child('maxInterval').duration({ minMs: 1, maxMs: 300_000 });
  if (codes.length === 0 && !retryOn.includes('5xx')) {
    r.report('InvalidValue', 'retryAfter paces retries of responses that say when to come back (429, 503), but no status code is retried; add retriableStatusCodes: [429]');
    return undefined;
  }
  return maxIntervalMs === undefined ? undefined : { maxIntervalMs };
}

export function decodeCircuitBreaker(f: Field): CircuitBreaker | undefined {
  const keys = ['maxConnections', 'maxPendingRequests', 'maxRequests', 'maxRetries'] as const;
  if (!f.object({ known: keys })) return undefined;
  const out: CircuitBreaker = {};
  for (const k of keys) {
    if (f.child(k).absent) continue;
    const v = f.child(k).integer(COUNT);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export function decodeOutlierDetection(f: Field): OutlierDetection | undefined {
  if (!f.object({ known: ['consecutive5xx', 'consecutiveGatewayErrors', 'interval', 'baseEjectionTime', 'maxEjectionPercent'] })) return undefined;
  const int = (k: string, max: number): number | undefined => (f.child(k).absent ? undefined : f.child(k).integer({ min: 1, max }));
  const dur = (k: string, dflt: number): number | undefined => (f.child(k).absent ? dflt : f.child(k).duration({ minMs: 1, maxMs: DAY_MS }));
  const consecutive5xx = int('consecutive5xx', 1000);
  const consecutiveGatewayErrors = int('consecutiveGatewayErrors', 1000);
  const intervalMs = dur('interval', 10_000);
  const baseEjectionTimeMs = dur('baseEjectionTime', 30_000);
  const maxEjectionPercent = f.child('maxEjectionPercent').absent ? 10 : f.child('maxEjectionPercent').integer({ min: 0, max: 100 });
  if (intervalMs === undefined || baseEjectionTimeMs === undefined || maxEjectionPercent === undefined) return undefined;
  return {
    ...(consecutive5xx !== undefined ? { consecutive5xx } : consecutiveGatewayErrors === undefined ? { consecutive5xx: 5 } : {}),
    ...(consecutiveGatewayErrors !== undefined ? { consecutiveGatewayErrors } : {}),
    intervalMs,
    baseEjectionTimeMs,
    maxEjectionPercent,
  };
}

export function decodeLoadBalancer(f: Field): LoadBalancer | undefined {
  if (!f.object({ known: ['policy', 'choiceCount', 'hashOn', 'minimumRingSize'] })) return undefined;
  const policy = f.child('policy').string({ required: true, oneOf: ['RoundRobin', 'LeastRequest', 'RingHash'] }) as LoadBalancer['policy'] | undefined;
  const only = (key: string, forPolicy: LoadBalancer['policy']): boolean => {
    if (f.child(key).absent) return false;
    if (policy !== undefined && policy !== forPolicy) {
      f.child(key).report('InvalidValue', `${key} applies only to policy ${forPolicy}, not ${policy}; remove it or set policy: ${forPolicy}`);
      return false;
    }
    return true;
  };
  const choiceCount = only('choiceCount', 'LeastRequest') ? f.child('choiceCount').integer({ min: 2, max: 100 }) : undefined;
  const minimumRingSize = only('minimumRingSize', 'RingHash') ? f.child('minimumRingSize').integer({ min: 1, max: 8_388_608 }) : undefined;
  const hashOn = only('hashOn', 'RingHash') ? decodeHashOn(f.child('hashOn')) : undefined;
  if (policy === 'RingHash' && f.child('hashOn').absent) {
    f.child('hashOn').report('Required', 'RingHash needs hashOn: {header: <name>} or {cookie: {name: <name>}}; without it every request hashes differently and nothing is sticky');
  }
  if (policy === undefined) return undefined;
  return {
    policy,
    ...(choiceCount !== undefined ? { choiceCount } : {}),
    ...(hashOn ? { hashOn } : {}),
    ...(minimumRingSize !== undefined ? { minimumRingSize } : {}),
  };
}

function decodeHashOn(f: Field): HashOn | undefined {
  if (!f.object({ known: ['header', 'cookie'] })) return undefined;
  const hasHeader = !f.child('header').absent;
  const hasCookie = !f.child('cookie').absent;
  if (hasHeader === hasCookie) {
    f.report('InvalidValue', 'set exactly one of header or cookie: what identifies a client for sticky sessions');
    return undefined;
  }
  if (hasHeader) {
    const header = f.child('header').string({ pattern: /^[A-Za-z0-9-]+$/, expected: 'a header name such as x-user-id' });
    return header === undefined ? undefined : { header: header.toLowerCase() };
  }
  const c = f.child('cookie');
  if (!c.object({ known: ['name', 'ttl', 'path'] })) return undefined;
  const name = c.child('name').string({ required: true, pattern: /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, expected: 'a cookie name' });
  const ttlMs = c.child('ttl').absent ? undefined : c.child('ttl').duration({ minMs: 0, maxMs: 365 * DAY_MS });
  const path = c.child('path').absent ? undefined : c.child('path').string({ pattern: /^\//, expected: 'a path starting with "/"' });
  if (name === undefined) return undefined;
  return { cookie: { name, ...(ttlMs !== undefined ? { ttlMs } : {}), ...(path !== undefined ? { path } : {}) } };
}

export function decodeLocality(f: Field): Locality | undefined {
  if (!f.object({ known: ['mode'] })) return undefined;
  const mode = f.child('mode').string({ required: true, oneOf: ['PreferSameZone', 'None'] }) as Locality['mode'] | undefined;
  return mode === undefined ? undefined : { mode };
}

function stringList(f: Field, allowed: readonly string[]): string[] {
  const out: string[] = [];
  for (const item of f.list()) {
    const v = item.string({ oneOf: allowed });
    if (v !== undefined && !out.includes(v)) out.push(v);
  }
  return out;
}
