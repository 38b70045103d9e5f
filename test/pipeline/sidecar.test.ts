/**
 * Pipeline (issue 3): the shop mesh's YAML in, an Envoy sidecar's
 * DiscoveryResponses out over a real ADS stream. Outbound: scope, domains,
 * splits, canary, TrafficPolicy → routes and clusters, EDS health and zones.
 * Inbound: mTLS by SDS secret names, RBAC from TrafficTargets (strict only).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshHarness, sidecarNode, type ProxyView } from '../support/mesh-harness.ts';
import { shopFiles, spiffe } from './shop.ts';

const OUTBOUND_ALL = [
  'frontend.shop:8080',
  'ratings.shop:8080',
  'reviews-v1.shop:8080',
  'reviews-v1.shop:9090',
  'reviews-v2.shop:8080',
  'reviews-v2.shop:9090',
  'reviews.shop:8080',
  'reviews.shop:9090',
];
const REVIEWS_ALL = OUTBOUND_ALL.filter((n) => n.startsWith('reviews'));
/** ratings' policy prefers the same zone: a caller whose zone is known reads that zone's variant of its endpoints. */
const ZONAL = 'ratings.shop:8080';
/** The EDS names a caller in `zone` subscribes to for these clusters. */
const edsNames = (clusters: readonly string[], zone: string) => clusters.map((c) => (c === ZONAL ? `${c}@${zone}` : c)).sort();
const IDEMPOTENT = '^(GET|HEAD|OPTIONS|PUT|DELETE|TRACE)$';
const secs = (n: number) => ({ seconds: String(n), nanos: 0 });
const sds = (name: string) => ({ name, sds_config: { ads: {}, resource_api_version: 'V3' } });

/**
 * The sidecars each describe block connects: workload by metadata, or by a node id "ns/pod".
 * Zones: frontend and reviews-v1 are in zone-a (their EndpointSlice entries, over the node's z1);
 * probe is in no slice, so in its node's locality zone, z1.
 */
const SIDECARS = {
  frontend: sidecarNode('frontend-7f9c4-x2k', 'shop/frontend'),
  reviews: sidecarNode('reviews-v1-5d8f-q1', 'shop/reviews-v1'),
  ratings: sidecarNode('ratings-6b7c-zz9', 'shop/ratings'),
  probe: sidecarNode('ops/probe'),
};
type Sidecar = keyof typeof SIDECARS;

async function connectAll(h: MeshHarness): Promise<Record<Sidecar, ProxyView>> {
  const entries = await Promise.all(Object.entries(SIDECARS).map(async ([k, node]) => [k, await h.sidecar(node)] as const));
  return Object.fromEntries(entries) as Record<Sidecar, ProxyView>;
}

/** Names of the outbound virtual hosts (an empty list decodes as absent). */
function vhostNames(p: ProxyView): string[] {
  return (p.held.rds.get('outbound')!.virtual_hosts ?? []).map((v: { name: string }) => v.name).sort();
}

function vhostNameFor(p: ProxyView, host: string): string | undefined {
  const rc = p.held.rds.get('outbound')!;
  return rc.virtual_hosts.find((v: { domains: string[] }) => v.domains.includes(host))?.name;
}

/** A ClusterLoadAssignment as [zone, priority, "address:health" per endpoint] per locality. */
function localities(cla: Record<string, any>): Array<[string | undefined, number, string[]]> {
  return cla.endpoints.map((l: any) => [
    l.locality.zone,
    l.priority ?? 0,
    l.lb_endpoints.map((e: any) => `${e.endpoint.address.socket_address.address}:${e.health_status}`),
  ]);
}

function route(p: ProxyView, host: string, name: string): Record<string, any> {
  const r = p.virtualHost(host).routes.find((x: { name: string }) => x.name === name);
  if (!r) throw new Error(`no route ${name} for ${host}: ${p.virtualHost(host).routes.map((x: { name: string }) => x.name).join(', ')}`);
  return r;
}

