/**
 * TrafficPolicies: the target service (and port) and route references must
 * exist; one policy per service, and one per service port (the older wins).
 * A port's effective policy is the service-wide policy with the port-specific
 * one's sections laid over it, section by section; a port's cluster follows
 * its own policy, else its split root's or route parent's (`clusterPolicies`).
 */
import type { RateLimitSpec } from '../kinds/rate-limit.ts';
import type { TrafficPolicySpec } from '../kinds/traffic-policy.ts';
import type { EffectivePolicy, MeshRoute, MeshSettings, ObjectKey, PolicyIntent, PolicySettings, RateLimit, RouteGroup, RoutePolicy, Split } from '../types.ts';
import { olderFirst, sortedMap, type Book, type Entry } from './book.ts';
import { resolveRouteRef } from './routes.ts';
import { resolveServiceTarget } from './service-target.ts';
import type { ServiceDraft } from './services.ts';

const SECTIONS = ['timeouts', 'retries', 'circuitBreaker', 'outlierDetection', 'loadBalancer', 'locality', 'healthCheck', 'fault', 'rateLimit'] as const;

export function resolvePolicies(
  policies: readonly Entry<TrafficPolicySpec>[],
  services: ReadonlyMap<ObjectKey, ServiceDraft>,
  groups: ReadonlyMap<ObjectKey, RouteGroup>,
  book: Book,
  mesh: MeshSettings,
): Map<ObjectKey, PolicyIntent> {
  const owner = new Map<string, PolicyIntent>();
  const accepted: PolicyIntent[] = [];
  for (const e of policies.toSorted(olderFirst)) {
    const target = resolveServiceTarget(e, services, book);
    if (!target) continue;
    const svc = target.svc;
    let port: number | undefined;
    const p = target.port;
    if (p) {
      port = p.port;
      const t = e.spec.timeouts;
      const requestTimeouts = t !== undefined && (t.requestMs !== undefined || t.perTryMs !== undefined);
      if (p.protocol === 'tcp' && (requestTimeouts || e.spec.retries || e.spec.fault || e.spec.rateLimit?.local || e.spec.rateLimit?.global || e.spec.routes.length > 0)) {
        book.warn(e, 'spec', 'Ignored', `port ${p.port} carries plain TCP, so request and perTry timeouts, retries, faults, request rate limits and routes do not apply to it (connect and idle timeouts, circuit breaking, outlier detection, load balancing and connection caps do); set appProtocol: http (or grpc) on the port if it speaks HTTP`);
      }
    }
    checkGrpcHealthCheck(e, svc, port, book);
    // A global limit is counted by the rate limit service: without one, it would limit nothing.
    const noService = (field: string) =>
      book.error(e, field, 'RefNotFound', 'a global rate limit is counted by the rate limit service, and none is configured: set spec.rateLimitService.address in the MeshConfig (docs/intents.md "Rate limits"), or use a local limit');
    if (e.spec.rateLimit?.global && !mesh.rateLimitService) noService('spec.rateLimit.global');
    const routes: RoutePolicy[] = [];
    e.spec.routes.forEach((r, i) => {
      if (r.rateLimit?.global && !mesh.rateLimitService) noService(`${r.path}.rateLimit.global`);
      const matches = resolveRouteRef(r.match, e, groups, book);
      const rateLimit = r.rateLimit && withDescriptor(r.rateLimit, `${e.key}#${i}`);
      if (matches) routes.push({ matches, ...(r.timeouts ? { timeouts: r.timeouts } : {}), ...(r.retries ? { retries: r.retries } : {}), ...(r.fault ? { fault: r.fault } : {}), ...(rateLimit ? { rateLimit } : {}), from: e.key });
    });
    if (book.rejected(e)) continue;
    const claim = `${svc.key} ${port ?? '*'}`;
    const first = owner.get(claim);
    if (first) {
      const what = port === undefined ? `service "${svc.name}"` : `port ${port} of service "${svc.name}"`;
      book.error(e, port === undefined ? 'spec.targetRef' : 'spec.targetRef.port', 'Conflict',
        `TrafficPolicy "${first.name}" already applies to ${what}; only one may. Merge the settings into "${first.name}" or target another port`);
      continue;
    }
    const settings: PolicySettings = {};
    for (const k of SECTIONS) if (e.spec[k] !== undefined) Object.assign(settings, { [k]: k === 'rateLimit' ? withDescriptor(e.spec.rateLimit!, e.key) : e.spec[k] });
    const intent: PolicyIntent = { key: e.key, namespace: e.namespace, name: e.name, service: svc.key, ...(port !== undefined ? { port } : {}), ...settings, routes };
    owner.set(claim, intent);
    accepted.push(intent);
  }
  return sortedMap(accepted.map((p) => [p.key, p]));
}

/**
 * A gRPC health check speaks HTTP/2, and Envoy refuses one on a cluster that
 * does not (the whole CDS update would be NACKed): only on grpc/http2 ports.
 * translate/health-check.ts leaves it off the other ports of a service-wide policy.
 */
