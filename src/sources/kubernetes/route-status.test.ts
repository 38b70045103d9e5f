/**
 * issue 10: a route's status.parents as Trellis writes it: its own entries
 * (Service parents) replaced, other controllers' kept, lastTransitionTime
 * moving only with a status.
 */
import { describe, expect, it } from 'vitest';
import type { ObjectStatus } from '../../model/index.ts';
import { routeStatus, sameRouteStatus } from './route-status.ts';

const cond = (type: 'Accepted' | 'ResolvedRefs', status: 'True' | 'False', reason: string) => ({ type, status, reason, message: reason });
const route = (resolved: 'True' | 'False'): ObjectStatus => ({
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespace: 'shop', name: 'r', generation: 3, problems: [],
  conditions: [cond('Accepted', 'True', 'Accepted'), cond('ResolvedRefs', resolved, resolved === 'True' ? 'ResolvedRefs' : 'BackendNotFound')],
  parents: [
    { parentRef: { group: '', kind: 'Service', namespace: 'shop', name: 'reviews', port: 8080 }, ours: true, conditions: [cond('Accepted', 'True', 'Accepted'), cond('ResolvedRefs', resolved, resolved === 'True' ? 'ResolvedRefs' : 'BackendNotFound')] },
    { parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'shop', name: 'edge' }, ours: false, conditions: [cond('Accepted', 'False', 'NoMatchingParent'), cond('ResolvedRefs', 'True', 'ResolvedRefs')] },
  ],
});
const theirs = { parentRef: { name: 'edge' }, controllerName: 'example.com/gateway', conditions: [{ type: 'Accepted', status: 'True' as const, reason: 'Accepted', message: '', lastTransitionTime: 't0' }] };

describe('issue 10: routeStatus', () => {
  it('writes one entry per Service parent under Trellis\'s controllerName, keeps other controllers\' entries, never writes for their parents', () => {
    const body = routeStatus(route('False'), { parents: [theirs] }, 't1');
    expect(body.parents).toHaveLength(2);
    expect(body.parents[0]).toEqual(theirs);
    expect(body.parents[1]).toEqual({
      parentRef: { group: '', kind: 'Service', name: 'reviews', port: 8080 },
      controllerName: 'trellis.io/gateway-controller',
      conditions: [
        { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Accepted', observedGeneration: 3, lastTransitionTime: 't1' },
        { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: 'BackendNotFound', observedGeneration: 3, lastTransitionTime: 't1' },
      ],
    });
  });

  it('lastTransitionTime moves only for the condition whose status changed; an unchanged status is the same', () => {
    const first = routeStatus(route('False'), { parents: [theirs] }, 't1');
    const second = routeStatus(route('True'), first, 't2');
    expect(second.parents[1]!.conditions.map((c) => c.lastTransitionTime)).toEqual(['t1', 't2']);
    expect(sameRouteStatus(first, second)).toBe(false);
    expect(sameRouteStatus(second, routeStatus(route('True'), second, 't3'))).toBe(true);
  });
});
