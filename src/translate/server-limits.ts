/**
 * The server side of rate limits (issue 15): what an inbound connection
 * manager enforces for the port it serves (model ServedPort.limits) — its
 * virtual host with the port's bucket and global descriptor, a route per
 * route section that has limits of its own, the filters that needs, and the
 * connection cap in front of it. Pure.
 */
import type { HttpMatch, RateLimitService, ServerLimits } from '../model/types.ts';
import type { Filter, Route, VirtualHost } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import type { LimitFeatures } from './http-filters.ts';
import { callerRateLimits, globalRateLimits, perFilterConfig } from './limits.ts';
import { routeMatch } from './match.ts';
import { connectionLimitStatPrefix, DEFAULT_ROUTE, INBOUND_VIRTUAL_HOST, policyRouteName } from './names.ts';

/** The filters an inbound chain needs for `limits` (a global limit only with a rate limit service: validation sees to it). */
export function serverFeatures(limits: ServerLimits | undefined, rls: RateLimitService | undefined): LimitFeatures {
  if (!limits) return {};
  const sections = [limits, ...limits.routes];
  return {
    ...(sections.some((s) => s.local) ? { local: true } : {}),
    ...(rls && sections.some((s) => s.global) ? { global: rls } : {}),
  };
}

/** The rate_limits of a virtual host or route: the global limit's (stage 0), and a per-caller bucket's (its own stage). */
function rateLimits(limits: Pick<ServerLimits, 'local' | 'global'>, callers: readonly string[] | undefined) {
  const out = [...(limits.global ? globalRateLimits(limits.global) : []), ...(limits.local?.perCaller && callers ? callerRateLimits(callers) : [])];
  return out.length > 0 ? out : undefined;
}

/**
 * `port`: the port's limits, whose bucket applies where the section has none;
 * its per-caller descriptors must then come from the route's own rate_limits
 * too (a route's rate_limits replace its virtual host's).
 */
function route(name: string, match: HttpMatch | undefined, cluster: string, limits: Pick<ServerLimits, 'local' | 'global'>, port: ServerLimits | undefined): Route {
  const callers = port?.callers;
  const perFilter = perFilterConfig({ ...(limits.local ? { local: limits.local } : {}), callers, direction: 'inbound' });
  const rl = rateLimits({ global: limits.global, local: limits.local ?? port?.local }, callers);
  return {
    name,
    match: routeMatch(match),
    // No timeout: the caller's sidecar keeps the request's deadline (routes.ts).
    route: { cluster, timeout: '0s', ...(rl ? { rate_limits: rl } : {}) },
    ...(perFilter ? { typed_per_filter_config: perFilter } : {}),
  };
}

/** The inbound virtual host: every request to the application, with the port's limits and its route sections' first. */
export function inboundVirtualHost(cluster: string, limits: ServerLimits | undefined): VirtualHost {
  const routes: Route[] = [];
  for (const r of limits?.routes ?? []) {
    r.matches.forEach((m, i) => routes.push(route(policyRouteName(r.from.split('/')[1]!, m.name || i), m, cluster, r, limits)));
  }
  routes.push(limits?.routes.length ? route(DEFAULT_ROUTE, undefined, cluster, {}, undefined) : { match: { prefix: '/' }, route: { cluster, timeout: '0s' } });
  const vh: VirtualHost = { name: INBOUND_VIRTUAL_HOST, domains: ['*'], routes };
  const rl = limits && rateLimits(limits, limits.callers);
  if (rl) vh.rate_limits = rl;
  const perFilter = limits?.local && perFilterConfig({ local: limits.local, callers: limits.callers, direction: 'inbound' });
  if (perFilter) vh.typed_per_filter_config = perFilter;
  return vh;
}

/**
 * At most `max` connections open at once on this listener or filter chain;
 * one more is closed right away (Envoy's connection_limit filter, stats
 * under connection_limit_<name>.).
 */
export function connectionLimitFilter(name: string, max: number): Filter {
  return extension('ConnectionLimit', { stat_prefix: connectionLimitStatPrefix(name), max_connections: max });
}
