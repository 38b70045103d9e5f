/**
 * A Trellis gateway's route configurations (names.ts
 * gatewayRouteConfigName): an HTTP port's one, or an HTTPS listener's own,
 * each a virtual host per hostname its routes serve, built by the same
 * code as mesh routes (mesh-routes.ts meshRoutes: matches, precedence,
 * filters, weights, 500 for backends that do not exist). Pure.
 *
 * Hostnames: a route attached to a listener serves the hostnames the two
 * share (model resolve/hostnames.ts); none named on either side is every
 * host (`*`). When listeners of one port take the same host, the most
 * specific listener's routes serve it (the spec: a request goes to the
 * listener whose hostname matches it best), so a host is one virtual host,
 * and Envoy's own choice between virtual hosts (exact, then the longest
 * wildcard, then `*`) is the spec's. A request for no host gets 404.
 */
import type { GatewayListener, GatewayRoute } from '../../model/types.ts';
import type { RouteConfiguration, VirtualHost } from '../../xds/envoy-types.ts';
import { meshRoutes } from '../mesh-routes.ts';
import { gatewayVirtualHostName } from '../names.ts';

/** Exact hostnames first, then wildcards by length, then a listener for every host. */
function specificity(l: GatewayListener): number {
  if (l.hostname === undefined) return 0;
  return l.hostname.startsWith('*.') ? l.hostname.length : 1000 + l.hostname.length;
}

export function gatewayRouteConfiguration(name: string, listeners: readonly GatewayListener[]): RouteConfiguration {
  const byHost = new Map<string, { listener: string; routes: GatewayRoute[] }>();
  for (const l of listeners.toSorted((a, b) => specificity(b) - specificity(a))) {
    const mine = new Map<string, GatewayRoute[]>();
    for (const r of l.routes) {
      for (const host of r.hostnames.length > 0 ? r.hostnames : [l.hostname ?? '*']) mine.set(host, [...(mine.get(host) ?? []), r]);
    }
    // A host a more specific listener took is that listener's.
    for (const [host, routes] of mine) if (!byHost.has(host)) byHost.set(host, { listener: l.name, routes });
  }
  const virtualHosts: VirtualHost[] = [...byHost]
    .toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([host, { listener, routes }]) => ({ name: gatewayVirtualHostName(listener, host), domains: [host], routes: meshRoutes(routes, undefined, 'envoy') }));
  return { name, virtual_hosts: virtualHosts, validate_clusters: false };
}
