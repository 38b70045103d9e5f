/**
 * The `rateLimit` section of a TrafficPolicy (issue 15): a local token bucket
 * at each sidecar, a global limit counted mesh-wide by the rate limit service,
 * and a cap on concurrent inbound connections. Documented in docs/intents.md
 * ("Rate limits"); keep the two in step.
 */
import type { Field } from '../field.ts';
import type { GlobalRateLimit, LimitSide, LimitUnit, LocalRateLimit, RateLimit } from '../types.ts';

/** As decoded: a global limit's descriptor is given when the policy is resolved (it names the policy). */
export type RateLimitSpec = Omit<RateLimit, 'global'> & { global?: Omit<GlobalRateLimit, 'descriptor'> };

/** envoyproxy/ratelimit's units (its config's `unit`); a local bucket refills at most per hour. */
const GLOBAL_UNITS: readonly LimitUnit[] = ['second', 'minute', 'hour', 'day'];
const LOCAL_UNITS: readonly LocalRateLimit['unit'][] = ['second', 'minute', 'hour'];
const SIDES: readonly LimitSide[] = ['Server', 'Client'];
const MAX_REQUESTS = 1_000_000_000;

export function decodeRateLimit(f: Field, opts: { route: boolean }): RateLimitSpec | undefined {
  if (!f.object({ known: ['local', 'global', 'connections'] })) return undefined;
  if (opts.route && !f.child('connections').absent) {
    f.child('connections').report('InvalidValue', 'a connection limit applies to a whole service port, not to a route; move it up to spec.rateLimit.connections');
    return undefined;
  }
  const out: RateLimitSpec = {};
  let ok = true;
  if (!f.child('local').absent) {
    const local = decodeLocal(f.child('local'));
    if (local) out.local = local;
    else ok = false;
  }
  if (!f.child('global').absent) {
    const global = decodeGlobal(f.child('global'));
    if (global) out.global = global;
    else ok = false;
  }
  const c = f.child('connections');
  if (!c.absent && c.object({ known: ['max'] })) {
    const max = c.child('max').integer({ required: true, min: 1, max: MAX_REQUESTS, expected: 'the most concurrent connections each instance of the service accepts (at least 1)' });
    if (max !== undefined) out.connections = { max };
    else ok = false;
  } else if (!c.absent) ok = false;
  if (f.child('local').absent && f.child('global').absent && c.absent) {
    f.report('Required', 'a rate limit needs local, global or connections (or several)');
    ok = false;
  }
  return ok ? out : undefined;
}

function requests(f: Field): number | undefined {
  // Zero would refuse every request: a limit that is an outage. Say so.
  if (f.value === 0) return f.report('OutOfRange', '0 is out of range: a rate of zero refuses every request; expected at least 1 (remove the limit, or use a fault abort at 100% to refuse everything on purpose)'), undefined;
  return f.integer({ required: true, min: 1, max: MAX_REQUESTS, expected: 'requests per unit, at least 1' });
}

function side(f: Field): LimitSide | undefined {
  return f.absent ? 'Server' : (f.string({ oneOf: SIDES }) as LimitSide | undefined);
}

function decodeLocal(f: Field): LocalRateLimit | undefined {
  if (!f.object({ known: ['requests', 'unit', 'burst', 'at', 'perCaller'] })) return undefined;
  const n = requests(f.child('requests'));
  const unit = f.child('unit').string({ required: true, oneOf: LOCAL_UNITS }) as LocalRateLimit['unit'] | undefined;
  const burst = f.child('burst').absent ? n : f.child('burst').integer({ min: 1, max: MAX_REQUESTS, expected: 'the bucket size: requests that may come at once (default: requests)' });
  const at = side(f.child('at'));
  const perCaller = f.child('perCaller').absent ? false : f.child('perCaller').boolean();
  if (perCaller && at === 'Client') {
    f.child('perCaller').report('InvalidValue', 'a Client-side bucket is already per caller (each calling pod has its own); perCaller applies at: Server');
    return undefined;
  }
  if (n !== undefined && burst !== undefined && burst < n) {
    f.child('burst').report('OutOfRange', `burst ${burst} is smaller than requests ${n}: the bucket could never hold a unit's refill; make burst at least ${n}`);
    return undefined;
  }
  if (n === undefined || unit === undefined || burst === undefined || at === undefined || perCaller === undefined) return undefined;
  return { requests: n, unit, burst, at, ...(perCaller ? { perCaller } : {}) };
}

function decodeGlobal(f: Field): Omit<GlobalRateLimit, 'descriptor'> | undefined {
  if (!f.object({ known: ['requests', 'unit', 'at'] })) return undefined;
  const n = requests(f.child('requests'));
  const unit = f.child('unit').string({ required: true, oneOf: GLOBAL_UNITS }) as LimitUnit | undefined;
  const at = side(f.child('at'));
  if (n === undefined || unit === undefined || at === undefined) return undefined;
  return { requests: n, unit, at };
}
