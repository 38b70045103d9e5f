import { describe, expect, it } from 'vitest';
import { reachableServices } from '../model/queries.ts';
import { proxyContext } from './proxy.ts';
import { visibleServices } from './scope.ts';
import { deepFreeze, meshWith, STRICT } from './testing.ts';

const SPLIT = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
---
`;

function target(name: string, destination: string, sources: string): string {
  return `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: ${name}, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: ${destination}, namespace: demo}
  sources: [${sources}]
---
`;
}

/** api's pods run as service account `api` (an api pod and its EndpointSlice). */
const API_PODS = `apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: demo, labels: {app: api}}
spec:
  serviceAccountName: api
  containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: 127.0.0.5}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-abc, namespace: demo, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- addresses: [127.0.0.5]
  targetRef: {kind: Pod, name: api-0}
`;

describe('visibleServices', () => {
  const cases: { name: string; intents: string; node: string; want: string[] }[] = [
    {
      name: 'permissive: every service, sorted',
      intents: '',
      node: 'demo/client',
      want: ['demo/api', 'demo/web', 'demo/web-v1', 'demo/web-v2'],
    },
    {
      name: 'permissive, node without a workload: still every service',
      intents: '',
      node: 'nobody',
      want: ['demo/api', 'demo/web', 'demo/web-v1', 'demo/web-v2'],
    },
    {
      name: 'strict, no TrafficTarget: nothing',
      intents: STRICT,
      node: 'demo/client',
      want: [],
    },
    {
      name: 'strict, node without a workload: nothing',
      intents: STRICT + target('web', 'web', '{kind: ServiceAccount, name: client}'),
      node: 'nobody',
      want: [],
    },
    {
      name: 'strict: services whose endpoints run as an allowed destination',
      intents: STRICT + target('web', 'web', '{kind: ServiceAccount, name: client}'),
      node: 'demo/client',
      want: ['demo/web'],
    },
    {
      name: 'strict: a TrafficTarget for another source does not widen scope',
      intents: STRICT + target('web', 'web', '{kind: ServiceAccount, name: someone-else}'),
      node: 'demo/client',
      want: [],
    },
    {
      name: 'strict: the backends of an allowed service’s TrafficSplit are added',
      intents: STRICT + SPLIT + target('web', 'web', '{kind: ServiceAccount, name: client}'),
      node: 'demo/client',
      want: ['demo/web', 'demo/web-v1', 'demo/web-v2'],
    },
    {
      name: 'strict: two destinations',
      intents: STRICT + target('web', 'web', '{kind: ServiceAccount, name: client}') + target('api', 'api', '{kind: ServiceAccount, name: client}'),
      node: 'demo/client',
      want: ['demo/api', 'demo/web'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const model = deepFreeze(meshWith(c.intents, { 'api.yaml': API_PODS }));
      const proxy = proxyContext({ id: c.node, user_agent_name: 'envoy' }, model);
      const got = visibleServices(model, proxy).map((s) => s.key);
      expect(got).toEqual(c.want);
      // The model's own answer to the same question agrees.
      if (proxy.workload) expect(reachableServices(model, proxy.workload)).toEqual(c.want);
    });
  }
});
