/**
 * TrafficPolicies: the target service (and port) and route references must
 * exist; one policy per service, and one per service port (the older wins).
 * A port's effective policy is the service-wide policy with the port-specific
 * one's sections laid over it, section by section; a port's cluster follows
 * its own policy, else its split root's (`clusterPolicies`).
 */
import type { TrafficPolicySpec } from '../kinds/traffic-policy.ts';
import { didYouMean } from '../suggest.ts';
import type { EffectivePolicy, ObjectKey, PolicyIntent, PolicySettings, RouteGroup, RoutePolicy, Split } from '../types.ts';
import { objectKey, olderFirst, sortedMap, type Book, type Entry } from './book.ts';
import { resolveRouteRef } from './routes.ts';
import type { ServiceDraft } from './services.ts';

const SECTIONS = ['timeouts', 'retries', 'circuitBreaker', 'outlierDetection', 'loadBalancer', 'locality'] as const;

export function resolvePolicies(
  policies: readonly Entry<TrafficPolicySpec>[],
  services: ReadonlyMap<ObjectKey, ServiceDraft>,
  groups: ReadonlyMap<ObjectKey, RouteGroup>,
  book: Book,
): Map<ObjectKey, PolicyIntent> {
  const owner = new Map<string, PolicyIntent>();
  const accepted: PolicyIntent[] = [];
  for (const e of policies.toSorted(olderFirst)) {
    const svc = services.get(objectKey(e.namespace, e.spec.service));
    if (!svc) {
      const names = [...services.values()].filter((s) => s.namespace === e.namespace).map((s) => s.name);
      book.error(e, 'spec.targetRef.name', 'RefNotFound', `service "${e.spec.service}" does not exist in namespace "${e.namespace}" (or is invalid).${didYouMean(e.spec.service, names)} Expected a service of this namespace`);
      continue;
    }
    let port: number | undefined;
    if (e.spec.port !== undefined) {
      const p = svc.ports.find((sp) => sp.port === e.spec.port || sp.name === e.spec.port);
      if (!p) {
        const ports = svc.ports.map((sp) => (sp.name ? `${sp.port} (${sp.name})` : String(sp.port)));
        book.error(e, 'spec.targetRef.port', 'RefNotFound', `service "${svc.name}" has no TCP port ${JSON.stringify(e.spec.port)}; expected one of: ${ports.join(', ')}`);
        continue;
      }
      port = p.port;
      const t = e.spec.timeouts;
      const requestTimeouts = t !== undefined && (t.requestMs !== undefined || t.perTryMs !== undefined);
      if (p.protocol === 'tcp' && (requestTimeouts || e.spec.retries || e.spec.routes.length > 0)) {
        book.warn(e, 'spec', 'Ignored', `port ${p.port} carries plain TCP, so request and perTry timeouts, retries and routes do not apply to it (connect and idle timeouts, circuit breaking, outlier detection and load balancing do); set appProtocol: http (or grpc) on the port if it speaks HTTP`);
      }
    }
    const routes: RoutePolicy[] = [];
    for (const r of e.spec.routes) {
      const matches = resolveRouteRef(r.match, e, groups, book);
      if (matches) routes.push({ matches, ...(r.timeouts ? { timeouts: r.timeouts } : {}), ...(r.retries ? { retries: r.retries } : {}), from: e.key });
    }
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
    for (const k of SECTIONS) if (e.spec[k] !== undefined) Object.assign(settings, { [k]: e.spec[k] });
    const intent: PolicyIntent = { key: e.key, namespace: e.namespace, name: e.name, service: svc.key, ...(port !== undefined ? { port } : {}), ...settings, routes };
    owner.set(claim, intent);
    accepted.push(intent);
  }
  return sortedMap(accepted.map((p) => [p.key, p]));
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
 * of the root port it is a TrafficSplit backend for. A backend port that
 * several splits send to follows the first TrafficSplit in key order
 * (namespace/name of the split) whose root port has a policy of its own;
 * inheritance is one level (a root's inherited policy is not passed on).
 */
export function clusterPolicies(own: ReadonlyMap<string, EffectivePolicy>, splits: ReadonlyMap<ObjectKey, Split>): Map<string, EffectivePolicy> {
  const out = new Map(own);
  for (const split of splits.values()) {
    for (const b of split.backends) {
      for (const port of b.ports) {
        const policy = own.get(portKey(split.service, port));
        const key = portKey(b.service, port);
        if (policy && !out.has(key)) out.set(key, policy);
      }
    }
  }
  return out;
}