describe('permissive mesh: a sidecar', () => {
  let h: MeshHarness;
  let px: Record<Sidecar, ProxyView>;
  beforeAll(async () => {
    h = await MeshHarness.start(shopFiles('Permissive'));
    px = await connectAll(h);
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each([
    { name: 'frontend: every service port, plus its own inbound port', proxy: 'frontend', zone: 'zone-a', clusters: [...OUTBOUND_ALL, 'inbound:8080'].sort() },
    { name: 'reviews-v1: every service port, inbound for both reviews ports', proxy: 'reviews', zone: 'zone-a', clusters: [...OUTBOUND_ALL, 'inbound:8080', 'inbound:9090'].sort() },
    { name: 'probe (node id "ops/probe", serves nothing): every service port, no inbound', proxy: 'probe', zone: 'z1', clusters: OUTBOUND_ALL },
  ] as const)('scope: $name', ({ proxy, zone, clusters }) => {
    const p = px[proxy];
    expect(p.names('cds')).toEqual(clusters);
    expect(p.names('eds')).toEqual(edsNames(clusters.filter((c) => !c.startsWith('inbound')), zone));
    expect(vhostNames(p)).toEqual(OUTBOUND_ALL);
    expect(p.names('lds')).toEqual(['outbound', ...clusters.filter((c) => c.startsWith('inbound'))].sort());
  });

  it.each([
    { name: 'short name: default (first) port', proxy: 'frontend', host: 'reviews', vhost: 'reviews.shop:8080' },
    { name: 'short name with port', proxy: 'frontend', host: 'reviews:9090', vhost: 'reviews.shop:9090' },
    { name: 'svc.ns', proxy: 'frontend', host: 'reviews.shop', vhost: 'reviews.shop:8080' },
    { name: 'svc.ns:port', proxy: 'frontend', host: 'reviews.shop:9090', vhost: 'reviews.shop:9090' },
    { name: 'svc.ns.svc', proxy: 'frontend', host: 'reviews.shop.svc', vhost: 'reviews.shop:8080' },
    { name: 'fqdn', proxy: 'frontend', host: 'reviews.shop.svc.cluster.local', vhost: 'reviews.shop:8080' },
    { name: 'fqdn:port', proxy: 'frontend', host: 'reviews.shop.svc.cluster.local:9090', vhost: 'reviews.shop:9090' },
    { name: 'ClusterIP:port', proxy: 'frontend', host: '10.96.0.20:9090', vhost: 'reviews.shop:9090' },
    { name: 'a port-less name means the first port only', proxy: 'frontend', host: 'reviews.shop.svc.cluster.local:8080', vhost: 'reviews.shop:8080' },
    { name: 'another namespace: svc.ns resolves', proxy: 'probe', host: 'reviews.shop', vhost: 'reviews.shop:8080' },
    { name: 'another namespace: the short name is not ours to take', proxy: 'probe', host: 'reviews', vhost: undefined },
    { name: 'another namespace: short name with port neither', proxy: 'probe', host: 'ratings:8080', vhost: undefined },
  ] as const)('domains: $name ($host)', ({ proxy, host, vhost }) => {
    expect(vhostNameFor(px[proxy], host)).toBe(vhost);
  });

  it.each(Object.keys(SIDECARS) as Sidecar[])('domains: no domain is in two virtual hosts (%s; Envoy would NACK)', (proxy) => {
    const domains = px[proxy].held.rds.get('outbound')!.virtual_hosts.flatMap((v: { domains: string[] }) => v.domains);
    expect(domains.length).toBe(new Set(domains).size);
  });

  it('routes: the reviews virtual host tries the canary, then the route override, then the default split', () => {
    expect(px.frontend.virtualHost('reviews').routes.map((r: { name: string }) => r.name)).toEqual([
      'split/reviews-canary/canary-header/retry',
      'split/reviews-canary/canary-header',
      'policy/reviews/slow-report/retry',
      'policy/reviews/slow-report',
      'default/retry',
      'default',
    ]);
  });

  it.each([
    {
      name: 'header canary: x-canary "true" goes to v2 only',
      host: 'reviews',
      route: 'split/reviews-canary/canary-header',
      want: { match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { safe_regex: { regex: 'true' } } }] }, route: { cluster: 'reviews-v2.shop:8080' } },
    },
    {
      name: 'TrafficSplit 80/20 as weighted_clusters (default route)',
      host: 'reviews',
      route: 'default',
      want: { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'reviews-v1.shop:8080', weight: { value: 80 } }, { name: 'reviews-v2.shop:8080', weight: { value: 20 } }] } } },
    },
    {
      name: 'the split applies per port: the gRPC port splits over the backends’ 9090 clusters',
      host: 'reviews:9090',
      route: 'default',
      want: { route: { weighted_clusters: { clusters: [{ name: 'reviews-v1.shop:9090', weight: { value: 80 } }, { name: 'reviews-v2.shop:9090', weight: { value: 20 } }] } } },
    },
    {
      name: 'retries (default methods): idempotent methods only, with per-try timeout and another host per retry',
      host: 'reviews',
      route: 'default/retry',
      want: {
        match: { prefix: '/', headers: [{ name: ':method', string_match: { safe_regex: { regex: IDEMPOTENT } } }] },
        route: {
          retry_policy: {
            retry_on: '5xx,reset,connect-failure,refused-stream,unavailable',
            num_retries: { value: 2 },
            per_try_timeout: secs(1),
            retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }],
          },
        },
      },
    },
    {
      name: 'request timeout from the policy on every route',
      host: 'reviews',
      route: 'default',
      want: { route: { timeout: secs(3) } },
      absent: ['retry_policy', 'max_stream_duration'],
    },
    {
      name: 'route override: GET /reports/… gets its own 30 s timeout',
      host: 'reviews',
      route: 'policy/reviews/slow-report',
      want: { match: { safe_regex: { regex: '/reports/.*' }, headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(GET)$' } } }] }, route: { timeout: secs(30) } },
    },
    {
      name: 'methods ["*"]: one route retrying every method; gRPC and 5xx conditions',
      host: 'ratings',
      route: 'default',
      want: { match: { prefix: '/' }, route: { cluster: 'ratings.shop:8080', retry_policy: { retry_on: 'unavailable,5xx', num_retries: { value: 3 } } } },
    },
    {
      name: 'ring hash: a hash policy on the header the policy names',
      host: 'ratings',
      route: 'default',
      want: { route: { hash_policy: [{ header: { header_name: 'x-user-id' } }] } },
    },
    {
      name: 'a service without policy or split: straight to its cluster',
      host: 'frontend.shop',
      route: 'default',
      want: { match: { prefix: '/' }, route: { cluster: 'frontend.shop:8080' } },
      absent: ['retry_policy', 'timeout', 'hash_policy'],
    },
  ])('routes: $name', ({ host, route: name, want, absent }) => {
    const r = route(px.frontend, host, name);
    expect(r).toMatchObject(want);
    for (const key of absent ?? []) expect(r.route, key).not.toHaveProperty(key);
  });

  it.each([
    {
      name: 'circuit breakers and retry budget',
      cluster: 'ratings.shop:8080',
      want: {
        circuit_breakers: {
          thresholds: [
            {
              priority: 'DEFAULT',
              max_connections: { value: 100 },
              max_pending_requests: { value: 50 },
              max_requests: { value: 200 },
              max_retries: { value: 10 },
              retry_budget: { budget_percent: { value: 25 }, min_retry_concurrency: { value: 5 } },
            },
          ],
        },
      },
    },
    {
      name: 'outlier detection',
      cluster: 'ratings.shop:8080',
      want: { outlier_detection: { consecutive_5xx: { value: 3 }, interval: secs(5), base_ejection_time: secs(30), max_ejection_percent: { value: 50 } } },
    },
    { name: 'ring hash load balancing', cluster: 'ratings.shop:8080', want: { lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: '512' } } } },
    {
      // Not Envoy's zone-aware routing (it needs a local cluster in the bootstrap): priorities in the zone's endpoints.
      name: 'PreferSameZone: endpoints from the caller zone’s variant, no zone-aware routing',
      cluster: 'ratings.shop:8080',
      want: { type: 'EDS', eds_cluster_config: { service_name: 'ratings.shop:8080@zone-a', eds_config: { ads: {} } } },
      absent: ['common_lb_config'],
    },
    {
      name: 'no policy: round robin, no breakers, no outlier detection',
      cluster: 'reviews-v1.shop:8080',
      want: { lb_policy: 'ROUND_ROBIN' },
      absent: ['circuit_breakers', 'outlier_detection', 'typed_extension_protocol_options'],
    },
    {
      name: 'gRPC port: HTTP/2 to the upstream',
      cluster: 'reviews-v1.shop:9090',
      want: { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { explicit_http_config: { http2_protocol_options: {} } } } },
    },
    {
      name: 'EDS over ADS, by the cluster’s own name',
      cluster: 'reviews.shop:8080',
      want: { type: 'EDS', eds_cluster_config: { service_name: 'reviews.shop:8080', eds_config: { ads: {} } } },
    },
    {
      name: 'mTLS: own certificate and trust bundle by SDS name, destination identities by SAN',
      cluster: 'reviews-v1.shop:8080',
      want: {
        transport_socket: {
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
            sni: 'reviews-v1.shop.svc.cluster.local',
            common_tls_context: {
              tls_certificate_sds_secret_configs: [sds('workload-certificate')],
              combined_validation_context: {
                default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: spiffe('shop', 'reviews') } }] },
                validation_context_sds_secret_config: sds('trellis-trust-bundle'),
              },
            },
          },
        },
      },
    },
  ])('clusters: $name ($cluster)', ({ cluster, want, absent }) => {
    const c = px.frontend.cluster(cluster);
    expect(c).toMatchObject(want);
    for (const key of absent ?? []) expect(c, key).not.toHaveProperty(key);
  });

  it.each([
    { name: 'ready', cla: 'reviews.shop:8080', address: '10.0.0.3', port: 9080, zone: 'zone-a', health: 'HEALTHY' },
    { name: 'not ready, not serving (starting)', cla: 'reviews.shop:8080', address: '10.0.0.7', port: 9080, zone: 'zone-a', health: 'UNHEALTHY' },
    { name: 'ready, other zone', cla: 'reviews.shop:8080', address: '10.0.0.4', port: 9080, zone: 'zone-b', health: 'HEALTHY' },
    { name: 'serving and terminating: draining', cla: 'reviews.shop:8080', address: '10.0.0.6', port: 9080, zone: 'zone-b', health: 'DRAINING' },
    { name: 'conditions unset count as ready', cla: 'reviews-v1.shop:8080', address: '10.0.0.3', port: 9080, zone: 'zone-a', health: 'HEALTHY' },
    { name: 'second service port: its own target port', cla: 'reviews.shop:9090', address: '10.0.0.4', port: 9090, zone: 'zone-b', health: 'HEALTHY' },
  ])('endpoints: $name ($address in $cla)', ({ cla, address, port, zone, health }) => {
    const localities = px.frontend.endpoints(cla).endpoints as Array<{ locality: { zone?: string }; load_balancing_weight: { value: number }; lb_endpoints: any[] }>;
    const found = localities.flatMap((l) => l.lb_endpoints.map((e) => ({ zone: l.locality.zone, e })))
      .find((x) => x.e.endpoint.address.socket_address.address === address);
    expect(found, `${address} in ${cla}`).toBeDefined();
    expect({ zone: found!.zone, port: found!.e.endpoint.address.socket_address.port_value, health: found!.e.health_status }).toEqual({ zone, port, health });
  });

  it('clusters: identical whichever identity calls (the certificate is named, not the caller), within a zone for zone-preferring ones', () => {
    for (const name of ['reviews-v1.shop:8080', 'ratings.shop:8080']) {
      // reviews-v1 is in frontend's zone (zone-a).
      expect(px.reviews.cluster(name), `${name} for reviews`).toEqual(px.frontend.cluster(name));
    }
    expect(px.probe.cluster('reviews-v1.shop:8080'), 'reviews-v1.shop:8080 for ops/probe').toEqual(px.frontend.cluster('reviews-v1.shop:8080'));
    // probe is in z1: the same cluster but for the endpoints' name.
    const ratings = px.frontend.cluster('ratings.shop:8080');
    expect(px.probe.cluster('ratings.shop:8080'), 'ratings.shop:8080 for ops/probe').toEqual({ ...ratings, eds_cluster_config: { ...ratings.eds_cluster_config, service_name: 'ratings.shop:8080@z1' } });
  });

  it.each([
    // ratings' only endpoint is in zone-a: first choice for zone-a callers, and all there is for z1 ones (no priority gap).
    { name: 'a zone-a caller: zone-a at priority 0', proxy: 'frontend', eds: 'ratings.shop:8080@zone-a', want: [['zone-a', 0, ['10.0.0.5:HEALTHY']]] },
    { name: 'a z1 caller, no ratings endpoint in z1: everything at priority 0', proxy: 'probe', eds: 'ratings.shop:8080@z1', want: [['zone-a', 0, ['10.0.0.5:HEALTHY']]] },
    { name: 'a cluster without the policy: its own endpoints, every zone at 0', proxy: 'frontend', eds: 'reviews.shop:8080', want: [['zone-a', 0, ['10.0.0.3:HEALTHY', '10.0.0.7:UNHEALTHY']], ['zone-b', 0, ['10.0.0.4:HEALTHY', '10.0.0.6:DRAINING']]] },
  ] as const)('endpoints: PreferSameZone — $name ($eds)', ({ proxy, eds, want }) => {
    expect(localities(px[proxy].endpoints(eds))).toEqual(want);
  });

  it('endpoints: one locality per zone, weighted by its endpoint count (gRPC drops unweighted localities)', () => {
    const localities = px.frontend.endpoints('reviews.shop:8080').endpoints;
    expect(localities.map((l: any) => [l.locality.zone, l.load_balancing_weight.value, l.lb_endpoints.length])).toEqual([
      ['zone-a', 2, 2],
      ['zone-b', 2, 2],
    ]);
  });

  it('inbound: mTLS with the workload’s SDS secret, no RBAC filter in permissive mode', () => {
    const l = px.reviews.listener('inbound:8080');
    expect(l).toMatchObject({ address: { socket_address: { address: '10.0.0.3', port_value: 8080 } }, traffic_direction: 'INBOUND' });
    const chain = l.filter_chains[0];
    expect(chain.transport_socket.typed_config).toMatchObject({
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      require_client_certificate: { value: true },
      common_tls_context: { tls_certificate_sds_secret_configs: [sds('workload-certificate')], validation_context_sds_secret_config: sds('trellis-trust-bundle') },
    });
    expect(JSON.stringify(chain.transport_socket)).not.toContain('spiffe://');
    expect(chain.filters[0].typed_config.http_filters.map((f: { name: string }) => f.name)).toEqual(['envoy.filters.http.router']);
  });

  it.each([
    { name: 'http port → the app’s target port', listener: 'inbound:8080', cluster: 'inbound:8080', port: 9080, http2: false },
    { name: 'gRPC port → the app over HTTP/2', listener: 'inbound:9090', cluster: 'inbound:9090', port: 9090, http2: true },
  ])('inbound: $name', ({ listener, cluster, port, http2 }) => {
    const hcm = px.reviews.listener(listener).filter_chains[0].filters[0].typed_config;
    expect(hcm.route_config.virtual_hosts[0].routes[0].route.cluster).toBe(cluster);
    const c = px.reviews.cluster(cluster);
    expect(c).toMatchObject({ type: 'STATIC', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.3', port_value: port } } } }] }] } });
    expect('typed_extension_protocol_options' in c).toBe(http2);
  });
});

