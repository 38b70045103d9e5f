/**
 * ClusterLoadAssignment builder: endpoints grouped by zone (locality), with
 * health from EndpointSlice conditions. Pure.
 */
import type { Endpoint } from '../model/types.ts';

/**
 * EndpointSlice conditions → Envoy health (KEP-1672): ready → HEALTHY;
 * serving but terminating → DRAINING (finishes in-flight work, gets no new
 * requests unless nothing else is left); otherwise UNHEALTHY.
 */
export function healthOf(e: Endpoint): 'HEALTHY' | 'DRAINING' | 'UNHEALTHY' {
  if (e.ready && !e.terminating) return 'HEALTHY';
  if (e.serving && e.terminating) return 'DRAINING';
  return 'UNHEALTHY';
}

export function clusterLoadAssignment(name: string, endpoints: readonly Endpoint[]): Record<string, unknown> {
  const byZone = new Map<string, Endpoint[]>();
  for (const e of endpoints) {
    const zone = e.zone ?? '';
    let list = byZone.get(zone);
    if (!list) byZone.set(zone, (list = []));
    list.push(e);
  }
  const zones = [...byZone.keys()].sort();
  return {
    cluster_name: name,
    endpoints: zones.map((zone) => ({
      locality: zone ? { zone } : {},
      // gRPC clients drop a locality without a weight (PEERS: seen with both clients).
      load_balancing_weight: byZone.get(zone)!.length,
      lb_endpoints: byZone.get(zone)!.map((e) => ({
        endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } },
        health_status: healthOf(e),
      })),
    })),
  };
}
