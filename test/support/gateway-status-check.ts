/**
 * The status assertions of the Gateway API conformance suite
 * (conformance/utils/kubernetes/helpers.go of sigs.k8s.io/gateway-api/conformance
 * v1.6.3), made against what /api/v1/intents shows for the file source:
 *
 * - GatewayStatusMustHaveListeners (gatewayListenersMatch): the same number
 *   of listeners; each expected one by name, its supportedKinds containing
 *   the expected kinds (none at all when none are expected), its
 *   attachedRoutes equal, its conditions containing the expected ones
 *   (conditionsMatch: type, status, and reason unless "any").
 * - GatewayMustHaveCondition, HTTPRouteMustHaveCondition,
 *   HTTPRouteMustHaveNoAcceptedParents, GatewayMustHaveZeroRoutes,
 *   GWCMustHaveAcceptedConditionAny, NamespacesMustBeReady (its Gateways:
 *   those without `gateway-api/skip-this-for-readiness: "true"` Accepted and
 *   Programmed).
 * - Each of them first asks ConditionsHaveLatestObservedGeneration: every
 *   condition's observedGeneration (a Gateway's and GatewayClass's own
 *   conditions, each parent's of an HTTPRoute) is the object's
 *   metadata.generation. The file source numbers an object's versions from 1
 *   (sources/file/watch.ts), so here that is the number of versions of the
 *   object the test has written (`generations`).
 */
import type { Condition, RouteStatus } from './gateway-http-cases.ts';

type Json = Record<string, any>; // /api/v1/intents, walked freely

export interface ListenerExpectation {
  name: string;
  /** Kinds that must be among supportedKinds (group gateway.networking.k8s.io); [] = supportedKinds must be empty. */
  supportedKinds: string[];
  attachedRoutes: number;
  conditions: Condition[];
}

export interface GatewayStatusExpectation {
  /** `ns/name` */
  gateway: string;
  /** GatewayMustHaveCondition */
  conditions?: Condition[];
  /** GatewayStatusMustHaveListeners */
  listeners?: ListenerExpectation[];
  /** GatewayMustHaveZeroRoutes: no listener in status, or exactly one with no route attached. */
  zeroRoutes?: true;
}

/** What a case asserts of status at one point (after its manifest, or after an edit). */
export interface StatusCheck {
  /** GWCMustHaveAcceptedConditionAny + GatewayClassMustHaveLatestConditions (a GatewayClass name). */
  gatewayClassAccepted?: string;
  /** NamespacesMustBeReady: the namespaces whose Gateways must be Accepted and Programmed, at their latest generation. */
  ready?: string[];
  /** GatewayMustHaveLatestConditions / HTTPRouteMustHaveLatestConditions: `Kind ns/name`. */
  latest?: string[];
  gateways?: GatewayStatusExpectation[];
  /** HTTPRouteMustHaveCondition (and HTTPRouteMustHaveResolvedRefsConditionsTrue). */
  routes?: RouteStatus[];
  /** HTTPRouteMustHaveNoAcceptedParents: `ns/name` of HTTPRoutes. */
  noAcceptedParents?: string[];
}

/** `Kind ns/name`, or `Kind name` for a cluster-scoped object. */
export const objectRef = (kind: string, namespace: string | undefined, name: string): string => (namespace ? `${kind} ${namespace}/${name}` : `${kind} ${name}`);

const found = (list: readonly Json[], [type, status, reason]: Condition) => list.some((c) => c.type === type && c.status === status && (reason === '' || c.reason === reason));
const show = (list: readonly Json[]) => list.map((c) => `${c.type}=${c.status} ${c.reason}`).join(', ');

/** conditionsMatch */
function conditionsMismatch(expected: readonly Condition[], actual: readonly Json[]): string | undefined {
  const missing = expected.filter((c) => !found(actual, c));
  return missing.length === 0 ? undefined : `no ${missing.map(([t, s, r]) => `${t}=${s}${r ? ` ${r}` : ''}`).join(', ')} among [${show(actual)}]`;
}

/** gatewayListenersMatch */
function listenersMismatch(expected: readonly ListenerExpectation[], actual: readonly Json[]): string | undefined {
  if (expected.length !== actual.length) return `${actual.length} listener(s) in status (${actual.map((l) => l.name).join(', ')}), expected ${expected.length}`;
  for (const e of expected) {
    const a = actual.find((l) => l.name === e.name);
    if (!a) return `no status for listener ${e.name}`;
    const kinds = (a.supportedKinds ?? []) as Json[];
    if (e.supportedKinds.length === 0 && kinds.length > 0) return `listener ${e.name}: supportedKinds ${JSON.stringify(kinds)}, expected none`;
    for (const k of e.supportedKinds) {
      if (!kinds.some((x) => (x.group ?? 'gateway.networking.k8s.io') === 'gateway.networking.k8s.io' && x.kind === k)) return `listener ${e.name}: ${k} not among supportedKinds ${JSON.stringify(kinds)}`;
    }
    if (a.attachedRoutes !== e.attachedRoutes) return `listener ${e.name}: attachedRoutes ${a.attachedRoutes}, expected ${e.attachedRoutes}`;
    const why = conditionsMismatch(e.conditions, a.conditions ?? []);
    if (why) return `listener ${e.name}: ${why}`;
  }
  return undefined;
}

