/**
 * Issue 15 builders: faults and rate limits as a sidecar's resources carry
 * them — the filter chains (http-filters.ts order), the virtual hosts' and
 * routes' per-filter config, the server's inbound limits, the rate limit
 * cluster, and the rate limit service's own config. Every output is encoded
 * with the Envoy protos (encodeAll) and checked for unknown enum values; the
 * end-to-end test (test/e2e/limits.test.ts) shows a real Envoy applying them.
 */
import { describe, expect, it } from 'vitest';
import type { MeshModel } from '../model/types.ts';
import { FILTER_ORDER, httpFilters } from './http-filters.ts';
import { faultConfig, localLimitConfig } from './limits.ts';
import { proxyContext, type NodeLike } from './proxy.ts';
import { rateLimitServiceConfig } from './ratelimit-service.ts';
import { NODE_METADATA } from './sidecar.ts';
import { deepFreeze, encodeAll, meshWith, resourcesOf, unknownEnums } from './testing.ts';
import { Translator, type ProxyResources } from './translate.ts';

type Json = Record<string, any>; // resources as plain JSON: tests walk them freely

const RLS = 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: trellis}\nspec:\n  rateLimitService: {address: "10.1.2.3:8081", domain: shop, failureMode: Deny, timeout: 50ms}\n';
const GROUP = 'apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: web-routes, namespace: demo}\nspec:\n  matches:\n  - {name: reports, pathRegex: /reports/.*}\n---\n';
const policy = (spec: string) => `${GROUP}apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web, namespace: demo}
spec:
  targetRef: {kind: Service, name: web}
${spec}`;

const envoy = (id: string, md: Record<string, string> = {}): NodeLike => ({ id, user_agent_name: 'envoy', metadata: md });
const translate = (model: MeshModel, node: NodeLike): ProxyResources => {
  const out = new Translator().translate(deepFreeze(model), proxyContext(node, model));
  encodeAll(out); // throws on anything the Envoy protos reject
  for (const [typeUrl, r] of resourcesOf(out)) expect(unknownEnums(typeUrl, r)).toEqual([]);
  return out;
};
const hcmOf = (l: Json, chain = 0): Json => l.filter_chains[chain].filters.at(-1).typed_config;
const filterNames = (hcm: Json): string[] => hcm.http_filters.map((f: Json) => f.name);
const webVhost = (out: ProxyResources): Json => (out.routes[0]!.virtual_hosts as Json[]).find((v) => v.name.includes('web.demo'))!;

describe('http-filters: one order for every chain', () => {
  it('inbound: jwt_authn, rbac, local_ratelimit, ratelimit, router; outbound: fault, local_ratelimit, ratelimit, router', () => {
    expect(FILTER_ORDER.inbound).toEqual(['jwt_authn', 'rbac', 'claim_rbac', 'local_ratelimit', 'ratelimit']);
    expect(FILTER_ORDER.outbound).toEqual(['grpc_stats', 'fault', 'local_ratelimit', 'ratelimit']);
    const f = (name: string) => ({ name });
    // Given in any order, written in the direction's.
    expect(httpFilters('inbound', { ratelimit: f('g'), rbac: f('r'), local_ratelimit: f('l') }).map((x) => x.name)).toEqual(['r', 'l', 'g', 'envoy.filters.http.router']);
    expect(() => httpFilters('inbound', { fault: f('x') })).toThrow(/no fault filter on the inbound side/);
  });
});

