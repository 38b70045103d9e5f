/**
 * Which services a proxy may call (DESIGN "per-proxy scope"): every service
 * in permissive mode; in strict mode only the destinations of TrafficTargets
 * that name its identity as a source — plus the backends of their
 * TrafficSplits, which are where such calls actually go.
 */
import type { MeshModel, MeshService, ObjectKey } from '../model/types.ts';
import type { ProxyContext } from './proxy.ts';

export function visibleServices(model: MeshModel, proxy: ProxyContext): MeshService[] {
  const keys = new Set<ObjectKey>();
  if (model.mesh.authorization === 'permissive') {
    for (const k of model.services.keys()) keys.add(k);
  } else if (proxy.workload) {
    const me = proxy.workload.identity;
    const allowed = new Set<string>();
    for (const rule of model.accessRules.values()) {
      if (rule.sources.some((s) => s.spiffeId === me)) allowed.add(rule.destination.spiffeId);
    }
    for (const s of model.services.values()) {
      if (s.identities.some((id) => allowed.has(id))) keys.add(s.key);
    }
  }
  for (const k of [...keys]) {
    const s = model.services.get(k);
    for (const splitKey of s?.splits ?? []) {
      for (const b of model.splits.get(splitKey)?.backends ?? []) keys.add(b.service);
    }
  }
  return [...keys]
    .sort()
    .map((k) => model.services.get(k))
    .filter((s): s is MeshService => s !== undefined);
}
