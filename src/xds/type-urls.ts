/**
 * Type URLs, decided once. Every `Any` Trellis emits and every subscription it
 * tracks is keyed by one of these strings (XDS_RULES 1: a response's type_url
 * matches every Any inside it). Resources here; the extensions that go in
 * typed_config fields in extensions.ts.
 */
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration, Secret } from './envoy-types.ts';

export const TypeUrl = {
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  Endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  Route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

export type ResourceTypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/** The message each resource type URL names (generated from the pinned protos). */
export interface ResourceMessages {
  [TypeUrl.Cluster]: Cluster;
  [TypeUrl.Endpoint]: ClusterLoadAssignment;
  [TypeUrl.Listener]: Listener;
  [TypeUrl.Route]: RouteConfiguration;
  [TypeUrl.Secret]: Secret;
}

/** `ResourceOf<typeof TypeUrl.Cluster>` is Cluster; a union of URLs gives the union of messages. */
export type ResourceOf<U extends ResourceTypeUrl> = ResourceMessages[U];

/**
 * ADS push order (XDS_RULES 18): secrets first because clusters and listeners
 * reference them, then CDS → EDS → LDS → RDS, the order Envoy's own warming
 * expects (xds_protocol.rst, "Eventual consistency considerations").
 */
export const PUSH_ORDER: readonly ResourceTypeUrl[] = [
  TypeUrl.Secret,
  TypeUrl.Cluster,
  TypeUrl.Endpoint,
  TypeUrl.Listener,
  TypeUrl.Route,
];

/** SotW responses for these types must carry the full subscribed set (XDS_RULES 7). */
export const FULL_STATE_TYPES: ReadonlySet<string> = new Set([TypeUrl.Cluster, TypeUrl.Listener]);

export const SHORT_NAMES: Record<ResourceTypeUrl, string> = {
  [TypeUrl.Cluster]: 'cds',
  [TypeUrl.Endpoint]: 'eds',
  [TypeUrl.Listener]: 'lds',
  [TypeUrl.Route]: 'rds',
  [TypeUrl.Secret]: 'sds',
};

export function isKnownTypeUrl(typeUrl: string): typeUrl is ResourceTypeUrl {
  return Object.prototype.hasOwnProperty.call(SHORT_NAMES, typeUrl);
}

/** `type.googleapis.com/a.b.C` -> `a.b.C` */
export function messageNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash >= 0 ? typeUrl.slice(slash + 1) : typeUrl;
}

/** The field holding a resource's name: `name` everywhere but in ClusterLoadAssignment. */
export function resourceNameOf(typeUrl: string, resource: Record<string, unknown>): string {
  const v = typeUrl === TypeUrl.Endpoint ? resource.cluster_name : resource.name;
  return typeof v === 'string' ? v : '';
}
