/**
 * issues 10/11 (north-south): a gateway Envoy's TLS passthrough and TCP
 * listeners: tls_inspector and a chain per TLSRoute matching its SNI names,
 * with no TLS terminated at the gateway; a TCP listener's one TCPRoute; both
 * tcp_proxy by weight to the backends' mTLS clusters as the gateway's
 * identity, a missing backend's share refused.
 */
import { describe, expect, it } from 'vitest';
import { proxyContext } from '../proxy.ts';
import { Translator, type ProxyResources } from '../translate.ts';
import { deepFreeze, meshWith, translationProblems } from '../testing.ts';
import { TRELLIS_GATEWAY_CLASS_YAML } from '../../model/gateway-testing.ts';

type Json = Record<string, any>;

/** db-v1 and db-v2: TCP services of pods run as db; edge: a TLS passthrough listener on 8443, a TCP one on 5432. */
const MESH = `apiVersion: v1
kind: ServiceAccount
metadata: {name: db, namespace: demo}
---
${['db-v1', 'db-v2'].map((name, i) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}-0, namespace: demo, labels: {app: ${name}}}
spec: {serviceAccountName: db, containers: [{name: app}]}
status: {podIP: 127.0.0.4${i}}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  selector: {app: ${name}}
  ports: [{name: pg, port: 5432, appProtocol: tcp}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-0, namespace: demo, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: pg, port: 5432}]
endpoints: [{addresses: [127.0.0.4${i}], conditions: {ready: true}, targetRef: {kind: Pod, name: ${name}-0}}]
---
`).join('')}${TRELLIS_GATEWAY_CLASS_YAML}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: demo}
spec:
  gatewayClassName: trellis
  listeners:
  - {name: tls, port: 8443, protocol: TLS, tls: {mode: Passthrough}}
  - {name: tcp, port: 5432, protocol: TCP}
---
`;

const TLS_ROUTES = `apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: v1, namespace: demo}
spec:
  parentRefs: [{name: edge}]
  hostnames: [v1.example.com, "*.v1.example.com"]
  rules: [{backendRefs: [{name: db-v1, port: 5432}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: v2, namespace: demo}
spec:
  parentRefs: [{name: edge}]
  hostnames: [v2.example.com]
  rules: [{backendRefs: [{name: db-v2, port: 5432}]}]
---
`;
const tcpRoute = (backends: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: pg, namespace: demo}
spec:
  parentRefs: [{name: edge, sectionName: tcp}]
  rules: [{backendRefs: [${backends}]}]
---
`;

function translate(intents: string): ProxyResources {
  const model = deepFreeze(meshWith(MESH + intents));
  return new Translator().translate(model, proxyContext({ id: 'gateway-1', user_agent_name: 'envoy', metadata: { 'trellis.gateway': 'demo/edge' } }, model));
}
const named = (list: readonly object[], name: string) => list.find((x) => (x as Json).name === name) as Json;

describe('issues 10/11: a gateway\'s TLS passthrough and TCP listeners', () => {
  it('TLS: tls_inspector, a chain per TLSRoute by SNI, no TLS terminated, tcp_proxy to the backend\'s mTLS cluster as the gateway', () => {
    const out = translate(TLS_ROUTES + tcpRoute('{name: db-v1, port: 5432}'));
    const l = named(out.listeners, 'gateway_8443');
    expect(l.listener_filters.map((f: Json) => f.name)).toEqual(['envoy.filters.listener.tls_inspector']);
    expect((l.filter_chains as Json[]).map((c) => [c.name, c.filter_chain_match.server_names, c.transport_socket ?? null, c.filters[0].typed_config.cluster])).toEqual([
      ['tls/TLSRoute/demo/v1', ['v1.example.com', '*.v1.example.com'], null, 'db-v1.demo:5432'],
      ['tls/TLSRoute/demo/v2', ['v2.example.com'], null, 'db-v2.demo:5432'],
    ]);
    const cluster = named(out.clusters, 'db-v1.demo:5432');
    // mTLS: the gateway's own certificate (its identity is the proxy's), the backend's SPIFFE ID checked.
    expect(out.identities).toEqual(['spiffe://cluster.local/ns/demo/sa/edge']);
    expect(cluster.transport_socket.typed_config.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names).toEqual([{ san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/demo/sa/db' } }]);
    expect(out.routes).toEqual([]);
    expect(translationProblems(out)).toEqual([]);
  });

  it('TCP: the listener\'s TCPRoute by weight; a missing backend\'s share goes to tcp-route-refused, which the gateway holds', () => {
    const out = translate(tcpRoute('{name: db-v1, port: 5432, weight: 3}, {name: db-v2, port: 5432, weight: 1}, {name: db-v9, port: 5432, weight: 1}'));
    const l = named(out.listeners, 'gateway_5432');
    expect(l.listener_filters).toBeUndefined();
    expect((l.filter_chains as Json[]).map((c) => [c.name, c.filters[0].typed_config.weighted_clusters.clusters])).toEqual([
      ['tcp/TCPRoute/demo/pg', [{ name: 'db-v1.demo:5432', weight: 3 }, { name: 'db-v2.demo:5432', weight: 1 }, { name: 'tcp-route-refused', weight: 1 }]],
    ]);
    expect(out.clusters.map((c) => c.name)).toEqual(expect.arrayContaining(['db-v1.demo:5432', 'db-v2.demo:5432', 'tcp-route-refused']));
    expect(translationProblems(out)).toEqual([]);
  });

  it('a port no route takes yet still binds, and refuses every connection', () => {
    const out = translate('');
    expect((named(out.listeners, 'gateway_5432').filter_chains as Json[]).map((c) => [c.name, c.filters[0].typed_config.cluster])).toEqual([['tcp/refused', 'tcp-route-refused']]);
    expect((named(out.listeners, 'gateway_8443').filter_chains as Json[]).map((c) => [c.name, c.filter_chain_match ?? null])).toEqual([['tls/refused', null]]);
    expect(translationProblems(out)).toEqual([]);
  });
});
