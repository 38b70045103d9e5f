/**
 * TrafficPolicy `healthCheck`: active health checking of a service port's
 * endpoints by every caller's sidecar (HTTP path, gRPC health service, or a
 * TCP connect), decoded with its defaults. How it combines with EndpointSlice
 * readiness and outlier detection: docs/intents.md "Active health checks".
 */
import type { Field } from '../field.ts';
import type { HealthCheck } from '../types.ts';

const HOUR_MS = 3_600_000;

export function decodeHealthCheck(f: Field): HealthCheck | undefined {
  if (!f.object({ known: ['http', 'grpc', 'tcp', 'interval', 'timeout', 'unhealthyThreshold', 'healthyThreshold'] })) return undefined;
  const kinds = (['http', 'grpc', 'tcp'] as const).filter((k) => !f.child(k).absent);
  if (kinds.length !== 1) {
    f.report(kinds.length === 0 ? 'Required' : 'InvalidValue', `set exactly one of http ({path: /healthz}), grpc ({service: ""}) or tcp ({}): how an endpoint is checked${kinds.length > 1 ? `; got ${kinds.join(' and ')}` : ''}`);
    return undefined;
  }
  const check = decodeCheck(f, kinds[0]!);
  const intervalMs = f.child('interval').absent ? 10_000 : f.child('interval').duration({ minMs: 100, maxMs: HOUR_MS, expected: 'how often each endpoint is checked, e.g. 5s (at least 100ms)' });
  const timeoutMs = f.child('timeout').absent ? 1000 : f.child('timeout').duration({ minMs: 1, maxMs: HOUR_MS });
  const threshold = (k: string, dflt: number) => (f.child(k).absent ? dflt : f.child(k).integer({ min: 1, max: 100 }));
  const unhealthyThreshold = threshold('unhealthyThreshold', 2);
  const healthyThreshold = threshold('healthyThreshold', 1);
  if (intervalMs !== undefined && timeoutMs !== undefined && timeoutMs > intervalMs) {
    f.child('timeout').report('InvalidValue', `timeout (${String(f.child('timeout').value)}) is longer than interval (${String(f.child('interval').value ?? '10s')}), so checks would overlap; make timeout shorter than interval`);
    return undefined;
  }
  if (!check || intervalMs === undefined || timeoutMs === undefined || unhealthyThreshold === undefined || healthyThreshold === undefined) return undefined;
  return { check, intervalMs, timeoutMs, unhealthyThreshold, healthyThreshold };
}

function decodeCheck(f: Field, kind: 'http' | 'grpc' | 'tcp'): HealthCheck['check'] | undefined {
  const c = f.child(kind);
  if (kind === 'tcp') return c.object({ known: [] }) ? { tcp: {} } : undefined;
  if (kind === 'grpc') {
    if (!c.object({ known: ['service'] })) return undefined;
    // grpc.health.v1: "" asks about the server as a whole.
    const service = c.child('service').absent ? '' : c.child('service').string({ allowEmpty: true, maxLength: 256 });
    return service === undefined ? undefined : { grpc: { service } };
  }
  if (!c.object({ known: ['path', 'host', 'expectedStatuses'] })) return undefined;
  const path = c.child('path').string({ required: true, pattern: /^\/\S*$/, maxLength: 1024, expected: 'a path starting with "/", such as /healthz' });
  const host = c.child('host').absent ? undefined : c.child('host').string({ pattern: /^[A-Za-z0-9.:[\]-]+$/, expected: 'a host name' });
  const expectedStatuses: { start: number; end: number }[] = [];
  if (c.child('expectedStatuses').absent) expectedStatuses.push({ start: 200, end: 200 });
  for (const s of c.child('expectedStatuses').absent ? [] : c.child('expectedStatuses').list({ minItems: 1 })) {
    const range = statusRange(s);
    if (range) expectedStatuses.push(range);
  }
  if (path === undefined) return undefined;
  return { http: { path, ...(host !== undefined ? { host } : {}), expectedStatuses } };
}

/** 200, or "200-299" (inclusive); Envoy's ranges are half-open, translate/health-check.ts converts. */
function statusRange(f: Field): { start: number; end: number } | undefined {
  if (typeof f.value === 'number') {
    const v = f.integer({ min: 100, max: 599, expected: 'an HTTP status code' });
    return v === undefined ? undefined : { start: v, end: v };
  }
  const text = f.string({ pattern: /^\d{3}-\d{3}$/, expected: 'a status code such as 200, or a range such as "200-299"' });
  if (text === undefined) return undefined;
  const [start, end] = text.split('-').map(Number) as [number, number];
  if (start < 100 || end > 599 || start > end) return f.report('OutOfRange', `"${text}" is not a range of status codes; expected "<from>-<to>" with 100 <= from <= to <= 599`), undefined;
  return { start, end };
}