function checkGrpcHealthCheck(e: Entry<TrafficPolicySpec>, svc: ServiceDraft, port: number | undefined, book: Book): void {
  if (!e.spec.healthCheck || !('grpc' in e.spec.healthCheck.check)) return;
  const h1 = svc.ports.filter((p) => (port === undefined || p.port === port) && p.protocol === 'http').map((p) => p.port);
  if (h1.length === 0) return;
  const why = `a grpc health check needs HTTP/2, and port${h1.length > 1 ? 's' : ''} ${h1.join(', ')} of service "${svc.name}" speak${h1.length > 1 ? '' : 's'} HTTP/1`;
  if (port !== undefined) book.error(e, 'spec.healthCheck.grpc', 'InvalidValue', `${why}; use http or tcp, or set appProtocol: grpc on the port`);
  else book.warn(e, 'spec.healthCheck.grpc', 'Ignored', `${why}; ${h1.length > 1 ? 'they are' : 'it is'} not health-checked. Give ${h1.length > 1 ? 'them' : 'it'} a port-specific policy with an http or tcp check`);
}

/** Key of one service port in the maps below. */
export const portKey = (service: ObjectKey, port: number): string => `${service} ${port}`;

/**
 * The policy in effect on each service port that any policy applies to
 * (`ServicePort.policy`), by `portKey`. Ports with the same policies share one
 * object (a service-wide policy alone gives every port the same), so what is
 * derived from it per object (digests, memo keys) is derived once.
 */
export function portPolicies(services: ReadonlyMap<ObjectKey, ServiceDraft>, policies: ReadonlyMap<ObjectKey, PolicyIntent>): Map<string, EffectivePolicy> {
  const of = new Map<ObjectKey, PolicyIntent[]>();
  for (const p of policies.values()) of.set(p.service, [...(of.get(p.service) ?? []), p]);
  const out = new Map<string, EffectivePolicy>();
  for (const [key, s] of services) {
    const forService = of.get(key) ?? [];
    const made = new Map<PolicyIntent | undefined, EffectivePolicy>();
    for (const p of s.ports) {
      const whole = forService.find((x) => x.port === undefined);
      const specific = forService.find((x) => x.port === p.port);
      if (!whole && !specific) continue;
      let policy = made.get(specific);
      if (!policy) made.set(specific, (policy = effectivePolicy(whole, specific)));
      out.set(portKey(key, p.port), policy);
    }
  }
  return out;
}

/** A port-specific policy laid over the service-wide one, section by section. */
function effectivePolicy(whole: PolicyIntent | undefined, specific: PolicyIntent | undefined): EffectivePolicy {
  const out: EffectivePolicy = { from: [whole?.key, specific?.key].filter((k) => k !== undefined), routes: [...(specific?.routes ?? []), ...(whole?.routes ?? [])] };
  for (const k of SECTIONS) {
    const v = specific?.[k] ?? whole?.[k];
    if (v !== undefined) Object.assign(out, { [k]: v });
  }
  return out;
}

/**
 * The policy each service port's cluster follows (`ServicePort.clusterPolicy`),
 * from the ports' own policies (`portPolicies`): its own, else the policy
 * of the root port it is a TrafficSplit backend for, else that of the Service
 * port a producer HTTPRoute or GRPCRoute sends it from (GAMMA). So a
 * TrafficPolicy on the service callers address protects the clusters their
 * calls go to whichever API routes them (docs/gateway-api.md, "SMI and
 * Gateway API side by side"), and a folder moved from SMI to Gateway API
 * keeps its circuit breakers. A backend port that several roots send to
 * follows the first TrafficSplit in key order (namespace/name of the split)
 * whose root port has a policy of its own, else the first parent (key order;
 * its routes oldest first, then rule order). Consumer routes pass nothing on:
 * another namespace's routing choice does not set the cluster every caller
 * shares. Inheritance is one level (a root's inherited policy is not passed on).
 */
export function clusterPolicies(
  own: ReadonlyMap<string, EffectivePolicy>,
  splits: ReadonlyMap<ObjectKey, Split>,
  routed: ReadonlyMap<ObjectKey, { ports: readonly { port: number }[]; routes: readonly MeshRoute[] }>,
): Map<string, EffectivePolicy> {
  const out = new Map(own);
  const inherit = (root: string, backend: string) => {
    const policy = own.get(root);
    if (policy && !out.has(backend)) out.set(backend, policy);
  };
  for (const split of splits.values()) {
    for (const b of split.backends) {
      for (const port of b.ports) inherit(portKey(split.service, port), portKey(b.service, port));
    }
  }
  for (const [service, { ports, routes }] of routed) {
    for (const route of routes.filter((r) => !r.consumer)) {
      const from = route.ports.length > 0 ? route.ports : ports.map((p) => p.port);
      for (const rule of route.rules) {
        for (const b of rule.backends.filter((x) => x.found)) {
          for (const port of from) inherit(portKey(service, port), portKey(`${b.namespace}/${b.name}`, b.port));
        }
      }
    }
  }
  return out;
}

/**
 * A global limit's counter is kept by the rate limit service under a
 * descriptor value that names where it was written: `ns/policy` for the
 * policy, `ns/policy#i` for its i-th route section. So two policies never
 * share a counter, and the value reads back to the intent in the service's
 * own logs and stats.
 */
function withDescriptor(spec: RateLimitSpec, descriptor: string): RateLimit {
  const { global, ...rest } = spec;
  return { ...rest, ...(global ? { global: { ...global, descriptor } } : {}) };
}
