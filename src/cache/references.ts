/**
 * What a resource refers to, read off the Envoy object before it is encoded.
 * The cache uses references for its consistency check (every endpoint set has
 * its cluster, every route configuration its listener) and the server for
 * ordering (XDS_RULES 18–20: a route never names a cluster the client lacks;
 * clusters go only after nothing refers to them).
 */
import { TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';

export interface References {
  /** cluster names (from routes, tcp_proxy, listeners) */
  clusters: string[];
  /** EDS names (from clusters) */
  endpoints: string[];
  /** RDS names (from listeners) */
  routes: string[];
  /** SDS names (from clusters and listeners) */
  secrets: string[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * Walks the object once and collects names by the field that carries them.
 * Field names are Envoy's (snake_case): route actions' `cluster` and
 * `weighted_clusters.clusters[].name`, tcp_proxy's `cluster`, HCM's
 * `rds.route_config_name`, SDS configs' `name` under `*sds_secret_config*`.
 */
function walk(value: unknown, refs: References, parentKey: string): void {
  if (Array.isArray(value)) {
    for (const v of value) walk(v, refs, parentKey);
    return;
  }
  if (!isObject(value)) return;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'cluster' && typeof v === 'string' && v) refs.clusters.push(v);
    else if (parentKey === 'clusters' && key === 'name' && typeof v === 'string') refs.clusters.push(v);
    else if (key === 'route_config_name' && typeof v === 'string') refs.routes.push(v);
    else if (/sds_secret_config/.test(parentKey) && key === 'name' && typeof v === 'string') refs.secrets.push(v);
    else walk(v, refs, key);
  }
}

/** A virtual host's references as the walk of its route configuration finds them (under `virtual_hosts`). */
const byHost = new WeakMap<Json, References>();

function hostReferences(host: Json): References {
  let refs = byHost.get(host);
  if (!refs) {
    refs = { clusters: [], endpoints: [], routes: [], secrets: [] };
    walk(host, refs, 'virtual_hosts');
    byHost.set(host, refs);
  }
  return refs;
}

function unique(list: string[]): string[] {
  return [...new Set(list)].sort();
}

export function referencesOf(typeUrl: ResourceTypeUrl, name: string, resource: Json): References {
  const refs: References = { clusters: [], endpoints: [], routes: [], secrets: [] };
  if (typeUrl === TypeUrl.Cluster) {
    const edsConfig = resource.eds_cluster_config;
    const isEds = resource.type === 'EDS' || resource.type === 3;
    if (isEds) {
      const serviceName = isObject(edsConfig) && typeof edsConfig.service_name === 'string' ? edsConfig.service_name : '';
      refs.endpoints.push(serviceName || name);
    }
    walk(resource.transport_socket, refs, 'transport_socket');
    walk(resource.transport_socket_matches, refs, 'transport_socket_matches');
  } else if (typeUrl === TypeUrl.Route && Array.isArray(resource.virtual_hosts)) {
    // Per virtual host, once per host object, as its bytes are (message-encoding.ts): an edit
    // of one service walks its host, not the 1,000 of each route configuration (issue 14).
    const { virtual_hosts: hosts, ...rest } = resource;
    walk(rest, refs, '');
    for (const h of hosts) {
      const own = isObject(h) ? hostReferences(h) : undefined;
      if (own) for (const k of ['clusters', 'routes', 'secrets'] as const) refs[k].push(...own[k]);
    }
  } else if (typeUrl === TypeUrl.Listener || typeUrl === TypeUrl.Route) {
    walk(resource, refs, '');
  }
  return {
    clusters: unique(refs.clusters),
    endpoints: unique(refs.endpoints),
    routes: unique(refs.routes),
    secrets: unique(refs.secrets),
  };
}
