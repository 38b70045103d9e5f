/**
 * The publisher re-translates only the proxies a change affects (their input
 * signature moved) and sends endpoint-only changes without translating at all.
 */
import { describe, expect, it } from 'vitest';
import { SnapshotCache } from '../cache/snapshot-cache.ts';
import { buildWith } from '../model/testing.ts';
import { rootLogger } from '../log.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { contentKeyGeneration } from '../translate/memo.ts';
import { MeshPublisher } from './publisher.ts';

const STRICT = `
apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {authorization: {mode: Strict}}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: all, namespace: demo}
spec: {matches: [{name: any, pathRegex: "/.*"}]}
`;

const target = (name: string, dest: string, source: string) => `
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: ${name}, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: ${dest}, namespace: demo}
  sources: [{kind: ServiceAccount, name: ${source}, namespace: demo}]
`;

const SPLIT = `
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends: [{service: web-v1, weight: 100}]
`;

const policy = (timeout: string) => `
---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web, namespace: demo}
spec:
  targetRef: {kind: Service, name: web}
  timeouts: {request: ${timeout}}
`;

function setup(intents: string) {
  const cache = new SnapshotCache((n) => n.id);
  const publisher = new MeshPublisher(cache, rootLogger);
  publisher.publish(buildWith(intents).model);
  for (const id of ['demo/client', 'demo/web-v1', 'demo/web-v2']) cache.watch(id, { id, cluster: 't', user_agent_name: 'envoy' }, () => {});
  return { cache, publisher };
}

describe('MeshPublisher: work proportional to what changed', () => {
  it.each([
    {
      name: 'a policy on web: only the caller that may reach web is translated again',
      before: STRICT + target('client-web', 'web', 'client') + policy('3s'),
      after: STRICT + target('client-web', 'web', 'client') + policy('5s'),
      translated: 1,
    },
    {
      name: 'a policy on a split root: only the caller, whose backend clusters inherit it (not the pods serving them)',
      before: STRICT + SPLIT + target('client-web', 'web', 'client') + policy('3s'),
      after: STRICT + SPLIT + target('client-web', 'web', 'client') + policy('5s'),
      translated: 1,
    },
    {
      name: 'a TrafficTarget to web: the web pods (its RBAC) and the new source (its scope)',
      before: STRICT,
      after: STRICT + target('client-web', 'web', 'client'),
      translated: 3,
    },
    {
      name: 'nothing changed: nobody is translated',
      before: STRICT + policy('3s'),
      after: STRICT + policy('3s'),
      translated: 0,
    },
  ])('$name', ({ before, after, translated }) => {
    const { publisher } = setup(before);
    const stats = publisher.publish(buildWith(after).model);
    expect(stats.proxies).toBe(3);
    expect(stats.translated).toBe(translated);
  });

  it('an endpoint-only change translates nobody and hands every proxy the new endpoint set', () => {
    const { cache, publisher } = setup(STRICT + target('client-web', 'web', 'client'));
    const before = cache.get('demo/client')!.get(TypeUrl.Endpoint);
    const moved = buildWith(STRICT + target('client-web', 'web', 'client'), {
      'more.yaml': `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-def, namespace: demo, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [127.0.0.9], conditions: {ready: true}}]
`,
    }).model;
    const stats = publisher.publish(moved);
    expect(stats.translated).toBe(0);
    const after = cache.get('demo/client')!.get(TypeUrl.Endpoint);
    expect(after).not.toBe(before);
    expect(cache.get('demo/web-v1')!.get(TypeUrl.Endpoint)).toBe(after);
  });

  it('issue 16: an endpoint-only change rotates the memo\'s content keys too (else their WeakMap keeps the churn\'s high water: +2 MiB in 1,000 changes)', () => {
    const { publisher } = setup(STRICT + target('client-web', 'web', 'client'));
    for (const ip of ['127.0.0.9', '127.0.0.10']) {
      const moved = buildWith(STRICT + target('client-web', 'web', 'client'), {
        'more.yaml': `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-def, namespace: demo, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\nports: [{name: http, port: 8080}]\nendpoints: [{addresses: [${ip}], conditions: {ready: true}}]\n`,
      }).model;
      const before = contentKeyGeneration();
      expect(publisher.publish(moved).translated).toBe(0);
      expect(contentKeyGeneration()).toBeGreaterThan(before);
    }
  });
});