/**
 * What is wrong with the status /api/v1/intents shows (`all`)
 * against `check`; `generations` holds how many versions of each object the
 * test wrote (absent: 1), `skipReadiness` the Gateways (`ns/name`) that carry
 * the suite's skip annotation.
 */
export function statusMismatches(all: readonly Json[], check: StatusCheck, generations: ReadonlyMap<string, number>, skipReadiness: ReadonlySet<string>): string[] {
  const failures: string[] = [];
  const get = (kind: string, key: string) => all.find((x) => x.kind === kind && (x.namespace ? `${x.namespace}/${x.name}` : x.name) === key);
  /** ConditionsHaveLatestObservedGeneration: the object's status, if it describes the object's newest version. */
  const latest = (kind: string, key: string): Json | undefined => {
    const s = get(kind, key);
    const [ns, name] = key.includes('/') ? key.split('/') : ['', key];
    const want = generations.get(objectRef(kind, ns, name!)) ?? 1;
    if (!s) return void failures.push(`no ${kind} ${key} in /api/v1/intents`);
    const conditions = (kind === 'HTTPRoute' ? ((s.parents ?? []) as Json[]).flatMap((p) => p.conditions) : s.conditions) as Json[];
    const stale = conditions.filter((c) => c.observedGeneration !== want);
    if (stale.length === 0) return s;
    failures.push(`${kind} ${key}: expected observedGeneration ${want} on every condition; stale: ${stale.map((c) => `${c.type} (${String(c.observedGeneration)})`).join(', ')}`);
    return undefined;
  };
  if (check.gatewayClassAccepted !== undefined) {
    const s = latest('GatewayClass', check.gatewayClassAccepted);
    if (s && !(s.conditions as Json[]).some((c) => c.type === 'Accepted')) failures.push(`GatewayClass ${check.gatewayClassAccepted}: no Accepted condition`);
  }
  for (const ns of check.ready ?? []) {
    for (const g of all.filter((x) => x.kind === 'Gateway' && x.namespace === ns && !skipReadiness.has(`${ns}/${x.name}`))) {
      const s = latest('Gateway', `${ns}/${g.name}`);
      const why = s && conditionsMismatch([['Accepted', 'True', ''], ['Programmed', 'True', '']], s.conditions);
      if (why) failures.push(`namespace ${ns} not ready: Gateway ${g.name}: ${why}`);
    }
  }
  for (const ref of check.latest ?? []) {
    const [kind, key] = ref.split(' ') as [string, string];
    latest(kind, key);
  }
  for (const g of check.gateways ?? []) {
    const s = latest('Gateway', g.gateway);
    if (!s) continue;
    const listeners = (s.listeners ?? []) as Json[];
    const why = (g.conditions && conditionsMismatch(g.conditions, s.conditions))
      ?? (g.listeners && listenersMismatch(g.listeners, listeners))
      ?? (g.zeroRoutes && !(listeners.length === 0 || (listeners.length === 1 && listeners[0]!.attachedRoutes === 0)) ? `routes attached: ${JSON.stringify(listeners.map((l) => [l.name, l.attachedRoutes]))}` : undefined);
    if (why) failures.push(`Gateway ${g.gateway}: ${why}`);
  }
  for (const r of check.routes ?? []) {
    const s = latest('HTTPRoute', r.route);
    if (!s) continue;
    const [ns, name] = r.gateway.split('/');
    const parents = ((s.parents ?? []) as Json[]).filter((p) => p.parentRef?.name === name && (p.parentRef?.namespace ?? s.namespace) === ns);
    const why = parents.length === 0 ? `no status for parent ${r.gateway}`
      : parents.some((p) => conditionsMismatch(r.conditions, p.conditions) === undefined) ? undefined : conditionsMismatch(r.conditions, parents[0]!.conditions);
    if (why) failures.push(`HTTPRoute ${r.route} on ${r.gateway}: ${why}`);
  }
  for (const route of check.noAcceptedParents ?? []) {
    const s = latest('HTTPRoute', route);
    const parents = ((s?.parents ?? []) as Json[]).filter((p) => p.ours);
    if (s && parents.length > 1) failures.push(`HTTPRoute ${route}: ${parents.length} parents in status, expected at most one`);
    else if (s && parents.length === 1 && !found(parents[0]!.conditions, ['Accepted', 'False', ''])) failures.push(`HTTPRoute ${route}: its parent accepts it (${show(parents[0]!.conditions)})`);
  }
  return [...new Set(failures)]; // an object checked twice (ready, then its listeners) is reported once
}
