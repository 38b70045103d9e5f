/**
 * /api/v1/intents: every object the mesh was given, with its conditions and
 * problems (where, what, what is expected), and for intents how many
 * connected proxies hold the config built from this model version. A
 * TrafficPolicy also says which service ports it applies to (`appliesTo`):
 * the served routes name the policy of a route override but not the one of
 * a whole service (Envoy has no place for it), and `trellis explain` cites
 * it from here.
 */
import type { AdminServer } from './http.ts';
import type { MeshModel, ObjectStatus, SourceError } from '../model/index.ts';

/** A service port a TrafficPolicy applies to (service-wide or port-specific, merged). */
export interface PolicyTarget {
  namespace: string;
  service: string;
  port: number;
}

/** Per TrafficPolicy key (`ns/name`), the service ports whose effective policy it contributes to. */
function policyTargets(model: MeshModel | undefined): Map<string, PolicyTarget[]> {
  const out = new Map<string, PolicyTarget[]>();
  for (const s of model?.services.values() ?? []) {
    for (const p of s.ports) {
      for (const key of p.policy?.from ?? []) {
        let list = out.get(key);
        if (!list) out.set(key, (list = []));
        list.push({ namespace: s.namespace, service: s.name, port: p.port });
      }
    }
  }
  return out;
}

const INTENT_KINDS = new Set(['TrafficSplit', 'HTTPRouteGroup', 'TrafficTarget', 'TrafficPolicy', 'MeshConfig']);

export function registerMeshRoutes(admin: AdminServer, mesh: { readonly generation: number; readonly sourceErrors: readonly SourceError[]; readonly statuses: readonly ObjectStatus[]; readonly model?: MeshModel }): void {
  admin.route('/api/v1/intents', (_p, url) => {
    const all = url.searchParams.get('all') === 'true';
    const targets = policyTargets(mesh.model);
    return {
      generation: mesh.generation,
      sourceErrors: mesh.sourceErrors,
      intents: mesh.statuses
        .filter((s) => all || INTENT_KINDS.has(s.kind))
        .map((s) => (s.kind === 'TrafficPolicy' ? { ...s, appliesTo: targets.get(`${s.namespace}/${s.name}`) ?? [] } : s)),
    };
  });
}