describe('strict mesh: a sidecar', () => {
  let h: MeshHarness;
  let px: Record<Sidecar, ProxyView>;
  beforeAll(async () => {
    h = await MeshHarness.start(shopFiles('Strict'));
    px = await connectAll(h);
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each([
    { name: 'frontend → reviews (TrafficTarget), and the split’s backends', proxy: 'frontend', outbound: REVIEWS_ALL, eds: REVIEWS_ALL, inbound: ['inbound:8080'] },
    { name: 'reviews-v1 → ratings only', proxy: 'reviews', outbound: ['ratings.shop:8080'], eds: ['ratings.shop:8080@zone-a'], inbound: ['inbound:8080', 'inbound:9090'] },
    { name: 'ratings → nothing (no TrafficTarget names it as a source)', proxy: 'ratings', outbound: [], eds: [], inbound: ['inbound:8080'] },
    { name: 'probe in ops → ratings (a source in another namespace)', proxy: 'probe', outbound: ['ratings.shop:8080'], eds: ['ratings.shop:8080@z1'], inbound: [] },
  ] as const)('scope: $name', ({ proxy, outbound, eds, inbound }) => {
    const p = px[proxy];
    expect(p.names('cds')).toEqual([...outbound, ...inbound].sort());
    expect(p.names('eds')).toEqual([...eds].sort());
    expect(vhostNames(p)).toEqual([...outbound].sort());
  });

  it.each([
    {
      name: 'reviews accepts frontend, every request',
      proxy: 'reviews',
      listener: 'inbound:8080',
      policies: { 'shop/frontend-to-reviews': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: spiffe('shop', 'frontend') } } }] } },
    },
    {
      name: 'the same rule on the gRPC port',
      proxy: 'reviews',
      listener: 'inbound:9090',
      policies: { 'shop/frontend-to-reviews': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: spiffe('shop', 'frontend') } } }] } },
    },
    {
      name: 'ratings accepts reviews and ops/probe, only on the HTTPRouteGroup’s routes',
      proxy: 'ratings',
      listener: 'inbound:8080',
      policies: {
        'shop/readers-to-ratings': {
          permissions: [
            {
              and_rules: {
                rules: [
                  { url_path: { path: { safe_regex: { regex: '/ratings/.*' } } } },
                  { header: { name: ':method', string_match: { safe_regex: { regex: '^(GET|HEAD)$' } } } },
                ],
              },
            },
          ],
          principals: [
            { authenticated: { principal_name: { exact: spiffe('shop', 'reviews') } } },
            { authenticated: { principal_name: { exact: spiffe('ops', 'probe') } } },
          ],
        },
      },
    },
    { name: 'frontend: nobody may call it (default deny: ALLOW with no policy)', proxy: 'frontend', listener: 'inbound:8080', policies: undefined },
  ] as const)('inbound RBAC: $name', ({ proxy, listener, policies }) => {
    const hcm = px[proxy].listener(listener).filter_chains[0].filters[0].typed_config;
    expect(hcm.http_filters.map((f: { name: string }) => f.name)).toEqual(['envoy.filters.http.rbac', 'envoy.filters.http.router']);
    const rules = hcm.http_filters[0].typed_config.rules;
    expect(rules.action).toBe('ALLOW');
    expect(rules.policies).toEqual(policies);
    // mTLS is on in strict mode too.
    expect(px[proxy].listener(listener).filter_chains[0].transport_socket.typed_config.require_client_certificate).toEqual({ value: true });
  });
});

