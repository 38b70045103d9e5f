/**
 * /api/v1/intents: every object the mesh was given, with its conditions and
 * problems (where, what, what is expected), and for intents how many
 * connected proxies hold the config built from this model version.
 */
import type { AdminServer } from './http.ts';
import type { ObjectStatus, SourceError } from '../model/index.ts';

const INTENT_KINDS = new Set([
  'TrafficSplit', 'HTTPRouteGroup', 'TrafficTarget', 'TrafficPolicy', 'MeshConfig',
  'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'GatewayClass', 'Gateway', 'ReferenceGrant', 'BackendTLSPolicy',
]);

export function registerMeshRoutes(admin: AdminServer, mesh: { readonly generation: number; readonly sourceErrors: readonly SourceError[]; readonly statuses: readonly ObjectStatus[] }): void {
  admin.route('/api/v1/intents', (_p, url) => {
    const all = url.searchParams.get('all') === 'true';
    return {
      generation: mesh.generation,
      sourceErrors: mesh.sourceErrors,
      intents: mesh.statuses.filter((s) => all || INTENT_KINDS.has(s.kind)),
    };
  });
}
