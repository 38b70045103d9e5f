/**
 * The status Trellis writes on a Gateway API route (HTTPRoute, GRPCRoute,
 * TLSRoute, TCPRoute): `status.parents`, one RouteParentStatus per parent,
 * each written by the controller responsible for that parent. Trellis writes
 * the entries of the parents it serves (Services: the mesh) under its
 * controllerName, with Accepted and ResolvedRefs as the model says
 * (model/status.ts), and keeps every other controller's entries as they are.
 *
 * Pure: the clock comes in as `now`; lastTransitionTime moves only when a
 * condition's status changes.
 * https://gateway-api.sigs.k8s.io/reference/spec/#routeparentstatus
 */
import type { ObjectStatus, ParentRef } from '../../model/index.ts';
import { TRELLIS_CONTROLLER } from '../../model/index.ts';
import type { KubeCondition } from './status.ts';

type Json = Record<string, unknown>;

export interface RouteParentStatus {
  parentRef: Json;
  controllerName: string;
  conditions: KubeCondition[];
}

export interface RouteStatusBody {
  parents: RouteParentStatus[];
}

/** A parentRef as the API server stores it: defaults left out where the route left them out does not matter, the fields that identify the parent are compared. */
function sameParent(a: Json, b: ParentRef): boolean {
  const group = (a.group as string | undefined) ?? 'gateway.networking.k8s.io';
  const kind = (a.kind as string | undefined) ?? 'Gateway';
  return group === b.group && kind === b.kind && a.name === b.name
    && ((a.namespace as string | undefined) ?? b.namespace) === b.namespace
    && (a.port as number | undefined) === b.port && (a.sectionName as string | undefined) === b.sectionName;
}

function parentRefJson(p: ParentRef, routeNamespace: string): Json {
  return {
    group: p.group,
    kind: p.kind,
    ...(p.namespace !== routeNamespace ? { namespace: p.namespace } : {}),
    name: p.name,
    ...(p.port !== undefined ? { port: p.port } : {}),
    ...(p.sectionName !== undefined ? { sectionName: p.sectionName } : {}),
  };
}

/** The route's status.parents after Trellis's write: others' entries kept, ours replaced (and dropped for parents no longer listed). */
export function routeStatus(s: ObjectStatus, stored: unknown, now: string): RouteStatusBody {
  const previous = Array.isArray((stored as Json | undefined)?.parents) ? ((stored as Json).parents as RouteParentStatus[]) : [];
  const others = previous.filter((p) => p && typeof p === 'object' && p.controllerName !== TRELLIS_CONTROLLER);
  const ours = (s.parents ?? []).filter((p) => p.ours).map((p): RouteParentStatus => {
    const prev = previous.find((x) => x?.controllerName === TRELLIS_CONTROLLER && x.parentRef && sameParent(x.parentRef, p.parentRef));
    return {
      parentRef: parentRefJson(p.parentRef, s.namespace),
      controllerName: TRELLIS_CONTROLLER,
      conditions: p.conditions.map((c): KubeCondition => {
        const before = prev?.conditions?.find((x) => x.type === c.type);
        return {
          type: c.type,
          status: c.status,
          reason: c.reason,
          message: c.message.length > 32_768 ? `${c.message.slice(0, 32_767)}…` : c.message,
          ...(s.generation !== undefined ? { observedGeneration: s.generation } : {}),
          lastTransitionTime: before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now,
        };
      }),
    };
  });
  // The CRD allows 32 parents in status.
  return { parents: [...others, ...ours].slice(0, 32) };
}

/** Equal but for lastTransitionTime. */
export function sameRouteStatus(a: unknown, b: RouteStatusBody): boolean {
  const strip = (x: unknown) => {
    const parents = Array.isArray((x as Json | undefined)?.parents) ? ((x as Json).parents as RouteParentStatus[]) : [];
    return JSON.stringify(parents.map((p) => ({ ...p, conditions: (p.conditions ?? []).map(({ lastTransitionTime: _t, ...c }) => c) })));
  };
  return strip(a) === strip(b);
}
