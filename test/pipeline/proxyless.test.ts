/**
 * Pipeline (issue 3): proxyless gRPC nodes (user agent not "envoy") ask LDS
 * for `host:port` by name and get API listeners that route through the same
 * `outbound` route configuration as sidecars — with only what gRPC clients
 * understand (gRPC retry-on names, max_stream_duration, no mTLS to upstreams).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcNode, MeshHarness, type ProxyView } from '../support/mesh-harness.ts';
import { shopFiles } from './shop.ts';

const ASKED = [
  'reviews.shop.svc.cluster.local:9090',
  'reviews.shop.svc:9090',
  'reviews.shop:9090',
  'reviews:9090',
  'reviews.shop.svc.cluster.local:8080',
  'ratings.shop:8080',
  'reviews.shop:7000', // a port reviews does not have
  'nope.shop:8080', // no such service
  'reviews.shop.svc.cluster.local', // no port: gRPC targets for Trellis always carry one
];
const secs = (n: number) => ({ seconds: String(n), nanos: 0 });

describe('permissive mesh: proxyless gRPC', () => {
  let h: MeshHarness;
  let inShop: ProxyView;
  let anonymous: ProxyView;
  beforeAll(async () => {
    h = await MeshHarness.start(shopFiles('Permissive'));
    // One client that is a pod of the mesh, one that names no workload.
    [inShop, anonymous] = await Promise.all([h.proxyless(grpcNode('grpc-frontend', 'shop/frontend'), ASKED), h.proxyless(grpcNode('grpc-anonymous'), ASKED)]);
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each([
    { name: 'fqdn:port', listener: 'reviews.shop.svc.cluster.local:9090', shop: true, anonymous: true },
    { name: 'svc.ns.svc:port', listener: 'reviews.shop.svc:9090', shop: true, anonymous: true },
    { name: 'svc.ns:port', listener: 'reviews.shop:9090', shop: true, anonymous: true },
    { name: 'svc:port: only for a caller in the same namespace', listener: 'reviews:9090', shop: true, anonymous: false },
    { name: 'the http port too', listener: 'reviews.shop.svc.cluster.local:8080', shop: true, anonymous: true },
    { name: 'another service', listener: 'ratings.shop:8080', shop: true, anonymous: true },
    { name: 'a port the service does not have', listener: 'reviews.shop:7000', shop: false, anonymous: false },
    { name: 'an unknown service', listener: 'nope.shop:8080', shop: false, anonymous: false },
    { name: 'no port', listener: 'reviews.shop.svc.cluster.local', shop: false, anonymous: false },
  ])('LDS by name: $name ($listener)', ({ listener, shop, anonymous: anon }) => {
    expect(inShop.held.lds.has(listener)).toBe(shop);
    expect(anonymous.held.lds.has(listener)).toBe(anon);
  });

  it('an API listener: HCM over RDS (outbound), router only, no socket', () => {
    const l = inShop.listener('reviews.shop:9090');
    expect(l).not.toHaveProperty('address');
    expect(l.api_listener.api_listener).toMatchObject({
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      rds: { route_config_name: 'outbound', config_source: { ads: {} } },
      http_filters: [{ name: 'envoy.filters.http.router' }],
    });
  });

  it('follows the references like gRPC does: RDS, then CDS and EDS for the routed clusters only', () => {
    expect(inShop.log.map((e) => e.type)).toEqual(['lds', 'rds', 'cds', 'eds']);
    expect(inShop.names('rds')).toEqual(['outbound']);
    // ratings prefers the same zone: its endpoints are the caller zone's variant (frontend's pod is in zone-a).
    expect(inShop.names('eds')).toEqual(inShop.names('cds').map((n) => (n === 'ratings.shop:8080' ? 'ratings.shop:8080@zone-a' : n)).sort());
    expect(inShop.names('eds')).toContain('ratings.shop:8080@zone-a');
    expect(inShop.names('cds')).not.toContain('inbound:8080');
  });

  it.each([
    {
      name: 'split and canary as for sidecars; no retry, since the policy retries only idempotent methods and gRPC calls are POSTs',
      host: 'reviews.shop:9090',
      routes: ['split/reviews-canary/canary-header', 'policy/reviews/slow-report', 'default'],
      route: 'default',
      want: {
        route: {
          weighted_clusters: { clusters: [{ name: 'reviews-v1.shop:9090', weight: { value: 80 } }, { name: 'reviews-v2.shop:9090', weight: { value: 20 } }] },
          // gRFC A31: the deadline comes from max_stream_duration.
          max_stream_duration: { max_stream_duration: secs(3) },
        },
      },
      absent: ['retry_on', 'num_retries'],
    },
    {
      name: 'Envoy-only retry conditions (5xx) are left out for gRPC',
      host: 'ratings.shop:8080',
      routes: ['default'],
      route: 'default',
      want: { route: { cluster: 'ratings.shop:8080', retry_policy: { retry_on: 'unavailable', num_retries: { value: 3 } }, hash_policy: [{ header: { header_name: 'x-user-id' } }] } },
      absent: ['retry_host_predicate'],
    },
  ])('routes: $name', ({ host, routes, route: name, want, absent }) => {
    const vh = inShop.virtualHost(host);
    expect(vh.routes.map((r: { name: string }) => r.name)).toEqual(routes);
    const r = vh.routes.find((x: { name: string }) => x.name === name);
    expect(r).toMatchObject(want);
    for (const key of absent) expect(r.route.retry_policy ?? {}, key).not.toHaveProperty(key);
  });

  it.each([
    { name: 'gRPC port: HTTP/2, no transport socket (proxyless calls are plaintext)', cluster: 'reviews-v1.shop:9090', http2: true },
    { name: 'policy settings still apply (ring hash)', cluster: 'ratings.shop:8080', http2: false, want: { lb_policy: 'RING_HASH' } },
    {
      name: 'PreferSameZone: the caller zone’s endpoints (gRPC fails over by priority), no zone-aware routing',
      cluster: 'ratings.shop:8080',
      http2: false,
      want: { eds_cluster_config: { service_name: 'ratings.shop:8080@zone-a' } },
      absent: ['common_lb_config'],
    },
  ] as { name: string; cluster: string; http2: boolean; want?: Record<string, unknown>; absent?: string[] }[])('clusters: $name', ({ cluster, http2, want, absent }) => {
    const c = inShop.cluster(cluster);
    expect(c).not.toHaveProperty('transport_socket');
    expect('typed_extension_protocol_options' in c).toBe(http2);
    if (want) expect(c).toMatchObject(want);
    for (const key of absent ?? []) expect(c, key).not.toHaveProperty(key);
  });
});

describe('strict mesh: proxyless gRPC', () => {
  let h: MeshHarness;
  let frontend: ProxyView;
  let anonymous: ProxyView;
  beforeAll(async () => {
    h = await MeshHarness.start(shopFiles('Strict'));
    [frontend, anonymous] = await Promise.all([h.proxyless(grpcNode('grpc-frontend', 'shop/frontend'), ASKED), h.proxyless(grpcNode('grpc-anonymous'), ['reviews.shop:9090'])]);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a workload gets listeners only for the destinations TrafficTargets allow it', () => {
    expect(frontend.names('lds')).toEqual(['reviews.shop.svc.cluster.local:8080', 'reviews.shop.svc.cluster.local:9090', 'reviews.shop.svc:9090', 'reviews.shop:9090', 'reviews:9090']);
  });

  it('a node that names no workload has no identity: nothing in strict mode', async () => {
    expect(anonymous.names('lds')).toEqual([]);
    expect(anonymous.names('cds')).toEqual([]);
  });
});
