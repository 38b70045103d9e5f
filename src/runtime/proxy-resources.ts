/**
 * "The resources a proxy would get from this model", once: the publisher
 * serves them and `trellis diff` predicts them with the same code, so what
 * diff says an edit would change is what the publisher would send.
 *
 * The endpoint set is mesh-wide (one ClusterLoadAssignment per service port,
 * plus a variant per caller zone for PreferSameZone); listeners, routes and
 * clusters are translated per proxy. Secrets stay with the caller: they come
 * from the CA, which diff does not have.
 */
import { encodeResource, type VersionedResource } from '../cache/resource.ts';
import type { MeshModel } from '../model/types.ts';
import type { Cluster } from '../xds/envoy-types.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { clusterLoadAssignment } from '../translate/endpoints.ts';
import { Memo } from '../translate/memo.ts';
import { outboundClusterName, zonalEndpointsName } from '../translate/names.ts';
import type { ProxyContext } from '../translate/proxy.ts';
import type { Translator } from '../translate/translate.ts';

/** The zones endpoint sets are made for: every workload's, and every connected caller's locality. */
export function endpointZones(model: MeshModel, callers: Iterable<{ locality?: { zone?: string } }>): Set<string> {
  const zones = new Set<string>();
  for (const w of model.workloads.values()) if (w.zone) zones.add(w.zone);
  for (const n of callers) if (n.locality?.zone) zones.add(n.locality.zone);
  return zones;
}

/** Every ClusterLoadAssignment of the mesh, encoded; `memo` keeps unchanged ones from being encoded again. */
export function meshEndpoints(model: MeshModel, zones: ReadonlySet<string>, memo = new Memo<VersionedResource>()): VersionedResource[] {
  const list: VersionedResource[] = [];
  for (const s of model.services.values()) {
    for (const p of s.ports) {
      const name = outboundClusterName(s.namespace, s.name, p.port);
      list.push(memo.get([name, p.endpoints], () => encodeResource(TypeUrl.Endpoint, clusterLoadAssignment(name, p.endpoints))));
      // PreferSameZone: one variant per zone a caller may be in.
      if (p.clusterPolicy?.locality?.mode !== 'PreferSameZone') continue;
      for (const zone of zones) {
        const zonal = zonalEndpointsName(name, zone);
        list.push(memo.get([zonal, p.endpoints], () => encodeResource(TypeUrl.Endpoint, clusterLoadAssignment(zonal, p.endpoints, zone))));
      }
    }
  }
  memo.sweep();
  return list;
}

/** A proxy's own resources (everything but endpoints and secrets), encoded, and the identities whose secrets it needs. */
export interface EncodedProxyResources {
  clusters: VersionedResource[];
  /**
   * The first clusters of `clusters`, shared by every proxy of the same scope,
   * mTLS and zone: one array object, encoded once (issue 14), which the
   * publisher makes one shared base TypeSet of.
   */
  sharedClusters: readonly VersionedResource[];
  listeners: VersionedResource[];
  routes: VersionedResource[];
  identities: string[];
  /**
   * A gateway's own secrets (its HTTPS certificates), owned by its identity:
   * a stream sees a secret only if it proved its owner (server/effective-sets.ts),
   * and only this gateway's snapshot holds them.
   */
  secrets: VersionedResource[];
}

/** The translator's shared cluster arrays, encoded once each; weak, so an array nobody holds takes its entry along. */
const sharedEncoded = new WeakMap<readonly Cluster[], readonly VersionedResource[]>();

export function proxyResources(translator: Translator, model: MeshModel, proxy: ProxyContext): EncodedProxyResources {
  const out = translator.translate(model, proxy);
  let shared = sharedEncoded.get(out.sharedClusters);
  if (!shared) sharedEncoded.set(out.sharedClusters, (shared = out.sharedClusters.map((c) => encodeResource(TypeUrl.Cluster, c))));
  const own = out.clusters.slice(out.sharedClusters.length).map((c) => encodeResource(TypeUrl.Cluster, c));
  return {
    clusters: [...shared, ...own],
    sharedClusters: shared,
    listeners: out.listeners.map((l) => encodeResource(TypeUrl.Listener, l)),
    routes: out.routes.map((r) => encodeResource(TypeUrl.Route, r)),
    identities: out.identities,
    secrets: out.secrets.map((r) => encodeResource(TypeUrl.Secret, r, { owner: out.identities[0] })),
  };
}
