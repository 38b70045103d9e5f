/**
 * Issue 15 bad input: faults and rate limits in a TrafficPolicy, and the rate
 * limit service in the MeshConfig. Each case is an intent as an operator
 * writes it; the problem must name the file, line, object and field, and the
 * intent is left out (the last good version, if any, stays served: model
 * last-good.ts, tested for every kind there).
 */
import { describe, expect, it } from 'vitest';
import type { ProblemReason } from '../problem.ts';
import { brief, buildWith, problemsOf } from '../testing.ts';

const RLS_MESH = 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: trellis}\nspec:\n  rateLimitService: {address: "ratelimit.infra:8081"}\n';

const policy = (spec: string) => `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata:
  name: web
  namespace: demo
spec:
  targetRef: {kind: Service, name: web}
${spec}`;

interface Case {
  name: string;
  spec: string;
  field: string;
  reason: ProblemReason;
  line: number;
  mentions?: string;
  /** Build with a MeshConfig that names a rate limit service. */
  rls?: boolean;
}

const cases: Case[] = [
  { name: 'abort percentage over 100', spec: '  fault:\n    abort: {percent: 120, httpStatus: 503}\n', field: 'spec.fault.abort.percent', reason: 'OutOfRange', line: 9, mentions: '0 to 100' },
  { name: 'negative delay percentage', spec: '  fault:\n    delay:\n      percent: -1\n      duration: 1s\n', field: 'spec.fault.delay.percent', reason: 'OutOfRange', line: 10 },
  { name: 'percentage as a string', spec: '  fault:\n    abort: {percent: "5%", httpStatus: 503}\n', field: 'spec.fault.abort.percent', reason: 'InvalidType', line: 9 },
  { name: 'percentage finer than Envoy counts', spec: '  fault:\n    abort: {percent: 0.00001, httpStatus: 503}\n', field: 'spec.fault.abort.percent', reason: 'InvalidValue', line: 9, mentions: 'per million' },
  { name: 'abort HTTP status out of range', spec: '  fault:\n    abort: {percent: 5, httpStatus: 700}\n', field: 'spec.fault.abort.httpStatus', reason: 'OutOfRange', line: 9 },
  { name: 'abort gRPC status out of range (0 is OK, not a fault)', spec: '  fault:\n    abort: {percent: 5, grpcStatus: 0}\n', field: 'spec.fault.abort.grpcStatus', reason: 'OutOfRange', line: 9 },
  { name: 'abort with both an HTTP and a gRPC status', spec: '  fault:\n    abort: {percent: 5, httpStatus: 503, grpcStatus: 14}\n', field: 'spec.fault.abort', reason: 'InvalidValue', line: 9, mentions: 'exactly one' },
  { name: 'delay without a unit', spec: '  fault:\n    delay: {percent: 5, duration: 2}\n', field: 'spec.fault.delay.duration', reason: 'InvalidDuration', line: 9 },
  { name: 'a fault with neither delay nor abort', spec: '  fault:\n    headers: {x-chaos: "on"}\n', field: 'spec.fault', reason: 'Required', line: 8 },
  { name: 'fault header value that is not a string', spec: '  fault:\n    abort: {percent: 5, httpStatus: 503}\n    headers: {x-chaos: true}\n', field: 'spec.fault.headers.x-chaos', reason: 'InvalidType', line: 10, mentions: 'quote it' },
  { name: 'a rate of zero', spec: '  rateLimit:\n    local: {requests: 0, unit: second}\n', field: 'spec.rateLimit.local.requests', reason: 'OutOfRange', line: 9, mentions: 'zero' },
  { name: 'a bad unit', spec: '  rateLimit:\n    local: {requests: 10, unit: seconds}\n', field: 'spec.rateLimit.local.unit', reason: 'InvalidValue', line: 9, mentions: '"second"' },
  { name: 'a local limit per day (a bucket refills at most hourly)', spec: '  rateLimit:\n    local: {requests: 10, unit: day}\n', field: 'spec.rateLimit.local.unit', reason: 'InvalidValue', line: 9 },
  { name: 'burst smaller than the rate', spec: '  rateLimit:\n    local: {requests: 10, unit: second, burst: 5}\n', field: 'spec.rateLimit.local.burst', reason: 'OutOfRange', line: 9 },
  { name: 'per caller on the client side (already per caller there)', spec: '  rateLimit:\n    local: {requests: 10, unit: second, at: Client, perCaller: true}\n', field: 'spec.rateLimit.local.perCaller', reason: 'InvalidValue', line: 9, mentions: 'at: Server' },
  { name: 'limit on an unknown side', spec: '  rateLimit:\n    local: {requests: 10, unit: second, at: Caller}\n', field: 'spec.rateLimit.local.at', reason: 'InvalidValue', line: 9, mentions: 'Client' },
  { name: 'a global limit without a configured rate limit service', spec: '  rateLimit:\n    global: {requests: 100, unit: minute}\n', field: 'spec.rateLimit.global', reason: 'RefNotFound', line: 9, mentions: 'rateLimitService' },
  { name: 'a global limit with a zero rate', spec: '  rateLimit:\n    global: {requests: 0, unit: minute}\n', field: 'spec.rateLimit.global.requests', reason: 'OutOfRange', line: 9, rls: true },
  { name: 'a global limit with a bad unit', spec: '  rateLimit:\n    global: {requests: 5, unit: fortnight}\n', field: 'spec.rateLimit.global.unit', reason: 'InvalidValue', line: 9, rls: true },
  { name: 'zero connections', spec: '  rateLimit:\n    connections: {max: 0}\n', field: 'spec.rateLimit.connections.max', reason: 'OutOfRange', line: 9 },
  { name: 'an empty rate limit', spec: '  rateLimit: {}\n', field: 'spec.rateLimit', reason: 'Required', line: 8 },
  {
    name: 'a connection limit on a route',
    spec: '  routes:\n  - match: {kind: HTTPRouteGroup, name: web-routes}\n    rateLimit:\n      connections: {max: 5}\n',
    field: 'spec.routes[0].rateLimit.connections', reason: 'InvalidValue', line: 11, mentions: 'whole service port',
  },
  {
    name: 'a route\'s global limit without a rate limit service',
    spec: '  routes:\n  - match: {kind: HTTPRouteGroup, name: web-routes}\n    rateLimit:\n      global: {requests: 5, unit: second}\n',
    field: 'spec.routes[0].rateLimit.global', reason: 'RefNotFound', line: 11,
  },
];

