/**
 * issue 10/11, mesh TCPRoute in the translator: a client's connections to a
 * TCP service port that a Gateway API TCPRoute routes go to the route's
 * backends by weight (tcp_proxy weighted_clusters, each backend's mTLS
 * cluster), in explicit and transparent mode; the share of a missing backend
 * goes to a cluster without endpoints, so those connections are refused.
 */
import { describe, expect, it } from 'vitest';
import { proxyContext } from './proxy.ts';
import { NODE_METADATA } from './sidecar.ts';
import { deepFreeze, meshWith, STRICT, translationProblems } from './testing.ts';
import { Translator, type ProxyResources } from './translate.ts';

type Json = Record<string, any>;

/** db (10.96.0.10:5432 → 127.0.0.31:15432), run as db, and its two versions, run as db-next: TCP services. */
const DB = `${['db', 'db-next'].map((sa) => `apiVersion: v1
kind: ServiceAccount
metadata: {name: ${sa}, namespace: demo}
---
`).join('')}
${['db', 'db-v1', 'db-v2'].map((name, i) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}-0, namespace: demo, labels: {app: ${name}}}
spec:
  serviceAccountName: ${name === 'db' ? 'db' : 'db-next'}
  containers: [{name: app, ports: [{name: pg, containerPort: 15432}]}]
status: {podIP: 127.0.0.3${i + 1}}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  clusterIP: 10.96.0.1${i}
  selector: {app: ${name}}
  ports: [{name: pg, port: 5432, targetPort: pg, appProtocol: tcp}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-0, namespace: demo, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: pg, port: 15432}]
endpoints: [{addresses: [127.0.0.3${i + 1}], conditions: {ready: true}, targetRef: {kind: Pod, name: ${name}-0}}]
---
`).join('')}`;

const route = (backends: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: db, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
  rules: [{backendRefs: [${backends}]}]
---
`;
const SPLIT = route('{name: db-v1, port: 5432, weight: 90}, {name: db-v2, port: 5432, weight: 10}');

function translate(intents: string, mode: 'transparent' | 'explicit'): ProxyResources {
  const model = deepFreeze(meshWith(intents, { 'db.yaml': DB }));
  return new Translator().translate(model, proxyContext({ id: 'demo/client', user_agent_name: 'envoy', metadata: { [NODE_METADATA.mode]: mode } }, model));
}

const valid = (out: ProxyResources) => expect(translationProblems(out)).toEqual([]);

const named = (list: readonly object[], name: string) => list.find((x) => (x as Json).name === name) as Json;
const explicitProxy = (out: ProxyResources) => named(out.listeners, 'outbound-tcp:db.demo:5432').filter_chains[0].filters[0].typed_config as Json;
const clusterIpChain = (out: ProxyResources) => (named(out.listeners, 'outbound').filter_chains as Json[]).find((c) => c.name === 'tcp:db.demo:5432')!;

describe('issue 10/11: mesh TCPRoute, the client side', () => {
  it('explicit: the service port\'s listener sends connections to the backends\' mTLS clusters by weight', () => {
    const out = translate(SPLIT, 'explicit');
    expect(explicitProxy(out)).toMatchObject({ stat_prefix: 'outbound-tcp_db.demo_5432', weighted_clusters: { clusters: [{ name: 'db-v1.demo:5432', weight: 90 }, { name: 'db-v2.demo:5432', weight: 10 }] } });
    expect(explicitProxy(out).cluster).toBeUndefined();
    expect(named(out.clusters, 'db-v2.demo:5432').transport_socket.typed_config.sni).toBe('db-v2.demo.svc.cluster.local');
    valid(out);
  });

  it('transparent: the ClusterIP chain is weighted; a client dialling a pod of the service still reaches that pod', () => {
    const out = translate(SPLIT, 'transparent');
    expect(clusterIpChain(out).filters[0].typed_config.weighted_clusters.clusters).toEqual([{ name: 'db-v1.demo:5432', weight: 90 }, { name: 'db-v2.demo:5432', weight: 10 }]);
    const endpoints = (named(out.listeners, 'outbound').filter_chains as Json[]).find((c) => c.name === 'tcp:db.demo:5432/endpoints:15432')!;
    expect(endpoints.filters[0].typed_config.cluster).toBe('db.demo:5432/direct');
    valid(out);
  });

  it('a backend at weight 0 takes nothing: one backend left is a plain cluster', () => {
    const out = translate(route('{name: db-v1, port: 5432, weight: 0}, {name: db-v2, port: 5432, weight: 100}'), 'explicit');
    expect(explicitProxy(out).cluster).toBe('db-v2.demo:5432');
    expect(explicitProxy(out).weighted_clusters).toBeUndefined();
  });

  it('a missing backend: its share goes to tcp-route-refused, a cluster without endpoints that the proxy holds', () => {
    const out = translate(route('{name: db-v1, port: 5432, weight: 3}, {name: db-v9, port: 5432, weight: 1}'), 'transparent');
    expect(clusterIpChain(out).filters[0].typed_config.weighted_clusters.clusters).toEqual([{ name: 'db-v1.demo:5432', weight: 3 }, { name: 'tcp-route-refused', weight: 1 }]);
    expect(named(out.clusters, 'tcp-route-refused')).toMatchObject({ type: 'STATIC', load_assignment: { endpoints: [] } });
    valid(out);
  });

  it('without a TCPRoute no proxy holds tcp-route-refused', () => {
    const out = translate('', 'explicit');
    expect(explicitProxy(out).cluster).toBe('db.demo:5432');
    expect(out.clusters.map((c) => c.name)).not.toContain('tcp-route-refused');
  });

  it('strict: a client allowed to call db gets its backends\' clusters too (where its connections go)', () => {
    const target = `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-db, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: db}
  sources: [{kind: ServiceAccount, name: client}]
---
`;
    const out = translate(STRICT + target + SPLIT, 'explicit');
    expect(out.clusters.map((c) => c.name)).toEqual(expect.arrayContaining(['db.demo:5432', 'db-v1.demo:5432', 'db-v2.demo:5432']));
    valid(out);
  });
});
