/**
 * issue 15: hedging, retry on 429 with Retry-After, and active health checks —
 * what TrafficPolicy makes of them in routes and clusters, and the bad input
 * refused at its file and line. Envoy runs them in
 * test/e2e/authn-resilience.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { encodeResource } from '../cache/resource.ts';
import { brief, buildWith, problemsOf } from '../model/testing.ts';
import type { ProblemReason } from '../model/problem.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { outboundCluster } from './cluster.ts';
import { policy, vhost } from './route-fixtures.ts';
import { deepFreeze, meshWith, unknownEnums } from './testing.ts';

type Json = any; // built config: tests walk it freely

const HEDGED = 'retries: {attempts: 2, hedgeOnPerTryTimeout: true}\ntimeouts: {request: 3s, perTry: 100ms}';

describe('issue 15: hedging and Retry-After on routes', () => {
  it('hedging goes on the retrying (idempotent-methods) route only, with the per-try timeout', () => {
    const vh = vhost(deepFreeze(meshWith(policy(HEDGED)))) as Json;
    expect(vh.routes.map((r: Json) => [r.name, r.route.hedge_policy, r.route.retry_policy?.per_try_timeout])).toEqual([
      ['default/retry', { hedge_on_per_try_timeout: true }, '0.1s'],
      ['default', undefined, undefined],
    ]);
    const rc = { name: 'outbound', virtual_hosts: [vh] };
    expect(() => encodeResource(TypeUrl.Route, rc)).not.toThrow();
  });

  it('proxyless gRPC clients get no hedge policy (gRPC has no xDS hedging)', () => {
    const vh = vhost(meshWith(policy(HEDGED)), { kind: 'proxyless', port: 8080 }) as Json;
    expect(JSON.stringify(vh)).not.toContain('hedge');
  });

  it('retry on 429 honouring Retry-After (seconds) and X-RateLimit-Reset, capped by maxInterval', () => {
    const vh = vhost(meshWith(policy('retries: {attempts: 3, retriableStatusCodes: [429], retryAfter: {maxInterval: 2s}}'))) as Json;
    const p = vh.routes[0].route.retry_policy;
    expect(p.retry_on).toContain('retriable-status-codes');
    expect(p.retriable_status_codes).toEqual([429]);
    expect(p.rate_limited_retry_back_off).toEqual({ reset_headers: [{ name: 'retry-after', format: 'SECONDS' }, { name: 'x-ratelimit-reset', format: 'UNIX_TIMESTAMP' }], max_interval: '2s' });
    const rc = { name: 'outbound', virtual_hosts: [vh] };
    expect(unknownEnums(TypeUrl.Route, rc)).toEqual([]);
  });

  it('a route override may hedge with its own perTry; the retry budget stays on the cluster', () => {
    const model = meshWith(`apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: web-routes, namespace: demo}
spec:
  matches:
  - {name: reports, pathRegex: "/reports/.*", methods: [GET]}
---
` + policy('retries: {attempts: 1, budget: {percent: 25, minConcurrency: 2}}\nroutes:\n- match: {kind: HTTPRouteGroup, name: web-routes}\n  retries: {attempts: 1, hedgeOnPerTryTimeout: true}\n  timeouts: {perTry: 50ms}'));
    const vh = vhost(model) as Json;
    expect(vh.routes.find((r: Json) => r.name === 'policy/web/reports/retry').route.hedge_policy).toEqual({ hedge_on_per_try_timeout: true });
    const port = model.services.get('demo/web')!.ports[0]!;
    const c = outboundCluster({ name: 'web.demo:8080', port, policy: port.clusterPolicy }) as Json;
    expect(c.circuit_breakers.thresholds[0].retry_budget).toEqual({ budget_percent: { value: 25 }, min_retry_concurrency: 2 });
  });
});

describe('issue 15: active health checks on clusters', () => {
  const cluster = (spec: string, portIndex = 0): Json => {
    const model = meshWith(policy(spec));
    const port = model.services.get('demo/web')!.ports[portIndex]!;
    const c = outboundCluster({ name: `web.demo:${port.port}`, port, policy: port.clusterPolicy, tls: { peerIdentities: [], sni: 'web.demo.svc.cluster.local' } });
    expect(() => encodeResource(TypeUrl.Cluster, c)).not.toThrow();
    expect(unknownEnums(TypeUrl.Cluster, c)).toEqual([]);
    return c;
  };

  it('http: path, inclusive status ranges made half-open, the service host, checks even while idle; removals from the slice win', () => {
    const c = cluster('healthCheck: {http: {path: /healthz, expectedStatuses: [200, "204-206"]}, interval: 2s, timeout: 500ms, unhealthyThreshold: 3}');
    expect(c.health_checks).toEqual([{
      timeout: '0.5s', interval: '2s', no_traffic_interval: '2s', unhealthy_threshold: 3, healthy_threshold: 1,
      http_health_check: { path: '/healthz', host: 'web.demo.svc.cluster.local', expected_statuses: [{ start: 200, end: 201 }, { start: 204, end: 207 }] },
    }]);
    expect(c.ignore_health_on_host_removal).toBe(true);
  });

  it('grpc on the gRPC port, tcp; defaults 10s / 1s / 2 / 1', () => {
    expect(cluster('healthCheck: {grpc: {service: echo}}', 1).health_checks[0]).toEqual({
      timeout: '1s', interval: '10s', no_traffic_interval: '10s', unhealthy_threshold: 2, healthy_threshold: 1,
      grpc_health_check: { service_name: 'echo', authority: 'web.demo.svc.cluster.local' },
    });
    expect(cluster('healthCheck: {tcp: {}}').health_checks[0].tcp_health_check).toEqual({});
  });

  it('a service-wide grpc check leaves the HTTP/1 port unchecked, with a warning (Envoy would NACK it there)', () => {
    expect(cluster('healthCheck: {grpc: {}}', 0).health_checks).toBeUndefined();
    expect(cluster('healthCheck: {grpc: {}}', 1).health_checks).toHaveLength(1);
    expect(problemsOf(buildWith(policy('healthCheck: {grpc: {}}'))).map(brief)).toContainEqual(expect.objectContaining({ severity: 'warning', reason: 'Ignored', field: 'spec.healthCheck.grpc' }));
  });

  it('with outlier detection too: an ejected host is not brought back by a passing check', () => {
    const c = cluster('healthCheck: {tcp: {}}\noutlierDetection: {consecutive5xx: 3}');
    expect(c.outlier_detection.successful_active_health_check_uneject_host).toBe(false);
    expect(cluster('outlierDetection: {consecutive5xx: 3}').outlier_detection.successful_active_health_check_uneject_host).toBeUndefined();
  });
});

describe('issue 15: bad input for hedging, Retry-After and health checks', () => {
  const cases: { name: string; spec: string; field: string; reason: ProblemReason; line: number }[] = [
    { name: 'hedging a route that retries POST', spec: 'retries:\n  methods: [GET, POST]\n  hedgeOnPerTryTimeout: true\ntimeouts: {perTry: 1s}', field: 'spec.retries.hedgeOnPerTryTimeout', reason: 'InvalidValue', line: 8 },
    { name: 'hedging every method ("*")', spec: 'retries: {methods: ["*"], hedgeOnPerTryTimeout: true}\ntimeouts: {perTry: 1s}', field: 'spec.retries.hedgeOnPerTryTimeout', reason: 'InvalidValue', line: 6 },
    { name: 'hedging without a per-try timeout', spec: 'retries:\n  hedgeOnPerTryTimeout: true', field: 'spec.retries.hedgeOnPerTryTimeout', reason: 'Required', line: 7 },
    { name: 'hedging with no attempts', spec: 'retries: {attempts: 0, hedgeOnPerTryTimeout: true}\ntimeouts: {perTry: 1s}', field: 'spec.retries.hedgeOnPerTryTimeout', reason: 'InvalidValue', line: 6 },
    { name: 'Retry-After with no status code retried', spec: 'retries:\n  retryOn: [reset]\n  retryAfter: {maxInterval: 5s}', field: 'spec.retries.retryAfter', reason: 'InvalidValue', line: 8 },
    { name: 'health check interval zero', spec: 'healthCheck:\n  tcp: {}\n  interval: 0s', field: 'spec.healthCheck.interval', reason: 'OutOfRange', line: 8 },
    { name: 'health check with two kinds', spec: 'healthCheck:\n  tcp: {}\n  http: {path: /h}', field: 'spec.healthCheck', reason: 'InvalidValue', line: 6 },
    { name: 'health check with no kind', spec: 'healthCheck:\n  interval: 5s', field: 'spec.healthCheck', reason: 'Required', line: 6 },
    { name: 'health check path without a slash', spec: 'healthCheck:\n  http: {path: healthz}', field: 'spec.healthCheck.http.path', reason: 'InvalidValue', line: 7 },
    { name: 'health check status range upside down', spec: 'healthCheck:\n  http: {path: /h, expectedStatuses: ["299-200"]}', field: 'spec.healthCheck.http.expectedStatuses[0]', reason: 'OutOfRange', line: 7 },
    { name: 'health check timeout longer than its interval', spec: 'healthCheck:\n  tcp: {}\n  interval: 1s\n  timeout: 2s', field: 'spec.healthCheck.timeout', reason: 'InvalidValue', line: 9 },
    { name: 'a grpc health check on an HTTP/1 port', spec: 'healthCheck:\n  grpc: {}', field: 'spec.healthCheck.grpc', reason: 'InvalidValue', line: 7 },
    { name: 'health check on a route', spec: 'routes:\n- match: {kind: HTTPRouteGroup, name: g}\n  timeouts: {request: 1s}\n  healthCheck: {tcp: {}}', field: 'spec.routes[0].healthCheck', reason: 'InvalidValue', line: 9 },
  ];
  it.each(cases)('$name', ({ name, spec, field, reason, line }) => {
    const result = buildWith(name.includes('HTTP/1 port') ? policy(spec, 'http') : policy(spec));
    const problems = problemsOf(result).filter((p) => p.kind === 'TrafficPolicy');
    expect(problems.map(brief)).toContainEqual({ severity: 'error', reason, kind: 'TrafficPolicy', namespace: 'demo', name: problems[0]!.name, field, file: 'intents.yaml', line });
    expect(result.model.policies.size).toBe(0);
  });
});
