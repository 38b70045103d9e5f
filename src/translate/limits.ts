/**
 * Faults and rate limits (issue 15) as Envoy writes them on virtual hosts
 * and routes: the per-route config of the fault and local rate limit filters
 * (typed_per_filter_config), the rate_limits actions that make the ratelimit
 * filter ask the rate limit service, and the cluster it asks through. The
 * filters themselves and their order are http-filters.ts's. Pure.
 *
 * A virtual host carries what a policy sets for a whole service port; a
 * route carries what one of its route sections sets, and replaces the
 * virtual host's for requests it matches (Envoy takes the most specific
 * per-filter config; a route's rate_limits replace its virtual host's).
 */
import type { Fault, GlobalRateLimit, LimitUnit, LocalRateLimit, MeshService, RateLimit, RateLimitService } from '../model/types.ts';
import type { Any, Cluster, HeaderMatcher, HTTPFault, HttpLocalRateLimit, RouteRateLimit } from '../xds/envoy-types.ts';
import { Extension, typedConfig } from '../xds/extensions.ts';
import { durationOf } from './cluster.ts';
import { http2Only, singleAddress } from './fragments.ts';
import type { Direction, LimitFeatures } from './http-filters.ts';
import { CALLER_DESCRIPTOR_KEY, LOCAL_RATELIMIT_STAT_PREFIX, RATELIMIT_CLUSTER, RATELIMIT_DESCRIPTOR_KEY } from './names.ts';

/**
 * The rate_limits stage of per-caller descriptors: the ratelimit filter (the
 * global limit) reads stage 0, so the local filter's descriptors, which must
 * never reach the rate limit service, live in their own.
 */
export const CALLER_STAGE = 1;

const UNIT_MS: Record<LimitUnit, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** A percentage as Envoy's FractionalPercent, per million so 0.0001 % is exact. */
function perMillion(percent: number): { numerator: number; denominator: 'MILLION' } {
  return { numerator: Math.round(percent * 10_000), denominator: 'MILLION' };
}

export function faultConfig(f: Fault): HTTPFault {
  const out: HTTPFault = {};
  if (f.delay) out.delay = { fixed_delay: durationOf(f.delay.delayMs), percentage: perMillion(f.delay.percent) };
  if (f.abort) {
    const status = 'httpStatus' in f.abort ? { http_status: f.abort.httpStatus } : { grpc_status: f.abort.grpcStatus };
    out.abort = { ...status, percentage: perMillion(f.abort.percent) };
  }
  // Only requests carrying every header with exactly this value: a test can target itself.
  if (f.headers.length > 0) out.headers = f.headers.map((h): HeaderMatcher => ({ name: h.name, string_match: { exact: h.value } }));
  return out;
}

/**
 * One token bucket: `burst` tokens, `requests` added every `unit`. A limited
 * request gets 429 with body "local_rate_limited" (Envoy's), the
 * x-ratelimit-limit/-remaining/-reset headers, and `x-trellis-ratelimited:
 * local` so a client can tell the sidecar refused it, not the application.
 */
