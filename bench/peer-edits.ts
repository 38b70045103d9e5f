/**
 * What the peer benchmark (bench/peer.ts) serves and edits, encoded by
 * Trellis: bench/mesh.ts's mesh (N EDS clusters and their endpoint sets, one
 * API listener, one route configuration) and, per repeat, an endpoint change
 * (one endpoint set's ports move) and a cluster change (one cluster's circuit
 * breaker: a policy edit as it reaches a proxy). Pure and deterministic: the
 * Trellis server and the dump the go-control-plane peer reads hold the same
 * bytes.
 */
import { writeFileSync } from 'node:fs';
import { encodeResource, type VersionedResource } from '../src/cache/resource.ts';
import { TypeUrl, type ResourceTypeUrl } from '../src/xds/type-urls.ts';
import { cluster, endpoints, listener, routeConfiguration } from './mesh.ts';

export type EditKind = 'endpoint change' | 'cluster change';
export const EDIT_KINDS: readonly EditKind[] = ['endpoint change', 'cluster change'];

export interface PeerEdit {
  name: EditKind;
  typeUrl: ResourceTypeUrl;
  resources: VersionedResource[];
}

/** The file bench/go-control-plane/main.go reads: each resource's encoded message, base64. */
export interface PeerDump {
  types: Record<string, string[]>;
  edits: Array<{ name: string; typeUrl: string; resources: string[] }>;
}

export function peerResources(services: number): Map<ResourceTypeUrl, VersionedResource[]> {
  const range = Array.from({ length: services }, (_, i) => i);
  return new Map<ResourceTypeUrl, VersionedResource[]>([
    [TypeUrl.Cluster, range.map((i) => encodeResource(TypeUrl.Cluster, cluster(i)))],
    [TypeUrl.Endpoint, range.map((i) => encodeResource(TypeUrl.Endpoint, endpoints(i)))],
    [TypeUrl.Listener, [encodeResource(TypeUrl.Listener, listener())]],
    [TypeUrl.Route, [encodeResource(TypeUrl.Route, routeConfiguration(services))]],
  ]);
}

/** `repeats` × (endpoint change, cluster change), in the order bench/peer.ts applies them; each is new content. */
export function peerEdits(repeats: number): PeerEdit[] {
  const out: PeerEdit[] = [];
  for (let k = 1; k <= repeats; k++) {
    out.push({ name: 'endpoint change', typeUrl: TypeUrl.Endpoint, resources: [encodeResource(TypeUrl.Endpoint, endpoints(2, k))] });
    const limit = 1024 + k;
    const edited = { ...cluster(3), circuit_breakers: { thresholds: [{ max_connections: limit, max_pending_requests: limit, max_requests: limit }] } };
    out.push({ name: 'cluster change', typeUrl: TypeUrl.Cluster, resources: [encodeResource(TypeUrl.Cluster, edited)] });
  }
  return out;
}

/** Writes what the peer serves and applies: the resources and edits above, as Trellis encoded them. */
export function writePeerDump(file: string, services: number, repeats: number): void {
  const b64 = (list: readonly VersionedResource[]) => list.map((r) => r.value.toString('base64'));
  const dump: PeerDump = {
    types: Object.fromEntries([...peerResources(services)].map(([t, list]) => [t, b64(list)])),
    edits: peerEdits(repeats).map((e) => ({ name: e.name, typeUrl: e.typeUrl, resources: b64(e.resources) })),
  };
  writeFileSync(file, JSON.stringify(dump));
}