describe('faults and limits at a caller (outbound)', () => {
  it('no fault or Client-side limit: the chain is grpc_stats (golden metrics) and the router, as before', () => {
    const out = translate(meshWith(policy('  rateLimit:\n    local: {requests: 5, unit: second}\n')), envoy('client', { [NODE_METADATA.workload]: 'demo/web-v1' }));
    const outbound = out.listeners.find((l) => l.name === 'outbound')!;
    expect(filterNames(hcmOf(outbound))).toEqual(['envoy.filters.http.grpc_stats', 'envoy.filters.http.router']);
    expect(webVhost(out).typed_per_filter_config).toBeUndefined();
  });

  it('a fault and Client-side limits: the filters in order, the port\'s config on its virtual host, a route section\'s on its route', () => {
    const model = meshWith(
      policy(
        '  fault:\n    abort: {percent: 12.5, httpStatus: 503}\n    headers: {x-chaos: "on"}\n' +
          '  rateLimit:\n    local: {requests: 10, unit: second, burst: 20, at: Client}\n    global: {requests: 100, unit: minute, at: Client}\n' +
          '  routes:\n  - match: {kind: HTTPRouteGroup, name: web-routes}\n    fault:\n      delay: {percent: 100, duration: 1.5s}\n',
      ),
      { 'mesh.yaml': RLS },
    );
    const out = translate(model, envoy('client'));
    const outbound = out.listeners.find((l) => l.name === 'outbound')!;
    expect(filterNames(hcmOf(outbound))).toEqual(['envoy.filters.http.grpc_stats', 'envoy.filters.http.fault', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.ratelimit', 'envoy.filters.http.router']);
    expect(hcmOf(outbound).http_filters[3].typed_config).toMatchObject({
      domain: 'shop', failure_mode_deny: true, timeout: '0.05s', enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
      rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: 'trellis_ratelimit' } }, transport_api_version: 'V3' },
    });
    const vh = webVhost(out);
    expect(vh.typed_per_filter_config['envoy.filters.http.fault']).toMatchObject({
      abort: { http_status: 503, percentage: { numerator: 125_000, denominator: 'MILLION' } },
      headers: [{ name: 'x-chaos', string_match: { exact: 'on' } }],
    });
    expect(vh.typed_per_filter_config['envoy.filters.http.local_ratelimit']).toMatchObject({ token_bucket: { max_tokens: 20, tokens_per_fill: 10, fill_interval: '1s' } });
    expect(vh.rate_limits).toEqual([{ actions: [{ generic_key: { descriptor_key: 'trellis_policy', descriptor_value: 'demo/web' } }] }]);
    const section = (vh.routes as Json[]).find((r) => r.name === 'policy/web/reports')!;
    expect(section.typed_per_filter_config['envoy.filters.http.fault']).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
      delay: { fixed_delay: '1.5s', percentage: { numerator: 1_000_000, denominator: 'MILLION' } },
    });
    expect((vh.routes as Json[]).find((r) => r.name === 'default')!.typed_per_filter_config).toBeUndefined();
    expect(out.clusters.find((c) => c.name === 'trellis_ratelimit')).toMatchObject({ type: 'STRICT_DNS', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.1.2.3', port_value: 8081 } } } }] }] } });
  });

  it('an HTTPRoute on the port replaces its splits, not its TrafficPolicy\'s fault and Client-side limits (they were dropped)', () => {
    const route = 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: demo}\nspec:\n  parentRefs: [{group: "", kind: Service, name: web, port: 8080}]\n  rules:\n  - backendRefs: [{name: web-v1, port: 8080, weight: 90}, {name: web-v2, port: 8080, weight: 10}]\n---\n';
    const model = meshWith(route + policy('  fault:\n    abort: {percent: 50, httpStatus: 503}\n  rateLimit:\n    local: {requests: 10, unit: second, at: Client}\n    global: {requests: 100, unit: minute, at: Client}\n'), { 'mesh.yaml': RLS });
    const out = translate(model, envoy('client'));
    const vh = webVhost(out);
    expect((vh.routes as Json[]).map((r) => r.name)).toEqual(['httproute/demo/web/0/0']);
    expect(vh.typed_per_filter_config['envoy.filters.http.fault']).toMatchObject({ abort: { http_status: 503, percentage: { numerator: 500_000, denominator: 'MILLION' } } });
    expect(vh.typed_per_filter_config['envoy.filters.http.local_ratelimit']).toMatchObject({ token_bucket: { max_tokens: 10, tokens_per_fill: 10, fill_interval: '1s' } });
    expect(vh.rate_limits).toEqual([{ actions: [{ generic_key: { descriptor_key: 'trellis_policy', descriptor_value: 'demo/web' } }] }]);
  });

  it('proxyless gRPC clients get neither faults nor limits (they run no such filter)', () => {
    const model = meshWith(policy('  fault:\n    abort: {percent: 50, grpcStatus: 14}\n'));
    const out = new Translator().translate(model, proxyContext({ id: 'g', user_agent_name: 'grpc-node-js' }, model));
    expect(webVhost(out).typed_per_filter_config).toBeUndefined();
  });

  it('a gRPC abort, and the per-million arithmetic', () => {
    expect(faultConfig({ abort: { percent: 0.0001, grpcStatus: 14 }, headers: [] })).toEqual({ abort: { grpc_status: 14, percentage: { numerator: 1, denominator: 'MILLION' } } });
    expect(localLimitConfig({ requests: 60, unit: 'minute', burst: 60, at: 'Server' }, 'inbound')).toMatchObject({
      stat_prefix: 'inbound_local_ratelimit',
      token_bucket: { max_tokens: 60, tokens_per_fill: 60, fill_interval: '60s' },
      response_headers_to_add: [{ header: { key: 'x-trellis-ratelimited', value: 'local' } }],
    });
  });
});

