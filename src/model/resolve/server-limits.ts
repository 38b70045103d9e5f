/**
 * The limits a server's sidecar counts (issue 15): from the policy in effect
 * on each service port a workload serves, the rate limits written with
 * `at: Server` (the default) and the connection cap. They are put on the
 * workload's served ports so that its inbound config, and its proxy's
 * signature, follow them (translate/signature.ts hashes the workload).
 */
import type { EffectivePolicy, ObjectKey, RateLimit, ServerLimits, Workload } from '../types.ts';
import { portKey } from './policies.ts';

function serverSide(r: RateLimit | undefined): Pick<ServerLimits, 'local' | 'global'> {
  return {
    ...(r?.local?.at === 'Server' ? { local: r.local } : {}),
    ...(r?.global?.at === 'Server' ? { global: r.global } : {}),
  };
}

/** undefined when nothing is counted at the server (the common case: served ports stay as they were). */
export function serverLimits(policy: EffectivePolicy | undefined, identities: readonly string[] = []): ServerLimits | undefined {
  if (!policy) return undefined;
  const routes: ServerLimits['routes'][number][] = [];
  for (const r of policy.routes) {
    const side = serverSide(r.rateLimit);
    if (side.local || side.global) routes.push({ matches: r.matches, ...side, from: r.from });
  }
  const port = serverSide(policy.rateLimit);
  const connections = policy.rateLimit?.connections;
  if (!port.local && !port.global && !connections && routes.length === 0) return undefined;
  // Per-caller buckets are keyed by SPIFFE ID: every identity of the mesh gets one (a caller the
  // mesh refuses is answered 403 before the limit, so its bucket is never used).
  const perCaller = [port, ...routes].some((s) => s.local?.perCaller);
  return { ...port, ...(connections ? { connections } : {}), ...(perCaller ? { callers: identities } : {}), routes };
}

/** The workloads with `limits` on the served ports whose policy counts something at the server. */
export function withServerLimits(
  workloads: ReadonlyMap<ObjectKey, Workload>,
  policies: ReadonlyMap<string, EffectivePolicy>,
  identities: readonly string[],
): Map<ObjectKey, Workload> {
  // One ServerLimits per policy object, so equal limits are one object (digests, memo keys).
  const made = new Map<EffectivePolicy, ServerLimits | undefined>();
  const of = (p: EffectivePolicy): ServerLimits | undefined => {
    if (!made.has(p)) made.set(p, serverLimits(p, identities));
    return made.get(p);
  };
  const out = new Map<ObjectKey, Workload>();
  for (const [key, w] of workloads) {
    let changed = false;
    const servedPorts = w.servedPorts.map((sp) => {
      const policy = policies.get(portKey(sp.service, sp.port));
      const limits = policy && of(policy);
      if (!limits) return sp;
      changed = true;
      return { ...sp, limits };
    });
    out.set(key, changed ? { ...w, servedPorts } : w);
  }
  return out;
}
