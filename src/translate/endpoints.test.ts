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

  describe('preferZone (PreferSameZone): the caller’s zone at priority 0, every other locality at priority 1', () => {
    type Row = [zone: string, priority: number, weight: number, addresses: string[]];
    const MIXED = [ep('10.0.0.1', { zone: 'z2' }), ep('10.0.0.2', { zone: 'z1' }), ep('10.0.0.3', { zone: 'z2' }), ep('10.0.0.4'), ep('10.0.0.5', { zone: 'z1', ready: false, serving: false })];
    const cases: { name: string; endpoints: Endpoint[]; preferZone?: string; want: Row[] }[] = [
      {
        name: 'preferred zone present: it alone at 0; other zones and the zone-less locality at 1',
        endpoints: MIXED,
        preferZone: 'z1',
        want: [['', 1, 1, ['10.0.0.4']], ['z1', 0, 2, ['10.0.0.2', '10.0.0.5']], ['z2', 1, 2, ['10.0.0.1', '10.0.0.3']]],
      },
      {
        name: 'another zone preferred: the priorities swap, localities and weights stay',
        endpoints: MIXED,
        preferZone: 'z2',
        want: [['', 1, 1, ['10.0.0.4']], ['z1', 1, 2, ['10.0.0.2', '10.0.0.5']], ['z2', 0, 2, ['10.0.0.1', '10.0.0.3']]],
      },
      {
        name: 'preferred zone absent: everything at 0 (a lone priority 1 would be a gap gRPC rejects)',
        endpoints: MIXED,
        preferZone: 'z3',
        want: [['', 0, 1, ['10.0.0.4']], ['z1', 0, 2, ['10.0.0.2', '10.0.0.5']], ['z2', 0, 2, ['10.0.0.1', '10.0.0.3']]],
      },
      {
        name: 'no endpoint has a zone: one locality at 0',
        endpoints: [ep('10.0.0.1'), ep('10.0.0.2')],
        preferZone: 'z1',
        want: [['', 0, 2, ['10.0.0.1', '10.0.0.2']]],
      },
      {
        name: 'every endpoint in the preferred zone: one locality at 0',
        endpoints: [ep('10.0.0.1', { zone: 'z1' })],
        preferZone: 'z1',
        want: [['z1', 0, 1, ['10.0.0.1']]],
      },
      {
        name: 'preferred zone unhealthy: still 0 (failover is the client’s, by priority health)',
        endpoints: [ep('10.0.0.1', { zone: 'z1', ready: false, serving: false }), ep('10.0.0.2', { zone: 'z2' })],
        preferZone: 'z1',
        want: [['z1', 0, 1, ['10.0.0.1']], ['z2', 1, 1, ['10.0.0.2']]],
      },
      { name: 'no endpoints: empty', endpoints: [], preferZone: 'z1', want: [] },
      { name: 'no preferred zone: everything at 0', endpoints: MIXED, want: [['', 0, 1, ['10.0.0.4']], ['z1', 0, 2, ['10.0.0.2', '10.0.0.5']], ['z2', 0, 2, ['10.0.0.1', '10.0.0.3']]] },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const got = clusterLoadAssignment('web.demo:8080@z1', deepFreeze(c.endpoints), c.preferZone) as {
          cluster_name: string;
          endpoints: { locality: { zone?: string }; priority?: number; load_balancing_weight: number; lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[];
        };
        expect(got.cluster_name).toBe('web.demo:8080@z1');
        expect(got.endpoints.map((l): Row => [l.locality.zone ?? '', l.priority ?? 0, l.load_balancing_weight, l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address)])).toEqual(c.want);
        // Priority 0 is left out (the proto default), never written.
        for (const l of got.endpoints) expect(l.priority, JSON.stringify(l.locality)).not.toBe(0);
        // Priorities start at 0 and have no gap.
        const priorities = [...new Set(got.endpoints.map((l) => l.priority ?? 0))].sort();
        expect(priorities).toEqual(priorities.map((_, i) => i));
        expect(() => encodeResource(TypeUrl.Endpoint, got)).not.toThrow();
        expect(unknownEnums(TypeUrl.Endpoint, got)).toEqual([]);
      });
    }
  });

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
