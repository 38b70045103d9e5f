/**
 * trellis.io/v1alpha1 TrafficPolicy: how clients call one service (or one of
 * its ports, or some of its routes) — timeouts, retries, circuit breaking,
 * outlier detection, load balancing and locality. See docs/intents.md.
 *
 * Cluster-level settings (circuit breaker, outlier detection, load balancer,
 * locality, retry budget) and connection limits apply to a whole service
 * port; timeouts, retries, faults and request rate limits may also be set
 * per route, because Envoy applies them per route.
 */
import type { Fault, PolicySettings, RetryPolicy, Timeouts } from '../types.ts';
import { decodeFault } from './fault.ts';
import { decodeRouteGroupRef, type RouteGroupRef } from './http-route-group.ts';
import type { KindSpec } from './kind.ts';
import type { Field } from '../field.ts';
import { decodeHealthCheck } from './health-check.ts';
import {
  decodeCircuitBreaker, decodeLoadBalancer, decodeLocality, decodeOutlierDetection, decodeRetries, decodeTimeouts,
} from './policy-settings.ts';
import { decodeRateLimit, type RateLimitSpec } from './rate-limit.ts';

export interface TrafficPolicySpec extends Omit<PolicySettings, 'rateLimit'> {
  service: string;
  /** A port number or name of the service; absent: all ports. */
  port?: number | string;
  rateLimit?: RateLimitSpec;
  routes: { match: RouteGroupRef; timeouts?: Timeouts; retries?: RetryPolicy; fault?: Fault; rateLimit?: RateLimitSpec; path: string }[];
}

const SPEC_FIELDS = ['targetRef', 'timeouts', 'retries', 'circuitBreaker', 'outlierDetection', 'loadBalancer', 'locality', 'healthCheck', 'fault', 'rateLimit', 'routes'] as const;
/** What a route section may set: what Envoy applies per route. */
const ROUTE_SECTIONS = ['timeouts', 'retries', 'fault', 'rateLimit'] as const;
const PORT_LEVEL_ONLY = ['circuitBreaker', 'outlierDetection', 'loadBalancer', 'locality', 'healthCheck'] as const;

/** A hedge is sent when an attempt outlives its per-try timeout: without one it would never be. */
function requirePerTryForHedge(f: Field, retries: RetryPolicy | undefined, timeouts: Timeouts | undefined): void {
  if (retries?.hedgeOnPerTryTimeout && timeouts?.perTryMs === undefined) {
    f.child('hedgeOnPerTryTimeout').report('Required', 'hedging starts another attempt when one outlives timeouts.perTry, and no perTry is set here; add timeouts: {perTry: <duration>} to this policy (or route)');
  }
}

export const trafficPolicyKind: KindSpec<TrafficPolicySpec> = {
  apiVersion: 'trellis.io/v1alpha1',
  kind: 'TrafficPolicy',
  namespaced: true,
  topLevel: ['spec', 'status'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: SPEC_FIELDS })) return undefined;
    const target = spec.child('targetRef');
    let service: string | undefined;
    let port: number | string | undefined;
    if (target.object({ required: true, known: ['kind', 'name', 'port'], expected: 'a mapping such as {kind: Service, name: web}' })) {
      const kind = target.child('kind').string({ required: true, oneOf: ['Service'] });
      service = target.child('name').string({ required: true, expected: 'the name of a service in this namespace' });
      if (!target.child('port').absent) port = target.child('port').portOrName();
      if (kind === undefined) service = undefined;
    }
    const settings: Omit<TrafficPolicySpec, 'service' | 'port' | 'routes'> = {};
    const section = <K extends keyof typeof settings>(key: K, decode: () => (typeof settings)[K] | undefined): void => {
      if (spec.child(key).absent) return;
      const v = decode();
      if (v !== undefined) settings[key] = v;
    };
    section('timeouts', () => decodeTimeouts(spec.child('timeouts'), { allowConnect: true }));
    section('retries', () => decodeRetries(spec.child('retries'), { allowBudget: true }));
    section('circuitBreaker', () => decodeCircuitBreaker(spec.child('circuitBreaker')));
    section('outlierDetection', () => decodeOutlierDetection(spec.child('outlierDetection')));
    section('loadBalancer', () => decodeLoadBalancer(spec.child('loadBalancer')));
    section('locality', () => decodeLocality(spec.child('locality')));
    section('healthCheck', () => decodeHealthCheck(spec.child('healthCheck')));
    requirePerTryForHedge(spec.child('retries'), settings.retries, settings.timeouts);
    section('fault', () => decodeFault(spec.child('fault')));
    section('rateLimit', () => decodeRateLimit(spec.child('rateLimit'), { route: false }));
    const routes: TrafficPolicySpec['routes'] = [];
    if (!spec.child('routes').absent) {
      for (const r of spec.child('routes').list({ minItems: 1 })) {
        for (const k of PORT_LEVEL_ONLY) {
          if (!r.child(k).absent) r.child(k).report('InvalidValue', `${k} applies to a whole service port, not to a route; move it up to spec.${k}`);
        }
        if (!r.object({ known: ['match', ...ROUTE_SECTIONS, ...PORT_LEVEL_ONLY] })) continue;
        const match = decodeRouteGroupRef(r.child('match'), { allowMatches: true });
        if (r.child('match').absent) r.child('match').report('Required', 'match is required: {kind: HTTPRouteGroup, name: <group>, matches: [<match names>]}');
        const timeouts = r.child('timeouts').absent ? undefined : decodeTimeouts(r.child('timeouts'));
        const retries = r.child('retries').absent ? undefined : decodeRetries(r.child('retries'), { allowBudget: false });
        // A route's timeouts replace the policy's whole (routes.ts), so its own perTry, else the policy's.
        requirePerTryForHedge(r.child('retries'), retries, timeouts ?? settings.timeouts);
        const fault = r.child('fault').absent ? undefined : decodeFault(r.child('fault'));
        const rateLimit = r.child('rateLimit').absent ? undefined : decodeRateLimit(r.child('rateLimit'), { route: true });
        if (ROUTE_SECTIONS.every((k) => r.child(k).absent)) r.report('Required', `a route policy needs at least one of ${ROUTE_SECTIONS.join(', ')}`);
        if (match) routes.push({ match, ...(timeouts ? { timeouts } : {}), ...(retries ? { retries } : {}), ...(fault ? { fault } : {}), ...(rateLimit ? { rateLimit } : {}), path: r.path });
      }
    }
    if (service === undefined) return undefined;
    return { service, ...(port !== undefined ? { port } : {}), ...settings, routes };
  },
};
