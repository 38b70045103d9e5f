import { describe, expect, it } from 'vitest';
import { gatewayResourceName, renderGatewayDeployment, type GatewayObjects } from './gateway-deployment.ts';
import { DEFAULT_INJECT_OPTIONS, type Json } from './options.ts';

const gateway = (listeners: Json[], annotations: Record<string, string> = {}): Json => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'edge', namespace: 'shop', uid: 'u-1', annotations },
  spec: { gatewayClassName: 'trellis', listeners },
});
const render = (g: Json) => renderGatewayDeployment({ gateway: g, serviceAccount: 'edge', options: { ...DEFAULT_INJECT_OPTIONS, caPem: undefined } });
const objects = (g: Json): GatewayObjects => {
  const r = render(g);
  if (!('objects' in r)) throw new Error(JSON.stringify(r.problems));
  return r.objects;
};

describe('issue 10: the objects that run a Gateway in a cluster (GEP-1762)', () => {
  it('one Service port per listener port Trellis serves, the first listener\'s protocol naming it; other protocols get none', () => {
    const o = objects(gateway([
      { name: 'a', port: 80, protocol: 'HTTP' },
      { name: 'b', port: 80, protocol: 'HTTP', hostname: 'b.example.com' },
      { name: 'c', port: 443, protocol: 'HTTPS' },
      { name: 'd', port: 5353, protocol: 'UDP' },
    ]));
    expect((o.service!.spec as Json).ports).toEqual([
      { name: 'http-80', port: 80, targetPort: 80, protocol: 'TCP' },
      { name: 'https-443', port: 443, targetPort: 443, protocol: 'TCP' },
    ]);
  });

  it('no Service while no listener port is served (a Service needs a port)', () => {
    expect(objects(gateway([{ name: 'd', port: 5353, protocol: 'UDP' }])).service).toBeUndefined();
  });

  it('plaintext xDS (no mesh roots): the bootstrap says --plaintext and carries no CA', () => {
    const init = (((objects(gateway([{ name: 'a', port: 80, protocol: 'HTTP' }])).deployment.spec as Json).template as Json).spec as Json).initContainers[0] as Json;
    expect(init.args).toContain('--plaintext');
    expect((init.env as Json[]).map((e) => e.name)).toEqual(['POD_NAME', 'POD_NAMESPACE']);
  });

  it('a service type or replica count it cannot read is a problem naming the annotation, and nothing is rendered', () => {
    const r = render(gateway([{ name: 'a', port: 80, protocol: 'HTTP' }], { 'trellis.io/gateway-service-type': 'External', 'trellis.io/gateway-replicas': '-1' }));
    expect('problems' in r && r.problems.map((p) => p.field)).toEqual(['metadata.annotations.trellis.io/gateway-service-type', 'metadata.annotations.trellis.io/gateway-replicas']);
  });

  it('names stay DNS labels: past 63 characters, cut with a hash that keeps them apart', () => {
    expect(gatewayResourceName('edge', 'trellis')).toBe('edge-trellis');
    const a = gatewayResourceName('a'.repeat(60), 'trellis');
    const b = gatewayResourceName('a'.repeat(61), 'trellis');
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a).not.toBe(b);
  });
});
