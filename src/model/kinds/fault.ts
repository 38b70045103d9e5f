/**
 * The `fault` section of a TrafficPolicy (issue 15): delays and aborts
 * injected by callers' sidecars into a share of the requests to a service
 * (or to some of its routes), for chaos drills. Documented in
 * docs/intents.md ("Fault injection"); keep the two in step.
 */
import type { Field } from '../field.ts';
import { describe } from '../field.ts';
import type { Fault } from '../types.ts';

const DAY_MS = 86_400_000;
/** HTTP header names (RFC 9110 token); `:authority` and other pseudo-headers are not matched here. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A percentage of requests, 0 to 100, decimals allowed down to 0.0001
 * (Envoy counts per million). 0 is allowed: it keeps a drill written but off.
 */
export function decodePercent(f: Field): number | undefined {
  const v = f.value;
  if (f.absent) return f.report('Required', 'percent is required: the share of requests, 0 to 100 (e.g. 5 or 0.5)'), undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) return f.report('InvalidType', `expected a percentage from 0 to 100 (e.g. 5 or 0.5), got ${describe(v)}`), undefined;
  if (v < 0 || v > 100) return f.report('OutOfRange', `${v} is out of range; expected a percentage from 0 to 100`), undefined;
  if (Math.abs(v * 10_000 - Math.round(v * 10_000)) > 1e-6) {
    return f.report('InvalidValue', `${v} is finer than Envoy counts (per million); round it to at most 4 decimals`), undefined;
  }
  return v;
}

export function decodeFault(f: Field): Fault | undefined {
  if (!f.object({ known: ['delay', 'abort', 'headers'] })) return undefined;
  let ok = true;
  let delay: Fault['delay'];
  let abort: Fault['abort'];
  const d = f.child('delay');
  if (!d.absent && d.object({ known: ['percent', 'duration'] })) {
    const percent = decodePercent(d.child('percent'));
    const delayMs = d.child('duration').duration({ required: true, minMs: 1, maxMs: DAY_MS });
    if (percent !== undefined && delayMs !== undefined) delay = { percent, delayMs };
    else ok = false;
  } else if (!d.absent) ok = false;
  const a = f.child('abort');
  if (!a.absent && a.object({ known: ['percent', 'httpStatus', 'grpcStatus'] })) {
    const percent = decodePercent(a.child('percent'));
    const hasHttp = !a.child('httpStatus').absent;
    const hasGrpc = !a.child('grpcStatus').absent;
    if (hasHttp === hasGrpc) {
      a.report('InvalidValue', 'set exactly one of httpStatus (200-599, e.g. 503) or grpcStatus (1-16, e.g. 14 UNAVAILABLE): what an aborted request gets');
      ok = false;
    } else if (hasHttp) {
      // Envoy's fault filter accepts [200, 600).
      const httpStatus = a.child('httpStatus').integer({ min: 200, max: 599, expected: 'an HTTP status code from 200 to 599, e.g. 503' });
      if (percent !== undefined && httpStatus !== undefined) abort = { percent, httpStatus };
      else ok = false;
    } else {
      // 0 is OK, which is not a fault; above 16 gRPC defines no code.
      const grpcStatus = a.child('grpcStatus').integer({ min: 1, max: 16, expected: 'a gRPC status code from 1 to 16, e.g. 14 (UNAVAILABLE)' });
      if (percent !== undefined && grpcStatus !== undefined) abort = { percent, grpcStatus };
      else ok = false;
    }
  } else if (!a.absent) ok = false;
  if (d.absent && a.absent) {
    f.report('Required', 'a fault needs delay ({percent, duration}) or abort ({percent, httpStatus | grpcStatus}), or both');
    ok = false;
  }
  const headers: Fault['headers'][number][] = [];
  if (!f.child('headers').absent) {
    const map = f.child('headers').stringMap({ keyPattern: HEADER_NAME, keyExpected: 'an HTTP header name such as x-chaos', expected: 'a mapping of header names to exact values, e.g. {x-chaos: "on"}' });
    if (map === undefined) ok = false;
    else for (const [name, value] of Object.entries(map)) headers.push({ name: name.toLowerCase(), value });
  }
  if (!ok) return undefined;
  return { ...(delay ? { delay } : {}), ...(abort ? { abort } : {}), headers: headers.toSorted((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)) };
}
