/**
 * The HTTP filter chains of Trellis's connection managers, decided in one
 * place: which filters a sidecar runs, in which order, inbound and outbound.
 * Listener builders say which filters they need; the order is this file's.
 *
 * Inbound (a request arriving for the local application):
 *   jwt_authn → rbac → claim_rbac → local_ratelimit → ratelimit → router
 *   - authentication before authorization, which may read its claims:
 *     jwt_authn validates the end user's token (401 when present but invalid)
 *     and writes its payload into dynamic metadata; rbac is the TrafficTargets
 *     (strict mode: which workloads may call, from the verified client
 *     certificate); claim_rbac the RequestAuthentication rules, reading what
 *     jwt_authn wrote. Both RBAC filters must allow a request (each is an
 *     ALLOW list: docs/intents.md "How identity and claim rules combine");
 *   - authorization before any limit: a caller the mesh refuses must not
 *     spend the tokens of the callers it allows (it could starve them), and
 *     is answered 403, not 429;
 *   - the local bucket before the global check: a request the sidecar
 *     refuses on its own costs no round trip to the rate limit service and
 *     does not count against the mesh-wide quota.
 * Outbound (a request the local application makes):
 *   grpc_stats → fault → local_ratelimit → ratelimit → router
 *   - grpc_stats first: it counts the gRPC status the caller gets per
 *     destination cluster (golden metrics, translate/stats.ts), a fault's
 *     or a limit's local reply included, as the application sees it;
 *   - faults first: a drill's aborted request never reaches the dependency,
 *     so it must not use the caller's tokens nor the mesh-wide quota (a chaos
 *     drill on one caller would otherwise throttle the others); a delayed
 *     request is counted when it is released, as the dependency would see it;
 *   - local before global, as inbound.
 * The router is always last (it sends the request upstream).
 *
 * A chain holds only the filters some route may use (a listener without any
 * fault or limit keeps `[rbac?, router]`): every filter costs each request,
 * and a changed chain drains the listener's connections, so it changes only
 * when the first fault or limit appears or the last goes.
 */
import type { RateLimitService } from '../model/types.ts';
import type { HttpFilter } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { durationOf } from './cluster.ts';
import { LOCAL_RATELIMIT_STAT_PREFIX, RATELIMIT_CLUSTER, RATELIMIT_STAT_PREFIX } from './names.ts';

export type Direction = 'inbound' | 'outbound';
/** Where a connection manager runs: a sidecar's side, or an ingress gateway. */
export type FilterSide = Direction | 'gateway';

/** Filters by their role. */
export type FilterRole = 'jwt_authn' | 'rbac' | 'claim_rbac' | 'grpc_stats' | 'fault' | 'local_ratelimit' | 'ratelimit';

/** The filters one connection manager has, by role; a missing role is left out. */
export type HttpFiltersByRole = Partial<Record<FilterRole, HttpFilter>>;

export const FILTER_ORDER: { readonly [D in FilterSide]: readonly FilterRole[] } = {
  inbound: ['jwt_authn', 'rbac', 'claim_rbac', 'local_ratelimit', 'ratelimit'],
  outbound: ['grpc_stats', 'fault', 'local_ratelimit', 'ratelimit'],
  // An ingress gateway (translate/gateway/): end-user tokens and claim rules; callers have no mesh identity.
  gateway: ['jwt_authn', 'claim_rbac'],
};

/** `filters` in this direction's order, then the router. A role the direction does not run is our bug. */
export function httpFilters(direction: FilterSide, filters: HttpFiltersByRole): HttpFilter[] {
  const order = FILTER_ORDER[direction];
  for (const role of Object.keys(filters) as FilterRole[]) {
    if (filters[role] && !order.includes(role)) throw new Error(`http-filters: no ${role} filter on the ${direction} side`);
  }
  return [...order.flatMap((role) => (filters[role] ? [filters[role]] : [])), extension('Router', {})];
}

/** What a chain needs, as flags: what listener memo keys carry. */
export interface LimitFeatures {
  fault?: boolean;
  local?: boolean;
  /** The rate limit service, when some route asks it. */
  global?: RateLimitService;
}

/** The fault, local and global rate limit filters `features` asks for, by role. */
export function limitFilters(direction: Direction, features: LimitFeatures): HttpFiltersByRole {
  return {
    ...(features.fault && direction === 'outbound' ? { fault: faultFilter() } : {}),
    ...(features.local ? { local_ratelimit: localRateLimitFilter(direction) } : {}),
    ...(features.global ? { ratelimit: rateLimitFilter(direction, features.global) } : {}),
  };
}

/** No fault of its own: each virtual host or route says what to inject (fault.ts). */
function faultFilter(): HttpFilter {
  return extension('Fault', {});
}

/** No bucket of its own: each virtual host or route brings one (rate-limits.ts), and without one nothing is limited. */
function localRateLimitFilter(direction: Direction): HttpFilter {
  return extension('LocalRateLimit', { stat_prefix: LOCAL_RATELIMIT_STAT_PREFIX[direction] });
}

/**
 * Asks the rate limit service about requests whose route (or virtual host)
 * has rate_limits; others pass untouched. x-ratelimit-* headers (IETF
 * draft 03) tell a client what is left.
 */
function rateLimitFilter(direction: Direction, rls: RateLimitService): HttpFilter {
  return extension('RateLimit', {
    domain: rls.domain,
    stat_prefix: RATELIMIT_STAT_PREFIX[direction],
    timeout: durationOf(rls.timeoutMs),
    failure_mode_deny: rls.failClosed,
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: RATELIMIT_CLUSTER } }, transport_api_version: 'V3' },
  });
}