export function localLimitConfig(l: LocalRateLimit, direction: Direction, callers?: readonly string[]): HttpLocalRateLimit {
  const always = { default_value: { numerator: 100, denominator: 'HUNDRED' as const } };
  const bucket = { max_tokens: l.burst, tokens_per_fill: l.requests, fill_interval: durationOf(UNIT_MS[l.unit]) };
  // perCaller: the same bucket once per caller identity (callerRateLimits makes the descriptor);
  // the default bucket above then serves requests with no known caller only.
  // Envoy takes a token from the default bucket too unless told not to: then every caller would share it.
  const perCaller = l.perCaller && callers
    ? {
        stage: CALLER_STAGE,
        descriptors: callers.map((id) => ({ entries: [{ key: CALLER_DESCRIPTOR_KEY, value: id }], token_bucket: { ...bucket } })),
        always_consume_default_token_bucket: false,
      }
    : {};
  return {
    stat_prefix: LOCAL_RATELIMIT_STAT_PREFIX[direction],
    token_bucket: bucket,
    ...perCaller,
    filter_enabled: { ...always, runtime_key: `${LOCAL_RATELIMIT_STAT_PREFIX[direction]}.enabled` },
    filter_enforced: { ...always, runtime_key: `${LOCAL_RATELIMIT_STAT_PREFIX[direction]}.enforced` },
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    response_headers_to_add: [{ header: { key: RATELIMITED_HEADER, value: 'local' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
  };
}

/** On a response the sidecar refused: which limit (`local`); the global one's 429 carries the service's x-ratelimit-* headers. */
export const RATELIMITED_HEADER = 'x-trellis-ratelimited';

/** The rate_limits that count a request under the limit's descriptor (the rate limit service's config names the same). */
export function globalRateLimits(g: GlobalRateLimit): RouteRateLimit[] {
  return [{ actions: [{ generic_key: { descriptor_key: RATELIMIT_DESCRIPTOR_KEY, descriptor_value: g.descriptor } }] }];
}

/**
 * The rate_limits that name a request's caller for a per-caller bucket: one
 * entry per identity, which yields its descriptor only when the verified
 * client certificate's URI SAN (the last element of x-forwarded-client-cert,
 * which the inbound connection manager sets and never takes from the
 * caller) is that identity.
 */
export function callerRateLimits(callers: readonly string[]): RouteRateLimit[] {
  return callers.map((id) => ({
    stage: CALLER_STAGE,
    actions: [{ header_value_match: { descriptor_key: CALLER_DESCRIPTOR_KEY, descriptor_value: id, headers: [{ name: 'x-forwarded-client-cert', string_match: { suffix: `;URI=${id}` } }] } }],
  }));
}

/** typed_per_filter_config for a virtual host or route: what the fault and local rate limit filters do there. */
export function perFilterConfig(o: { fault?: Fault; local?: LocalRateLimit; callers?: readonly string[]; direction: Direction }): Record<string, Any> | undefined {
  const out: Record<string, Any> = {};
  if (o.fault) out[Extension.Fault.name] = typedConfig('Fault', faultConfig(o.fault));
  if (o.local) out[Extension.LocalRateLimit.name] = typedConfig('LocalRateLimit', localLimitConfig(o.local, o.direction, o.callers));
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The rate limit service, plaintext HTTP/2 (gRPC). It is outside the mesh's
 * mTLS: run it where only the sidecars reach it (docs/intents.md).
 */
export function rateLimitCluster(rls: RateLimitService): Cluster {
  return {
    name: RATELIMIT_CLUSTER,
    // A DNS name (a Service's) or an address: STRICT_DNS takes both.
    type: 'STRICT_DNS',
    connect_timeout: '1s',
    load_assignment: singleAddress(RATELIMIT_CLUSTER, rls.host, rls.port),
    typed_extension_protocol_options: http2Only(),
  };
}

/** Merges what several virtual hosts or ports need into the one chain they share. */
export function mergeFeatures(a: LimitFeatures, b: LimitFeatures): LimitFeatures {
  return { ...((a.fault || b.fault) ? { fault: true } : {}), ...((a.local || b.local) ? { local: true } : {}), ...((a.global ?? b.global) ? { global: a.global ?? b.global } : {}) };
}

/** What callers' sidecars apply of a policy or route section: its fault, and the limits written `at: Client`. */
export function clientSide(p: { fault?: Fault; rateLimit?: RateLimit }): { fault?: Fault; local?: LocalRateLimit; global?: GlobalRateLimit } | undefined {
  const local = p.rateLimit?.local?.at === 'Client' ? p.rateLimit.local : undefined;
  const global = p.rateLimit?.global?.at === 'Client' ? p.rateLimit.global : undefined;
  if (!p.fault && !local && !global) return undefined;
  return { ...(p.fault ? { fault: p.fault } : {}), ...(local ? { local } : {}), ...(global ? { global } : {}) };
}

/** What the outbound chain needs for these services' ports: a fault, a Client-side bucket, the rate limit service. */
export function outboundFeatures(services: readonly MeshService[], rls: RateLimitService | undefined): LimitFeatures {
  let out: LimitFeatures = {};
  for (const s of services) {
    for (const p of s.ports) {
      if (!p.policy || p.protocol === 'tcp') continue;
      for (const section of [p.policy, ...p.policy.routes]) {
        const c = clientSide(section);
        if (c) out = mergeFeatures(out, { ...(c.fault ? { fault: true } : {}), ...(c.local ? { local: true } : {}), ...(c.global && rls ? { global: rls } : {}) });
      }
    }
  }
  return out;
}
