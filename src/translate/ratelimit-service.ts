/**
 * The rate limit service's own config (github.com/envoyproxy/ratelimit's
 * YAML: a domain and its descriptors), from the global limits of every
 * accepted TrafficPolicy. Sidecars send `(trellis_policy, <ns/policy[#i]>)`
 * for a request (limits.ts globalRateLimits); this says how many of those
 * each value may have per unit, counted mesh-wide in the service's Redis.
 * Pure: runtime/ratelimit-config.ts writes it where the service reads it.
 */
import type { GlobalRateLimit, MeshModel } from '../model/types.ts';
import { RATELIMIT_DESCRIPTOR_KEY } from './names.ts';

export interface RateLimitServiceConfig {
  domain: string;
  descriptors: { key: string; value: string; rate_limit: { unit: GlobalRateLimit['unit']; requests_per_unit: number } }[];
}

/** undefined when the mesh names no rate limit service (nothing may then ask it). */
export function rateLimitServiceConfig(model: MeshModel): RateLimitServiceConfig | undefined {
  const rls = model.mesh.rateLimitService;
  if (!rls) return undefined;
  const limits: GlobalRateLimit[] = [];
  for (const p of model.policies.values()) {
    if (p.rateLimit?.global) limits.push(p.rateLimit.global);
    for (const r of p.routes) if (r.rateLimit?.global) limits.push(r.rateLimit.global);
  }
  return {
    domain: rls.domain,
    descriptors: limits
      .toSorted((a, b) => (a.descriptor < b.descriptor ? -1 : a.descriptor > b.descriptor ? 1 : 0))
      .map((g) => ({ key: RATELIMIT_DESCRIPTOR_KEY, value: g.descriptor, rate_limit: { unit: g.unit, requests_per_unit: g.requests } })),
  };
}
