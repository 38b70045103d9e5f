/**
 * Questions asked of the model for one workload, written plainly: the
 * translator asks them through translate/scope.ts, indexed once per model for
 * scale, and tests check that the two agree.
 */
import type { MeshModel, ObjectKey, Workload } from './types.ts';

/**
 * Services a workload may call, sorted: every service in permissive mode; in
 * strict mode, services whose endpoints run as an identity that a TrafficTarget
 * lets this workload's identity call — plus the backends of those services'
 * TrafficSplits, since requests to the root go there.
 */
export function reachableServices(model: MeshModel, workload: Workload): ObjectKey[] {
  if (model.mesh.authorization === 'permissive') return [...model.services.keys()];
  const allowed = new Set<string>();
  for (const rule of model.accessRules.values()) {
    if (rule.sources.some((s) => s.spiffeId === workload.identity)) allowed.add(rule.destination.spiffeId);
  }
  const out = new Set<ObjectKey>();
  for (const id of allowed) {
    for (const svc of model.identities.get(id)?.services ?? []) {
      out.add(svc);
      for (const split of model.services.get(svc)?.splits ?? []) {
        for (const b of model.splits.get(split)?.backends ?? []) out.add(b.service);
      }
    }
  }
  return [...out].toSorted();
}
