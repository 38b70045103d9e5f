/**
 * Which services a proxy may call (DESIGN "per-proxy scope"): every service
 * in permissive mode; in strict mode only the destinations of TrafficTargets
 * that name its identity as a source — plus the backends of their
 * TrafficSplits and Gateway API routes (TCPRoutes too), which are where such calls actually go. And the other way
 * round: which rules say who may call a workload.
 */
import type { AccessRule, MeshModel, MeshService, ObjectKey, Workload } from '../model/types.ts';
import type { ProxyContext } from './proxy.ts';

export function visibleServices(model: MeshModel, proxy: ProxyContext): MeshService[] {
  const keys = new Set<ObjectKey>();
  if (model.mesh.authorization === 'permissive') {
    for (const k of model.services.keys()) keys.add(k);
  } else if (proxy.workload) {
    const index = indexOf(model);
    for (const dest of index.destinationsBySource.get(proxy.workload.identity) ?? []) {
      // Services whose endpoints run as it, with a sidecar or without (model Identity.services).
      for (const k of model.identities.get(dest)?.services ?? []) keys.add(k);
    }
  }
  for (const k of [...keys]) {
    const s = model.services.get(k);
    for (const splitKey of s?.splits ?? []) {
      for (const b of model.splits.get(splitKey)?.backends ?? []) keys.add(b.service);
    }
    // Gateway API routes send to their backends and mirrors: those clusters must be there too.
    for (const r of s?.routes ?? []) {
      for (const rule of r.rules) {
        for (const b of rule.backends) if (b.found) keys.add(`${b.namespace}/${b.name}`);
        for (const f of rule.filters) if (f.type === 'RequestMirror') keys.add(`${f.backend.namespace}/${f.backend.name}`);
      }
    }
    for (const p of s?.ports ?? []) for (const b of p.tcpRoute?.backends ?? []) if (b.found) keys.add(`${b.namespace}/${b.name}`);
  }
  return [...keys]
    .sort()
    .map((k) => model.services.get(k))
    .filter((s): s is MeshService => s !== undefined);
}

interface AccessIndex {
  destinationsBySource: Map<string, Set<string>>;
}

const indexes = new WeakMap<MeshModel, AccessIndex>();

/**
 * Built once per model: with a thousand identities, scanning every rule and
 * service per identity was quadratic (a second per publish in strict mode).
 */
function indexOf(model: MeshModel): AccessIndex {
  let index = indexes.get(model);
  if (index) return index;
  index = { destinationsBySource: new Map() };
  for (const rule of model.accessRules.values()) {
    for (const src of rule.sources) {
      let set = index.destinationsBySource.get(src.spiffeId);
      if (!set) index.destinationsBySource.set(src.spiffeId, (set = new Set()));
      set.add(rule.destination.spiffeId);
    }
  }
  indexes.set(model, index);
  return index;
}

/**
 * The rules a workload's inbound listeners enforce: in strict mode the
 * TrafficTargets naming its identity (none: nobody may call); in permissive
 * mode undefined, for no RBAC filter at all.
 */
export function inboundRules(model: MeshModel, w: Workload): readonly AccessRule[] | undefined {
  return model.mesh.authorization === 'strict' ? (model.accessByDestination.get(w.identity) ?? []) : undefined;
}
