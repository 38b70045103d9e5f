/**
 * GET /api/v1/versions?node=<json>: what this replica would serve a node
 * now, as resource name -> content-hash version per type (cds, eds, lds,
 * rds), whether or not that node is connected here. Versions are content
 * hashes, so replicas with the same input answer the same for the same
 * node; `trellis check` asks every replica about every proxy ("replicas
 * agree on versions"). The answer is the publisher's own prediction
 * (proxy-resources.ts, as `trellis diff` uses it). Secrets are left out:
 * each replica issues its own leaf certificates, so they differ by design.
 */
import type { VersionedResource } from '../cache/resource.ts';
import { HttpError, type AdminServer } from '../admin/http.ts';
import type { MeshModel } from '../model/types.ts';
import type { NodeLike } from '../translate/proxy.ts';
import { proxyContext } from '../translate/proxy.ts';
import { Translator } from '../translate/translate.ts';
import { endpointZones, meshEndpoints, proxyResources } from './proxy-resources.ts';

/** Per short type name (cds, eds, lds, rds): the resources a node would get. */
export type PredictedResources = Record<'cds' | 'eds' | 'lds' | 'rds', VersionedResource[]>;

/**
 * What `node` would be sent from `model`. Endpoint sets: the ones its
 * clusters name (what it subscribes to), made for its own zone.
 */
export function predictedResources(translator: Translator, model: MeshModel, node: NodeLike, endpoints = meshEndpoints(model, endpointZones(model, [node]))): PredictedResources {
  const own = proxyResources(translator, model, proxyContext(node, model));
  const wanted = new Set(own.clusters.flatMap((c) => c.references.endpoints));
  return { cds: own.clusters, eds: endpoints.filter((e) => wanted.has(e.name)), lds: own.listeners, rds: own.routes };
}

/** The node as the admin API lists a proxy (`GET /api/v1/proxies`): id, userAgentName, locality, metadata. */
export function parseNodeParam(text: string | null): NodeLike {
  if (!text) throw new HttpError(400, 'query parameter node: missing (the JSON of a proxy as GET /api/v1/proxies lists it)');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'query parameter node: not JSON');
  }
  const o = v as { node?: unknown; id?: unknown; userAgentName?: unknown; locality?: unknown; metadata?: unknown };
  const id = typeof o?.id === 'string' ? o.id : typeof o?.node === 'string' ? o.node : undefined;
  if (!id) throw new HttpError(400, 'query parameter node: no "node" (or "id") string');
  const obj = (x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined);
  const zone = obj(o.locality)?.zone;
  return {
    id,
    ...(typeof o.userAgentName === 'string' ? { user_agent_name: o.userAgentName } : {}),
    ...(typeof zone === 'string' ? { locality: { zone } } : {}),
    metadata: obj(o.metadata) ?? {},
  };
}

export function registerServedVersionsRoute(admin: AdminServer, mesh: { readonly model: MeshModel | undefined; readonly generation: number }): void {
  admin.route('/api/v1/versions', (_p, url) => {
    const node = parseNodeParam(url.searchParams.get('node'));
    const model = mesh.model;
    if (!model) throw new HttpError(503, 'nothing is served yet (no mesh model): see /readyz');
    // A translator of its own: nothing of an operator's query stays in memory.
    const predicted = predictedResources(new Translator(), model, node);
    const types = Object.fromEntries(Object.entries(predicted).map(([t, rs]) => [t, Object.fromEntries(rs.map((r) => [r.name, r.version]).sort(([a], [b]) => a!.localeCompare(b!)))]));
    return { node: node.id, generation: mesh.generation, types };
  });
}