/** A second ratings endpoint, in zone-b (an extra slice: no pod behind it). */
const RATINGS_ZONE_B = `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ratings-2
  namespace: shop
  labels:
    kubernetes.io/service-name: ratings
addressType: IPv4
ports:
- {name: http, port: 8080}
endpoints:
- addresses: [10.0.0.9]
  zone: zone-b
`;

describe('PreferSameZone: each caller reads the endpoints of its own zone first', () => {
  let h: MeshHarness;
  const zone = (node: ReturnType<typeof sidecarNode>, z: string | undefined) => ({ ...node, locality: z === undefined ? undefined : { zone: z } });
  beforeAll(async () => {
    const files = shopFiles('Permissive');
    h = await MeshHarness.start({ ...files, 'ratings.yaml': files['ratings.yaml'] + RATINGS_ZONE_B });
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each([
    // The pod's zone (its EndpointSlice entry) wins over the node's locality.
    { name: 'frontend, zone-a pod on a z1 node', node: SIDECARS.frontend, eds: 'ratings.shop:8080@zone-a', want: [['zone-a', 0, ['10.0.0.5:HEALTHY']], ['zone-b', 1, ['10.0.0.9:HEALTHY']]] },
    { name: 'reviews-v2, zone-b pod', node: sidecarNode('reviews-v2-1', 'shop/reviews-v2'), eds: 'ratings.shop:8080@zone-b', want: [['zone-a', 1, ['10.0.0.5:HEALTHY']], ['zone-b', 0, ['10.0.0.9:HEALTHY']]] },
    // No slice names probe: its node's locality. A zone no workload is in gets its variant when the node connects.
    { name: 'probe on a zone-b node', node: zone(sidecarNode('probe-b', 'ops/probe'), 'zone-b'), eds: 'ratings.shop:8080@zone-b', want: [['zone-a', 1, ['10.0.0.5:HEALTHY']], ['zone-b', 0, ['10.0.0.9:HEALTHY']]] },
    { name: 'probe on a node in zone-c, where ratings has no endpoint: no priority gap', node: zone(sidecarNode('probe-c', 'ops/probe'), 'zone-c'), eds: 'ratings.shop:8080@zone-c', want: [['zone-a', 0, ['10.0.0.5:HEALTHY']], ['zone-b', 0, ['10.0.0.9:HEALTHY']]] },
    { name: 'probe on a node without locality: zone unknown, the cluster’s own endpoints', node: zone(sidecarNode('probe-nowhere', 'ops/probe'), undefined), eds: 'ratings.shop:8080', want: [['zone-a', 0, ['10.0.0.5:HEALTHY']], ['zone-b', 0, ['10.0.0.9:HEALTHY']]] },
  ])('$name → $eds', async ({ node, eds, want }) => {
    const p = await h.sidecar(node);
    try {
      expect(p.cluster('ratings.shop:8080').eds_cluster_config.service_name).toBe(eds);
      expect(p.names('eds')).toEqual(OUTBOUND_ALL.map((n) => (n === ZONAL ? eds : n)).sort());
      expect(localities(p.endpoints(eds))).toEqual(want);
      expect(p.endpoints(eds).cluster_name).toBe(eds);
    } finally {
      p.close();
    }
  });
});
