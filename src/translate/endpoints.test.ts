import { describe, expect, it } from 'vitest';
import { encodeResource } from '../cache/resource.ts';
import type { Endpoint } from '../model/types.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { clusterLoadAssignment, healthOf } from './endpoints.ts';
import { deepFreeze, meshWith, unknownEnums } from './testing.ts';

function ep(address: string, e: Partial<Endpoint> = {}): Endpoint {
  return { address, port: 8080, ready: true, serving: true, terminating: false, ...e };
}

describe('healthOf (EndpointSlice conditions, KEP-1672)', () => {
  const cases: { name: string; e: Partial<Endpoint>; want: ReturnType<typeof healthOf> }[] = [
    { name: 'ready → HEALTHY', e: { ready: true, serving: true, terminating: false }, want: 'HEALTHY' },
    { name: 'serving and terminating → DRAINING', e: { ready: false, serving: true, terminating: true }, want: 'DRAINING' },
    { name: 'not serving and terminating → UNHEALTHY', e: { ready: false, serving: false, terminating: true }, want: 'UNHEALTHY' },
    { name: 'not ready, not terminating (failing readiness) → UNHEALTHY', e: { ready: false, serving: false, terminating: false }, want: 'UNHEALTHY' },
    { name: 'serving but not ready and not terminating → UNHEALTHY', e: { ready: false, serving: true, terminating: false }, want: 'UNHEALTHY' },
    { name: 'ready yet terminating → DRAINING, never new traffic', e: { ready: true, serving: true, terminating: true }, want: 'DRAINING' },
  ];
  for (const c of cases) it(c.name, () => expect(healthOf(ep('10.0.0.1', c.e))).toBe(c.want));
});

describe('clusterLoadAssignment', () => {
  const cases: { name: string; endpoints: Endpoint[]; want: unknown }[] = [
    {
      name: 'no endpoints: an empty assignment, still named',
      endpoints: [],
      want: { cluster_name: 'web.demo:8080', endpoints: [] },
    },
    {
      name: 'no zone: one locality without a zone, weighted by its endpoint count',
      endpoints: [ep('10.0.0.1'), ep('10.0.0.2', { ready: false, serving: true, terminating: true })],
      want: {
        cluster_name: 'web.demo:8080',
        endpoints: [
          {
            locality: {},
            load_balancing_weight: 2,
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 8080 } } }, health_status: 'HEALTHY' },
              { endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 8080 } } }, health_status: 'DRAINING' },
            ],
          },
        ],
      },
    },
    {
      name: 'zones: one locality per zone, sorted, weights = endpoints in the zone, endpoint order kept',
      endpoints: [ep('10.0.0.1', { zone: 'z2' }), ep('10.0.0.2', { zone: 'z1', port: 9000 }), ep('10.0.0.3', { zone: 'z2', ready: false, serving: false }), ep('10.0.0.4')],
      want: {
        cluster_name: 'web.demo:8080',
        endpoints: [
          {
            locality: {},
            load_balancing_weight: 1,
            lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.4', port_value: 8080 } } }, health_status: 'HEALTHY' }],
          },
          {
            locality: { zone: 'z1' },
            load_balancing_weight: 1,
            lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 9000 } } }, health_status: 'HEALTHY' }],
          },
          {
            locality: { zone: 'z2' },
            load_balancing_weight: 2,
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 8080 } } }, health_status: 'HEALTHY' },
              { endpoint: { address: { socket_address: { address: '10.0.0.3', port_value: 8080 } } }, health_status: 'UNHEALTHY' },
            ],
          },
        ],
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = clusterLoadAssignment('web.demo:8080', deepFreeze(c.endpoints));
      expect(got).toEqual(c.want);
      expect(() => encodeResource(TypeUrl.Endpoint, got)).not.toThrow();
      expect(unknownEnums(TypeUrl.Endpoint, got)).toEqual([]);
    });
  }

  it('from YAML: the base mesh web service, ready pod in z1 and terminating pod in z2', () => {
    const model = deepFreeze(meshWith());
    const port = model.services.get('demo/web')!.ports[0]!;
    const got = clusterLoadAssignment('web.demo:8080', port.endpoints) as { endpoints: { locality: unknown; load_balancing_weight: number; lb_endpoints: { health_status: string }[] }[] };
    expect(got.endpoints.map((l) => [l.locality, l.load_balancing_weight, l.lb_endpoints.map((e) => e.health_status)])).toEqual([
      [{ zone: 'z1' }, 1, ['HEALTHY']],
      [{ zone: 'z2' }, 1, ['DRAINING']],
    ]);
  });
});
