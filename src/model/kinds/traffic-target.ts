/**
 * access.smi-spec.io/v1alpha3 TrafficTarget: which service accounts may call
 * a destination service account, on which routes. A TrafficTarget is
 * namespaced and grants access to workloads of its own namespace only, so its
 * destination must be in that namespace; sources may be anywhere.
 * https://github.com/servicemeshinterface/smi-spec/blob/main/apis/traffic-access/v1alpha3/traffic-access.md
 */
import type { Field } from '../field.ts';
import { isDnsLabel, isValidName } from './kind.ts';
import { decodeRouteGroupRef, type RouteGroupRef } from './http-route-group.ts';
import type { KindSpec } from './kind.ts';

export interface SubjectSpec {
  namespace: string;
  name: string;
}

export interface TrafficTargetSpec {
  destination: SubjectSpec & { port?: number };
  sources: (SubjectSpec & { path: string })[];
  /** undefined: no rules, every request allowed. */
  rules?: RouteGroupRef[];
}

export const trafficTargetKind: KindSpec<TrafficTargetSpec> = {
  apiVersion: 'access.smi-spec.io/v1alpha3',
  kind: 'TrafficTarget',
  namespaced: true,
  topLevel: ['spec'],
  nameRule: 'subdomain',
  decode(root, ctx) {
    const spec = root.child('spec');
    if (!spec.object({ required: true, known: ['destination', 'sources', 'rules'] })) return undefined;
    const destField = spec.child('destination');
    const destination = decodeSubject(destField, ctx.namespace, true);
    if (destination && destination.namespace !== ctx.namespace) {
      destField.child('namespace').report(
        'CrossNamespace',
        `destination namespace "${destination.namespace}" differs from the TrafficTarget's namespace "${ctx.namespace}"; a TrafficTarget only grants access to its own namespace. Create it in namespace "${destination.namespace}" instead`,
      );
    }
    const sources: TrafficTargetSpec['sources'] = [];
    for (const s of spec.child('sources').list({ required: true, minItems: 1, expected: 'a list of service accounts such as [{kind: ServiceAccount, name: frontend, namespace: demo}]' })) {
      const subject = decodeSubject(s, ctx.namespace, false);
      if (subject) sources.push({ ...subject, path: s.path });
    }
    let rules: RouteGroupRef[] | undefined;
    if (!spec.child('rules').absent) {
      rules = [];
      for (const r of spec.child('rules').list({ minItems: 1, expected: 'a list of HTTPRouteGroup rules; leave it out to allow every request' })) {
        const ref = decodeRouteGroupRef(r, { allowMatches: true });
        if (ref) rules.push(ref);
      }
    }
    if (!destination) return undefined;
    return { destination, sources, ...(rules ? { rules } : {}) };
  },
};

export function decodeSubject(f: Field, defaultNamespace: string, isDestination: boolean): (SubjectSpec & { port?: number }) | undefined {
  const known = isDestination ? ['kind', 'name', 'namespace', 'port'] : ['kind', 'name', 'namespace'];
  if (!f.object({ required: true, known })) return undefined;
  const kind = f.child('kind').string({ required: true, expected: 'ServiceAccount' });
  if (kind !== undefined && kind !== 'ServiceAccount') {
    f.child('kind').report('InvalidValue', `"${kind}" subjects are not supported; expected ServiceAccount`);
  }
  const name = f.child('name').string({ required: true, expected: 'a service account name' });
  if (name !== undefined && !isValidName('subdomain', name)) f.child('name').report('InvalidValue', `"${name}" is not a valid service account name`);
  const nsField = f.child('namespace');
  const namespace = nsField.absent ? defaultNamespace : nsField.string();
  if (namespace !== undefined && !isDnsLabel(namespace)) nsField.report('InvalidValue', `"${namespace}" is not a valid namespace`);
  const port = isDestination && !f.child('port').absent ? f.child('port').integer({ min: 1, max: 65535, expected: 'the destination port number' }) : undefined;
  if (kind !== 'ServiceAccount' || name === undefined || namespace === undefined) return undefined;
  return { namespace, name, ...(port !== undefined ? { port } : {}) };
}
