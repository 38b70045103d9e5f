/**
 * split.smi-spec.io/v1alpha4 TrafficSplit: weighted backends for a root
 * service, optionally only for requests that match HTTPRouteGroups (a header
 * canary). Cross-object rules (services exist, one split per service and
 * match set) are checked in resolve/splits.ts.
 * https://github.com/servicemeshinterface/smi-spec/blob/main/apis/traffic-split/v1alpha4/traffic-split.md
 */
import { decodeRouteGroupRef, type RouteGroupRef } from './http-route-group.ts';
import type { KindSpec } from './kind.ts';

export interface TrafficSplitSpec {
  service: string;
  backends: { service: string; weight: number; path: string }[];
  matches: RouteGroupRef[];
}

/** Weights are relative; this bound only keeps sums far from overflow in Envoy's uint32 total. */
const MAX_WEIGHT = 1_000_000;

export const trafficSplitKind: KindSpec<TrafficSplitSpec> = {
  apiVersion: 'split.smi-spec.io/v1alpha4',
  kind: 'TrafficSplit',
  namespaced: true,
  topLevel: ['spec'],
  nameRule: 'subdomain',
  decode(root) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: ['service', 'backends', 'matches'] })) return undefined;
    const service = spec.child('service').string({ required: true, expected: 'the name of the root service clients call, in this namespace' });
    const backendsField = spec.child('backends');
    const backends: TrafficSplitSpec['backends'] = [];
    const seen = new Map<string, number>();
    backendsField.list({ required: true, minItems: 1, expected: 'a list such as [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]' }).forEach((b, i) => {
      if (!b.object({ known: ['service', 'weight'] })) return;
      const name = b.child('service').string({ required: true, expected: 'the name of a backend service in this namespace' });
      const weight = b.child('weight').integer({ required: true, min: 0, max: MAX_WEIGHT, expected: 'a whole number weight (0 or more)' });
      if (name !== undefined && name === service) {
        b.child('service').report('InvalidValue', `a backend may not be the root service "${service}" itself (SMI: TrafficSplits are not self-referential); use a service that selects only one version`);
        return;
      }
      if (name !== undefined && seen.has(name)) {
        b.child('service').report('InvalidValue', `backend "${name}" is already listed at spec.backends[${seen.get(name)}]; list each backend once and add the weights`);
        return;
      }
      if (name !== undefined) seen.set(name, i);
      if (name !== undefined && weight !== undefined) backends.push({ service: name, weight, path: b.path });
    });
    const weights = backendsField.list().map((b) => b.child('weight').value);
    if (backends.length > 0 && weights.every((w) => typeof w === 'number' && w <= 0)) {
      backendsField.report('InvalidValue', 'every backend has weight 0, so no request could be routed; give at least one backend a positive weight');
    }
    const matches: RouteGroupRef[] = [];
    if (!spec.child('matches').absent) {
      for (const m of spec.child('matches').list({ minItems: 1, expected: 'a list of HTTPRouteGroup references; leave it out to split every request' })) {
        const ref = decodeRouteGroupRef(m, { allowMatches: false });
        if (ref) matches.push(ref);
      }
    }
    if (service === undefined) return undefined;
    return { service, backends, matches };
  },
};
