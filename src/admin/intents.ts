/**
 * /api/v1/intents: every object the mesh was given, with its conditions and
 * problems (where, what, what is expected), and for intents how many
 * connected proxies hold the config built from this model version. A
 * TrafficPolicy also says which service ports it applies to (`appliesTo`),
 * and a TrafficSplit without matches the ports whose `default` route it
 * weighs: the served routes name the intent of a route override or a canary
 * but not these (a route is named `default`), and `trellis explain` cites
 * them from here.
 */
import type { AdminServer } from './http.ts';
import type { Condition, MeshModel, ObjectStatus, SourceError } from '../model/index.ts';

/** A service port a TrafficPolicy applies to (service-wide or port-specific, merged). */
export interface PolicyTarget {
  namespace: string;
  service: string;
  port: number;
}

/**
 * Per `Kind/ns/name`: the service ports a TrafficPolicy contributes to (its
 * effective policy), and those whose default route a TrafficSplit without
 * matches weighs (translate/routes.ts: the first such split with a weighted
 * backend on the port).
 */
function intentTargets(model: MeshModel | undefined): Map<string, PolicyTarget[]> {
  const out = new Map<string, PolicyTarget[]>();
  const add = (key: string, t: PolicyTarget) => {
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(t);
  };
  for (const s of model?.services.values() ?? []) {
    for (const p of s.ports) {
      const target = { namespace: s.namespace, service: s.name, port: p.port };
      for (const key of p.policy?.from ?? []) add(`TrafficPolicy/${key}`, target);
      const split = s.splits.map((k) => model!.splits.get(k)).find((sp) => sp && sp.matches.length === 0 && sp.backends.some((b) => b.weight > 0 && b.ports.includes(p.port)));
      if (split) add(`TrafficSplit/${split.namespace}/${split.name}`, target);
    }
  }
  return out;
}

const TARGETED = new Set(['TrafficPolicy', 'TrafficSplit']);

/**
 * Each condition says the generation it describes (`observedGeneration`), as
 * the Kubernetes status writer writes it and the Gateway API asks of every
 * condition: the object's, each route parent's and each listener's.
 */
function withObservedGeneration(s: ObjectStatus): ObjectStatus {
  const observedGeneration = s.generation;
  if (observedGeneration === undefined) return s;
  const mark = (list: readonly Condition[]) => list.map((c) => ({ ...c, observedGeneration }));
  return {
    ...s,
    conditions: mark(s.conditions),
    ...(s.parents ? { parents: s.parents.map((p) => ({ ...p, conditions: mark(p.conditions) })) } : {}),
    ...(s.listeners ? { listeners: s.listeners.map((l) => ({ ...l, conditions: mark(l.conditions) })) } : {}),
  };
}

const INTENT_KINDS = new Set([
  'TrafficSplit', 'HTTPRouteGroup', 'TCPRoute', 'TrafficTarget', 'TrafficPolicy', 'RequestAuthentication', 'MeshConfig', 'MTLSPolicy', 'ExternalService', 'Rollout',
  'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'GatewayClass', 'Gateway', 'ReferenceGrant', 'BackendTLSPolicy',
]);

export function registerMeshRoutes(admin: AdminServer, mesh: { readonly generation: number; readonly sourceErrors: readonly SourceError[]; readonly statuses: readonly ObjectStatus[]; readonly model?: MeshModel }): void {
  admin.route('/api/v1/intents', (_p, url) => {
    const all = url.searchParams.get('all') === 'true';
    const targets = intentTargets(mesh.model);
    return {
      generation: mesh.generation,
      sourceErrors: mesh.sourceErrors,
      intents: mesh.statuses
        .filter((s) => all || INTENT_KINDS.has(s.kind))
        .map(withObservedGeneration)
        .map((s) => (TARGETED.has(s.kind) ? { ...s, appliesTo: targets.get(`${s.kind}/${s.namespace}/${s.name}`) ?? [] } : s)),
    };
  });
}
