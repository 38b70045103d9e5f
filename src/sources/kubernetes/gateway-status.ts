/**
 * The status Trellis writes on its own Gateways and GatewayClasses (those of
 * controllerName trellis.io/gateway-controller), as the spec shapes it:
 *
 * - GatewayClass: `conditions` (Accepted) and `supportedFeatures` ([{name}]).
 * - Gateway: `conditions` (Accepted, Programmed) and `listeners` (name,
 *   supportedKinds, attachedRoutes, conditions). `addresses` is not written
 *   here: its Service's addresses are (runtime/gateway-deployments.ts), by a
 *   merge patch of that field alone.
 *
 * Each condition carries observedGeneration; lastTransitionTime moves only
 * when a condition's status changes. Pure: the clock comes in as `now`.
 * https://gateway-api.sigs.k8s.io/reference/spec/#gatewaystatus
 */
import type { Condition, ObjectStatus } from '../../model/index.ts';
import type { KubeCondition } from './status.ts';

type Json = Record<string, unknown>;

export interface GatewayStatusBody {
  conditions: KubeCondition[];
  listeners?: { name: string; supportedKinds: { group: string; kind: string }[]; attachedRoutes: number; conditions: KubeCondition[] }[];
  supportedFeatures?: { name: string }[];
}

const MAX_MESSAGE = 32_768;

/** Whether this status is one Trellis writes as a gateway's (its own Gateway or GatewayClass). */
export function isOwnGatewayStatus(s: ObjectStatus): boolean {
  return (s.kind === 'Gateway' && s.listeners !== undefined) || (s.kind === 'GatewayClass' && s.supportedFeatures !== undefined);
}

function conditionsOf(list: readonly Condition[], previous: unknown, generation: number | undefined, now: string): KubeCondition[] {
  const prev = Array.isArray(previous) ? (previous as KubeCondition[]) : [];
  return list.map((c): KubeCondition => {
    const before = prev.find((p) => p && p.type === c.type);
    return {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message.length > MAX_MESSAGE ? `${c.message.slice(0, MAX_MESSAGE - 1)}…` : c.message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime: before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now,
    };
  });
}

export function gatewayStatus(s: ObjectStatus, stored: unknown, now: string): GatewayStatusBody {
  const st = (stored ?? {}) as Json;
  const g = s.generation;
  if (s.kind === 'GatewayClass') {
    return { conditions: conditionsOf(s.conditions.filter((c) => c.type === 'Accepted'), st.conditions, g, now), supportedFeatures: (s.supportedFeatures ?? []).map((name) => ({ name })) };
  }
  const storedListeners = Array.isArray(st.listeners) ? (st.listeners as Json[]) : [];
  return {
    conditions: conditionsOf(s.conditions, st.conditions, g, now),
    listeners: (s.listeners ?? []).map((l) => ({
      name: l.name,
      supportedKinds: l.supportedKinds,
      attachedRoutes: l.attachedRoutes,
      conditions: conditionsOf(l.conditions, storedListeners.find((x) => x?.name === l.name)?.conditions, g, now),
    })),
  };
}

/** Equal but for lastTransitionTime. */
export function sameGatewayStatus(a: unknown, b: GatewayStatusBody): boolean {
  const strip = (x: unknown) => {
    const o = (x ?? {}) as Json;
    const conds = (c: unknown) => (Array.isArray(c) ? (c as KubeCondition[]).map(({ lastTransitionTime: _t, ...rest }) => rest) : []);
    const listeners = Array.isArray(o.listeners) ? (o.listeners as Json[]).map((l) => ({ ...l, conditions: conds(l.conditions) })) : undefined;
    return JSON.stringify({ c: conds(o.conditions), l: listeners, f: o.supportedFeatures });
  };
  return strip(a) === strip(b);
}
