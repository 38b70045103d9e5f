/** What translating one proxy yields (translate.ts), and the empty start every assembly fills in. */
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration, Secret } from '../xds/envoy-types.ts';

export interface ProxyResources {
  clusters: Cluster[];
  /**
   * The first clusters of `clusters`, shared with every proxy of the same
   * scope, mTLS and zone: the same array object, so a consumer may encode and
   * index it once (runtime/proxy-resources.ts).
   */
  sharedClusters: readonly Cluster[];
  endpoints: ClusterLoadAssignment[];
  listeners: Listener[];
  routes: RouteConfiguration[];
  /** SPIFFE IDs whose certificate this proxy needs (its own), for the CA/SDS side. */
  identities: string[];
  /** A gateway's own secrets (its HTTPS listeners' certificates), owned by its identity (`identities[0]`). */
  secrets: Secret[];
}

export function emptyResources(identities: string[] = []): ProxyResources {
  return { clusters: [], sharedClusters: [], endpoints: [], listeners: [], routes: [], identities, secrets: [] };
}
