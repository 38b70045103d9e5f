/**
 * trellis.io/v1alpha1 TrafficPolicy: how clients call one service (or one of
 * its ports, or some of its routes) — timeouts, retries, circuit breaking,
 * outlier detection, load balancing and locality. See docs/intents.md.
 *
 * Cluster-level settings (circuit breaker, outlier detection, load balancer,
 * locality, retry budget) apply to a whole service port; only timeouts and
 * retries may also be set per route, because Envoy applies them per route.
 */
import type { PolicySettings, RetryPolicy, Timeouts } from '../types.ts';
import { decodeRouteGroupRef, type RouteGroupRef } from './http-route-group.ts';
import type { KindSpec } from './kind.ts';
import {
  decodeCircuitBreaker, decodeLoadBalancer, decodeLocality, decodeOutlierDetection, decodeRetries, decodeTimeouts,
} from './policy-settings.ts';

export interface TrafficPolicySpec extends PolicySettings {
  service: string;
  /** A port number or name of the service; absent: all ports. */
  port?: number | string;
  routes: { match: RouteGroupRef; timeouts?: Timeouts; retries?: RetryPolicy; path: string }[];
}

const SPEC_FIELDS = ['targetRef', 'timeouts', 'retries', 'circuitBreaker', 'outlierDetection', 'loadBalancer', 'locality', 'routes'] as const;
const PORT_LEVEL_ONLY = ['circuitBreaker', 'outlierDetection', 'loadBalancer', 'locality'] as const;

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
    const settings: PolicySettings = {};
    const section = <K extends keyof PolicySettings>(key: K, decode: () => PolicySettings[K] | undefined): void => {
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
    const routes: TrafficPolicySpec['routes'] = [];
    if (!spec.child('routes').absent) {
      for (const r of spec.child('routes').list({ minItems: 1 })) {
        for (const k of PORT_LEVEL_ONLY) {
          if (!r.child(k).absent) r.child(k).report('InvalidValue', `${k} applies to a whole service port, not to a route; move it up to spec.${k}`);
        }
        if (!r.object({ known: ['match', 'timeouts', 'retries', ...PORT_LEVEL_ONLY] })) continue;
        const match = decodeRouteGroupRef(r.child('match'), { allowMatches: true });
        if (r.child('match').absent) r.child('match').report('Required', 'match is required: {kind: HTTPRouteGroup, name: <group>, matches: [<match names>]}');
        const timeouts = r.child('timeouts').absent ? undefined : decodeTimeouts(r.child('timeouts'));
        const retries = r.child('retries').absent ? undefined : decodeRetries(r.child('retries'), { allowBudget: false });
        if (r.child('timeouts').absent && r.child('retries').absent) r.report('Required', 'a route policy needs timeouts or retries (or both)');
        if (match) routes.push({ match, ...(timeouts ? { timeouts } : {}), ...(retries ? { retries } : {}), path: r.path });
      }
    }
    if (service === undefined) return undefined;
    return { service, ...(port !== undefined ? { port } : {}), ...settings, routes };
  },
};
