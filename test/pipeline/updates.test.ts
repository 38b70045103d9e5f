/**
 * Pipeline (issue 3, "an event recomputes only what it affects"): after an
 * edit, each connected stream receives only the types — and for EDS only the
 * resources — that changed for it. An endpoint change is EDS only: no CDS,
 * LDS or RDS response to anyone, and nothing to a stream not subscribed to it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { grpcNode, MeshHarness, sidecarNode, type ProxyView, type YamlFiles } from '../support/mesh-harness.ts';
import { intentsYaml, ratingsYaml, reviewsSlices, shopFiles } from './shop.ts';

/** A second slice for reviews-v1 (a scale-up): only reviews-v1's http port gains an endpoint. */
const SCALE_UP_V1 = `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-v1-2
  namespace: shop
  labels:
    kubernetes.io/service-name: reviews-v1
addressType: IPv4
ports:
- {name: http, port: 9080}
endpoints:
- addresses: [10.0.0.8]
  conditions: {ready: true}
  zone: zone-b
`;

/** A second ratings endpoint, in zone-b. */
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

interface Case {
  name: string;
  edit: YamlFiles;
  /** per stream: responses as `type`, EDS as `eds <names>` */
  sidecar: string[];
  grpcReviews: string[];
  grpcRatings: string[];
}

const CASES: Case[] = [
  {
    name: 'one service gains an endpoint: EDS for that one cluster, to its subscribers only',
    edit: { 'reviews/endpointslices.yaml': reviewsSlices(true, SCALE_UP_V1) },
    sidecar: ['eds reviews-v1.shop:8080'],
    grpcReviews: ['eds reviews-v1.shop:8080'],
    grpcRatings: [],
  },
  {
    name: 'a pod turns not ready: EDS for the services that list it (root and v2, both ports)',
    edit: { 'reviews/endpointslices.yaml': reviewsSlices(false) },
    sidecar: ['eds reviews-v2.shop:8080,reviews-v2.shop:9090,reviews.shop:8080,reviews.shop:9090'],
    grpcReviews: ['eds reviews-v2.shop:8080'],
    grpcRatings: [],
  },
  {
    name: 'contrast — split weights: RDS only (every proxy shares the route configuration)',
    edit: { 'intents.yaml': intentsYaml({ weights: [50, 50] }) },
    sidecar: ['rds'],
    grpcReviews: ['rds'],
    grpcRatings: ['rds'],
  },
  {
    name: 'contrast — a circuit breaker: CDS (+ that cluster’s EDS for warming), not to gRPC clients that don’t watch it',
    edit: { 'intents.yaml': intentsYaml({ ratingsMaxRequests: 7 }) },
    // ratings prefers the same zone: both callers (frontend's pod, zone-a) read its zone-a variant.
    sidecar: ['cds', 'eds ratings.shop:8080@zone-a'],
    grpcReviews: [],
    grpcRatings: ['cds', 'eds ratings.shop:8080@zone-a'],
  },
  {
    name: 'a zone-preferring service gains an endpoint in another zone: EDS for the caller zone’s variant only',
    edit: { 'ratings.yaml': ratingsYaml + RATINGS_ZONE_B },
    sidecar: ['eds ratings.shop:8080@zone-a'],
    grpcReviews: [],
    grpcRatings: ['eds ratings.shop:8080@zone-a'],
  },
  {
    // A new zone adds variants of ratings' endpoints for it (ratings.shop:8080@zone-c), which nobody connected reads.
    name: 'an endpoint in a zone new to the mesh: EDS for the service that gained it, nothing for the new zone’s variants',
    edit: { 'reviews/endpointslices.yaml': reviewsSlices(true, SCALE_UP_V1.replace('zone: zone-b', 'zone: zone-c')) },
    sidecar: ['eds reviews-v1.shop:8080'],
    grpcReviews: ['eds reviews-v1.shop:8080'],
    grpcRatings: [],
  },
];

function pushed(got: Array<{ type: string; names: string[] }>): string[] {
  return got.map((r) => (r.type === 'eds' ? `eds ${r.names.join(',')}` : r.type));
}

let h: MeshHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('an edit pushes only what changed, to whom it changed for', () => {
  it.each(CASES)('$name', async (c) => {
    h = await MeshHarness.start(shopFiles('Permissive'));
    const streams: Record<'sidecar' | 'grpcReviews' | 'grpcRatings', ProxyView> = {
      sidecar: await h.sidecar(sidecarNode('frontend-1', 'shop/frontend')),
      grpcReviews: await h.proxyless(grpcNode('grpc-reviews', 'shop/frontend'), ['reviews.shop:8080']),
      grpcRatings: await h.proxyless(grpcNode('grpc-ratings', 'shop/frontend'), ['ratings.shop:8080']),
    };
    expect(streams.grpcReviews.names('cds')).toEqual(['reviews-v1.shop:8080', 'reviews-v2.shop:8080']);
    expect(streams.grpcRatings.names('cds')).toEqual(['ratings.shop:8080']);

    await h.write(c.edit);
    const got = await Promise.all(Object.values(streams).map((s) => s.settle(300)));
    expect(Object.fromEntries(Object.keys(streams).map((k, i) => [k, pushed(got[i]!)]))).toEqual({
      sidecar: c.sidecar,
      grpcReviews: c.grpcReviews,
      grpcRatings: c.grpcRatings,
    });
  });

  it('the endpoint change reached the sidecar’s view with its zone and health', async () => {
    h = await MeshHarness.start(shopFiles('Permissive'));
    const p = await h.sidecar(sidecarNode('frontend-1', 'shop/frontend'));
    await h.write({ 'reviews/endpointslices.yaml': reviewsSlices(true, SCALE_UP_V1) });
    await p.settle(300);
    const localities = p.endpoints('reviews-v1.shop:8080').endpoints;
    expect(localities.map((l: any) => [l.locality.zone, l.lb_endpoints.map((e: any) => `${e.endpoint.address.socket_address.address}:${e.health_status}`)])).toEqual([
      ['zone-a', ['10.0.0.3:HEALTHY']],
      ['zone-b', ['10.0.0.8:HEALTHY']],
    ]);
  });
});
