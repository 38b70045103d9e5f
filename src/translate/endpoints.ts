/**
 * ClusterLoadAssignment builder: endpoints grouped by zone (locality), with
 * health from EndpointSlice conditions. Pure.
 */
import type { Endpoint } from '../model/types.ts';
import type { ClusterLoadAssignment, HealthStatus } from '../xds/envoy-types.ts';
import { socketAddress } from './fragments.ts';
import { endpointMetadata } from './permissive.ts';

/**
 * EndpointSlice conditions → Envoy health (KEP-1672): ready → HEALTHY;
 * serving but terminating → DRAINING (finishes in-flight work, gets no new
 * requests unless nothing else is left); otherwise UNHEALTHY.
 */
export function healthOf(e: Endpoint): Extract<HealthStatus, 'HEALTHY' | 'DRAINING' | 'UNHEALTHY'> {
  if (e.ready && !e.terminating) return 'HEALTHY';
  if (e.serving && e.terminating) return 'DRAINING';
  return 'UNHEALTHY';
}

/**
 * @param preferZone endpoints in this zone get priority 0, the rest priority
 *   1, so callers fail over to other zones only when their own is unhealthy.
 *   Priorities must start at 0 without gaps (gRPC clients reject gaps), so
 *   with no endpoint in the zone every locality stays at 0.
 */
export function clusterLoadAssignment(name: string, endpoints: readonly Endpoint[], preferZone?: string): ClusterLoadAssignment {
  const byZone = new Map<string, Endpoint[]>();
  for (const e of endpoints) {
    const zone = e.zone ?? '';
    let list = byZone.get(zone);
    if (!list) byZone.set(zone, (list = []));
    list.push(e);
  }
  const zones = [...byZone.keys()].sort();
  const zoned = preferZone !== undefined && byZone.has(preferZone);
  return {
    cluster_name: name,
    endpoints: zones.map((zone) => ({
      locality: zone ? { zone } : {},
      // gRPC clients drop a locality without a weight (PEERS: seen with both clients).
      load_balancing_weight: byZone.get(zone)!.length,
      ...(zoned && zone !== preferZone ? { priority: 1 } : {}),
      lb_endpoints: byZone.get(zone)!.map((e) => ({
        endpoint: { address: socketAddress(e.address, e.port) },
        health_status: healthOf(e),
        ...endpointMetadata(e),
      })),
    })),
  };
}