describe('limits at the server (inbound)', () => {
  const model = () =>
    meshWith(
      policy(
        '  rateLimit:\n    local: {requests: 5, unit: second}\n    global: {requests: 50, unit: second}\n    connections: {max: 64}\n' +
          '  routes:\n  - match: {kind: HTTPRouteGroup, name: web-routes}\n    rateLimit:\n      local: {requests: 1, unit: minute}\n',
      ),
      { 'mesh.yaml': RLS },
    );

  it('explicit: the connection cap before the HCM; rbac-less chain local then global; the port\'s bucket on the virtual host, a section\'s on its route', () => {
    const out = translate(model(), envoy('demo/web-v1'));
    const inbound = out.listeners.find((l) => l.name === 'inbound:8080')! as Json;
    expect(inbound.filter_chains[0].filters[0]).toMatchObject({ name: 'envoy.filters.network.connection_limit', typed_config: { max_connections: 64, stat_prefix: 'connection_limit_inbound_8080' } });
    const hcm = hcmOf(inbound);
    expect(filterNames(hcm)).toEqual(['envoy.filters.http.local_ratelimit', 'envoy.filters.http.ratelimit', 'envoy.filters.http.router']);
    const vh = hcm.route_config.virtual_hosts[0];
    expect(vh.typed_per_filter_config['envoy.filters.http.local_ratelimit'].token_bucket).toEqual({ max_tokens: 5, tokens_per_fill: 5, fill_interval: '1s' });
    expect(vh.rate_limits[0].actions[0].generic_key.descriptor_value).toBe('demo/web');
    expect(vh.routes.map((r: Json) => r.name)).toEqual(['policy/web/reports', 'default']);
    expect(vh.routes[0].typed_per_filter_config['envoy.filters.http.local_ratelimit'].token_bucket).toEqual({ max_tokens: 1, tokens_per_fill: 1, fill_interval: '60s' });
    expect(out.clusters.some((c) => c.name === 'trellis_ratelimit')).toBe(true);
  });

  it('per caller: one bucket per mesh identity, picked by the verified URI SAN in x-forwarded-client-cert, in a stage the global filter does not read', () => {
    const m = meshWith(policy('  rateLimit:\n    local: {requests: 2, unit: second, perCaller: true}\n    global: {requests: 50, unit: second}\n'), { 'mesh.yaml': RLS });
    const vh = hcmOf(translate(m, envoy('demo/web-v1')).listeners.find((l) => l.name === 'inbound:8080')! as Json).route_config.virtual_hosts[0];
    const local = vh.typed_per_filter_config['envoy.filters.http.local_ratelimit'];
    expect(local).toMatchObject({ stage: 1, always_consume_default_token_bucket: false });
    expect(local.descriptors.map((d: Json) => d.entries[0].value)).toEqual(['spiffe://cluster.local/ns/demo/sa/client', 'spiffe://cluster.local/ns/demo/sa/web']);
    expect(local.descriptors[0].token_bucket).toEqual({ max_tokens: 2, tokens_per_fill: 2, fill_interval: '1s' });
    expect(vh.rate_limits[0]).toEqual({ actions: [{ generic_key: { descriptor_key: 'trellis_policy', descriptor_value: 'demo/web' } }] });
    expect(vh.rate_limits[1]).toEqual({
      stage: 1,
      actions: [{ header_value_match: { descriptor_key: 'trellis_caller', descriptor_value: 'spiffe://cluster.local/ns/demo/sa/client', headers: [{ name: 'x-forwarded-client-cert', string_match: { suffix: ';URI=spiffe://cluster.local/ns/demo/sa/client' } }] } }],
    });
  });

  it('transparent: the same on the port\'s filter chain', () => {
    const out = translate(model(), envoy('demo/web-v1', { [NODE_METADATA.mode]: 'transparent' }));
    const inbound = out.listeners.find((l) => l.name === 'inbound')! as Json;
    const chain = (inbound.filter_chains as Json[]).findIndex((c) => c.filter_chain_match?.destination_port === 8080);
    expect(inbound.filter_chains[chain].filters[0].name).toBe('envoy.filters.network.connection_limit');
    expect(filterNames(hcmOf(inbound, chain))).toEqual(['envoy.filters.http.local_ratelimit', 'envoy.filters.http.ratelimit', 'envoy.filters.http.router']);
  });

  it('a port without limits keeps its chain as before', () => {
    const m = meshWith(`apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web, namespace: demo}
spec:
  targetRef: {kind: Service, name: web, port: grpc}
  rateLimit:
    local: {requests: 5, unit: second}
`);
    const out = translate(m, envoy('demo/web-v1'));
    const chain = (name: string) => filterNames(hcmOf(out.listeners.find((l) => l.name === name)! as Json));
    expect(chain('inbound:8080')).toEqual(['envoy.filters.http.router']);
    expect(chain('inbound:9090')).toEqual(['envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
  });
});

describe('the rate limit service\'s config', () => {
  it('one descriptor per global limit, under the mesh\'s domain; none without a service', () => {
    const model = meshWith(
      policy('  rateLimit:\n    global: {requests: 100, unit: minute, at: Client}\n  routes:\n  - match: {kind: HTTPRouteGroup, name: web-routes}\n    rateLimit:\n      global: {requests: 3, unit: day}\n'),
      { 'mesh.yaml': RLS },
    );
    expect(rateLimitServiceConfig(model)).toEqual({
      domain: 'shop',
      descriptors: [
        { key: 'trellis_policy', value: 'demo/web', rate_limit: { unit: 'minute', requests_per_unit: 100 } },
        { key: 'trellis_policy', value: 'demo/web#0', rate_limit: { unit: 'day', requests_per_unit: 3 } },
      ],
    });
    expect(rateLimitServiceConfig(meshWith(''))).toBeUndefined();
  });
});