const GROUP = 'apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: web-routes, namespace: demo}\nspec:\n  matches:\n  - {name: all, pathRegex: "/.*"}\n---\n';

describe('issue 15: bad faults and rate limits are named at file, line, object and field', () => {
  it.each(cases)('$name', ({ spec, field, reason, line, mentions, rls }) => {
    const result = buildWith(policy(spec), { 'group.yaml': GROUP, ...(rls ? { 'mesh.yaml': RLS_MESH } : {}) });
    const problems = problemsOf(result).filter((p) => p.file === 'intents.yaml');
    expect(problems.map(brief)).toContainEqual({ severity: 'error', reason, kind: 'TrafficPolicy', namespace: 'demo', name: 'web', field, file: 'intents.yaml', line });
    if (mentions) expect(problems.find((p) => p.field === field)?.message).toContain(mentions);
    // Rejected: the policy is not in the model.
    expect(result.model.policies.size).toBe(0);
  });

  it('a bad rate limit service address in the MeshConfig', () => {
    const result = buildWith('', { 'mesh.yaml': 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: trellis}\nspec:\n  rateLimitService:\n    address: ratelimit\n' });
    expect(problemsOf(result).map(brief)).toContainEqual({ severity: 'error', reason: 'InvalidValue', kind: 'MeshConfig', namespace: '', name: 'trellis', field: 'spec.rateLimitService.address', file: 'mesh.yaml', line: 6 });
    expect(result.model.mesh.rateLimitService).toBeUndefined();
  });
});

describe('issue 15: faults and rate limits as the model resolves them', () => {
  it('accepts a fault and every kind of limit, with defaults, and names each global counter after its policy (and route)', () => {
    const result = buildWith(
      policy(
        '  fault:\n    delay: {percent: 0.5, duration: 2s}\n    abort: {percent: 5, grpcStatus: 14}\n    headers: {X-Chaos: "on"}\n' +
          '  rateLimit:\n    local: {requests: 100, unit: second}\n    global: {requests: 1000, unit: minute, at: Client}\n    connections: {max: 50}\n' +
          '  routes:\n  - match: {kind: HTTPRouteGroup, name: web-routes}\n    rateLimit:\n      global: {requests: 10, unit: second}\n',
      ),
      { 'group.yaml': GROUP, 'mesh.yaml': RLS_MESH },
    );
    expect(problemsOf(result)).toEqual([]);
    const p = result.model.policies.get('demo/web')!;
    expect(p.fault).toEqual({ delay: { percent: 0.5, delayMs: 2000 }, abort: { percent: 5, grpcStatus: 14 }, headers: [{ name: 'x-chaos', value: 'on' }] });
    expect(p.rateLimit).toEqual({
      local: { requests: 100, unit: 'second', burst: 100, at: 'Server' },
      global: { requests: 1000, unit: 'minute', at: 'Client', descriptor: 'demo/web' },
      connections: { max: 50 },
    });
    expect(p.routes[0]!.rateLimit).toEqual({ global: { requests: 10, unit: 'second', at: 'Server', descriptor: 'demo/web#0' } });
    expect(result.model.mesh.rateLimitService).toEqual({ host: 'ratelimit.infra', port: 8081, domain: 'trellis', failClosed: false, timeoutMs: 100 });
    // The server's limits travel with the workloads that serve the port (their proxies' signature).
    const served = result.model.workloads.get('demo/web-v1')!.servedPorts.find((sp) => sp.service === 'demo/web')!;
    expect(served.limits).toMatchObject({ local: { requests: 100 }, connections: { max: 50 }, routes: [{ global: { descriptor: 'demo/web#0' }, from: 'demo/web' }] });
    expect(served.limits!.global).toBeUndefined(); // at: Client
  });
});
