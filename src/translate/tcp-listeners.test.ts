/**
 * Issue 11, TCP services in the translator: a port with appProtocol tcp gets
 * an mTLS cluster (SPIFFE SAN checked) that TrafficPolicy shapes, a way in
 * for clients (explicit: a local listener; transparent: filter chains of
 * `outbound` matching the ClusterIP and the endpoints), and an inbound mTLS
 * chain with network RBAC from TrafficTargets with TCPRoute rules.
 */
import { describe, expect, it } from 'vitest';
import { proxyContext } from './proxy.ts';
import { NODE_METADATA } from './sidecar.ts';
import { deepFreeze, meshWith, STRICT, translationProblems } from './testing.ts';
import { tcpRbacPolicies } from './tcp-listeners.ts';
import { Translator, type ProxyResources } from './translate.ts';

type Json = Record<string, any>;
const TD = 'spiffe://cluster.local/ns/demo/sa';

/** db: a TCP service (ClusterIP 10.96.0.10:5432 → db-1 and db-2 on 15432), run as service account db. */
const DB = `apiVersion: v1
kind: ServiceAccount
metadata: {name: db, namespace: demo}
---
${[1, 2].map((i) => `apiVersion: v1
kind: Pod
metadata: {name: db-${i}, namespace: demo, labels: {app: db}}
spec:
  serviceAccountName: db
  containers: [{name: app, ports: [{name: pg, containerPort: 15432}]}]
status: {podIP: 127.0.0.3${i}}
---
`).join('')}apiVersion: v1
kind: Service
metadata: {name: db, namespace: demo}
spec:
  clusterIP: 10.96.0.10
  selector: {app: db}
  ports: [{name: pg, port: 5432, targetPort: pg, appProtocol: tcp}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-1, namespace: demo, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{name: pg, port: 15432}]
endpoints:
- {addresses: [127.0.0.31], conditions: {ready: true}, targetRef: {kind: Pod, name: db-1}}
- {addresses: [127.0.0.32], conditions: {ready: true}, targetRef: {kind: Pod, name: db-2}}
`;

const POLICY = `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: db, namespace: demo}
spec:
  targetRef: {kind: Service, name: db}
  timeouts: {connect: 250ms, idle: 30s}
  circuitBreaker: {maxConnections: 10}
  outlierDetection: {consecutiveGatewayErrors: 3}
  loadBalancer: {policy: LeastRequest}
---
`;

const TCP_ROUTE = `apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: pg, namespace: demo}
spec:
  matches: {ports: [5432]}
---
`;
const target = (name: string, source: string, rules: string) => `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: ${name}, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: db}
  sources: [{kind: ServiceAccount, name: ${source}}]
${rules}---
`;
const HTTP_ONLY = `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: all, namespace: demo}
spec:
  matches: [{name: all, pathRegex: "/.*"}]
---
`;

function translate(intents: string, pod: string, mode: 'transparent' | 'explicit'): ProxyResources {
  const model = deepFreeze(meshWith(intents, { 'db.yaml': DB }));
  return new Translator().translate(model, proxyContext({ id: `demo/${pod}`, user_agent_name: 'envoy', metadata: { [NODE_METADATA.mode]: mode } }, model));
}

const valid = (out: ProxyResources) => expect(translationProblems(out)).toEqual([]);

const named = (list: readonly object[], name: string) => list.find((x) => (x as Json).name === name) as Json;

describe('issue 11: TCP services, the client side', () => {
  it('the cluster: mTLS to the service\'s identities, no HTTP options, TrafficPolicy applied; no HTTP virtual host', () => {
    const out = translate(POLICY, 'client', 'explicit');
    const c = named(out.clusters, 'db.demo:5432');
    expect(c).toMatchObject({ type: 'EDS', connect_timeout: '0.25s', lb_policy: 'LEAST_REQUEST' });
    expect(c.circuit_breakers.thresholds[0].max_connections).toBe(10);
    expect(c.outlier_detection.consecutive_gateway_failure).toBe(3);
    expect(c.typed_extension_protocol_options).toBeUndefined();
    const tls = c.transport_socket.typed_config;
    expect(tls.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names).toEqual([{ san_type: 'URI', matcher: { exact: `${TD}/db` } }]);
    expect(out.endpoints.map((e) => e.cluster_name)).toContain('db.demo:5432');
    const vhosts = (out.routes[0]!.virtual_hosts ?? []).map((v) => v.name);
    expect(vhosts).not.toContain('db.demo:5432');
    valid(out);
  });

  it('explicit mode: a listener on the outbound address at the service port, tcp_proxy with the idle timeout', () => {
    const out = translate(POLICY, 'client', 'explicit');
    const l = named(out.listeners, 'outbound-tcp:db.demo:5432');
    expect(l.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 5432 });
    expect(l.filter_chains).toHaveLength(1);
    expect(l.filter_chains[0].filters[0]).toMatchObject({ name: 'envoy.filters.network.tcp_proxy', typed_config: { stat_prefix: 'outbound-tcp_db.demo_5432', cluster: 'db.demo:5432', idle_timeout: '30s' } });
  });

  it('explicit mode: no listener on a port the sidecar or the application already holds on that address', () => {
    const model = deepFreeze(meshWith('', { 'db.yaml': DB }));
    const at = (metadata: Record<string, string>) =>
      new Translator().translate(model, proxyContext({ id: 'demo/client', user_agent_name: 'envoy', metadata: { [NODE_METADATA.mode]: 'explicit', ...metadata } }, model)).listeners.map((l) => l.name);
    expect(at({ [NODE_METADATA.outboundAddress]: '127.0.0.2:15001' })).toContain('outbound-tcp:db.demo:5432');
    // The application listens on 127.0.0.2:5432 itself (app port 5432 behind service port 80).
    expect(at({ [NODE_METADATA.outboundAddress]: '127.0.0.2:15001', [NODE_METADATA.appAddress]: '127.0.0.2', [NODE_METADATA.appPorts]: '80=5432' })).not.toContain('outbound-tcp:db.demo:5432');
    // The outbound listener itself on 5432.
    expect(at({ [NODE_METADATA.outboundAddress]: '127.0.0.2:5432' })).not.toContain('outbound-tcp:db.demo:5432');
  });

  it('transparent mode: `outbound` matches the ClusterIP (to the cluster) and the endpoints (to the pod dialled), before the HTTP chain', () => {
    const out = translate(POLICY, 'client', 'transparent');
    expect(out.listeners.map((l) => l.name).sort()).toEqual(['inbound', 'outbound']);
    const l = named(out.listeners, 'outbound');
    // The HTTP ports' own (http-destinations.test.ts) left aside.
    const chains = (l.filter_chains as Json[]).filter((c) => !String(c.name).startsWith('http:'));
    expect(chains.map((c) => [c.name ?? '', c.filter_chain_match ?? null, c.filters[0].typed_config.cluster ?? 'hcm'])).toEqual([
      ['tcp:db.demo:5432', { destination_port: 5432, prefix_ranges: [{ address_prefix: '10.96.0.10', prefix_len: 32 }] }, 'db.demo:5432'],
      ['tcp:db.demo:5432/endpoints:15432', { destination_port: 15432, prefix_ranges: [{ address_prefix: '127.0.0.31', prefix_len: 32 }, { address_prefix: '127.0.0.32', prefix_len: 32 }] }, 'db.demo:5432/direct'],
      ['outbound-http', { application_protocols: ['http/1.0', 'http/1.1', 'h2c'] }, 'hcm'],
    ]);
    const direct = named(out.clusters, 'db.demo:5432/direct');
    expect(direct).toMatchObject({ type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '0.25s', circuit_breakers: { thresholds: [{ max_connections: 10 }] } });
    expect(direct.transport_socket.typed_config.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names).toEqual([{ san_type: 'URI', matcher: { exact: `${TD}/db` } }]);
    valid(out);
  });

  it('transparent mode: a pod behind two TCP services on one port is claimed once (Envoy refuses two chains of one match)', () => {
    const twin = `apiVersion: v1
kind: Service
metadata: {name: db-twin, namespace: demo}
spec:
  clusterIP: 10.96.0.11
  selector: {app: db}
  ports: [{name: pg, port: 5432, targetPort: pg, appProtocol: tcp}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-twin-1, namespace: demo, labels: {kubernetes.io/service-name: db-twin}}
addressType: IPv4
ports: [{name: pg, port: 15432}]
endpoints: [{addresses: [127.0.0.31], conditions: {ready: true}, targetRef: {kind: Pod, name: db-1}}]
`;
    const out = translate(`${twin}---\n`, 'client', 'transparent');
    const chains = (named(out.listeners, 'outbound').filter_chains as Json[]).filter((c) => c.name?.startsWith('tcp:'));
    // db (first by key) claims 127.0.0.31:15432; db-twin keeps its own ClusterIP only.
    expect(chains.map((c) => [c.name, c.filter_chain_match.prefix_ranges.map((r: Json) => r.address_prefix)])).toEqual([
      ['tcp:db.demo:5432', ['10.96.0.10']],
      ['tcp:db.demo:5432/endpoints:15432', ['127.0.0.31', '127.0.0.32']],
      ['tcp:db-twin.demo:5432', ['10.96.0.11']],
    ]);
    expect(out.clusters.map((c) => c.name)).not.toContain('db-twin.demo:5432/direct');
    valid(out);
  });
});

describe('issue 11: TCP services, the server side', () => {
  const chainOf = (out: ProxyResources) => (named(out.listeners, 'inbound').filter_chains as Json[]).find((c) => c.name === 'inbound:15432')!;

  it('transparent: the targetPort\'s chain terminates mTLS and proxies bytes to the application; permissive: no RBAC', () => {
    const out = translate('', 'db-1', 'transparent');
    const c = chainOf(out);
    expect(c.filter_chain_match).toEqual({ destination_port: 15432 });
    expect(c.transport_socket.typed_config.require_client_certificate).toBe(true);
    expect(c.filters.map((f: Json) => f.name)).toEqual(['envoy.filters.network.tcp_proxy']);
    expect(c.filters[0].typed_config).toMatchObject({ stat_prefix: 'inbound_15432', cluster: 'inbound:15432' });
    valid(out);
  });

  it.each([
    { name: 'a TCPRoute for the port allows its sources', rules: `  rules: [{kind: TCPRoute, name: pg}]\n`, allowed: true },
    { name: 'no rules allows every connection', rules: '', allowed: true },
    { name: 'HTTPRouteGroup rules only: no TCP connection (fail closed)', rules: `  rules: [{kind: HTTPRouteGroup, name: all}]\n`, allowed: false },
    { name: 'a TCPRoute for another port: refused', rules: `  rules: [{kind: TCPRoute, name: other}]\n`, allowed: false },
  ])('strict, network RBAC by SPIFFE principal: $name', ({ rules, allowed }) => {
    const other = TCP_ROUTE.replace('name: pg', 'name: other').replace('[5432]', '[6379]');
    const out = translate(STRICT + TCP_ROUTE + other + HTTP_ONLY + target('client-to-db', 'client', rules), 'db-1', 'transparent');
    const c = chainOf(out);
    expect(c.filters.map((f: Json) => f.name)).toEqual(['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']);
    const policies = c.filters[0].typed_config.rules.policies;
    expect(c.filters[0].typed_config.rules.action).toBe('ALLOW');
    expect(policies).toEqual(allowed ? { 'demo/client-to-db': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: `${TD}/client` } } }] } } : {});
    valid(out);
  });

  it('explicit: an inbound listener on the pod address at the service port, mTLS + RBAC + tcp_proxy', () => {
    const out = translate(STRICT + TCP_ROUTE + target('client-to-db', 'client', `  rules: [{kind: TCPRoute, name: pg}]\n`), 'db-1', 'explicit');
    const l = named(out.listeners, 'inbound:5432');
    expect(l.address.socket_address).toEqual({ address: '127.0.0.31', port_value: 5432 });
    expect(l.filter_chains[0].filters.map((f: Json) => f.name)).toEqual(['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']);
    expect(Object.keys(l.filter_chains[0].filters[0].typed_config.rules.policies)).toEqual(['demo/client-to-db']);
    valid(out);
  });

  const PERMISSIVE_DB = `apiVersion: trellis.io/v1alpha1
kind: MTLSPolicy
metadata: {name: db-1, namespace: demo}
spec: {mode: Permissive, targetRef: {kind: Pod, name: db-1}}
---
`;
  const summary = (chains: Json[]) => chains.map((c) => [c.name ?? null, c.filter_chain_match?.transport_protocol ?? null, c.transport_socket ? 'mtls' : 'plain', c.filters.map((f: Json) => f.name.replace('envoy.filters.network.', '')), c.filters.at(-1).typed_config.stat_prefix]);

  it('issue 11: a Permissive workload\'s TCP port (explicit) takes plaintext too: tls_inspector, an mTLS chain and a plaintext twin with the same network RBAC', () => {
    const out = translate(STRICT + PERMISSIVE_DB + TCP_ROUTE + target('client-to-db', 'client', `  rules: [{kind: TCPRoute, name: pg}]\n`), 'db-1', 'explicit');
    const l = named(out.listeners, 'inbound:5432');
    expect((l.listener_filters ?? []).map((f: Json) => f.name)).toEqual(['envoy.filters.listener.tls_inspector']);
    expect(summary(l.filter_chains)).toEqual([
      [null, 'tls', 'mtls', ['rbac', 'tcp_proxy'], 'inbound_5432'],
      [null, 'raw_buffer', 'plain', ['rbac', 'tcp_proxy'], 'inbound_5432_plaintext'],
    ]);
    // The same policy: SPIFFE principals, which a connection without a certificate never matches.
    expect(l.filter_chains[1].filters[0].typed_config.rules).toEqual(l.filter_chains[0].filters[0].typed_config.rules);
    // db-2 stays Strict: mTLS only, no inspector.
    const strict = named(translate(STRICT + PERMISSIVE_DB, 'db-2', 'explicit').listeners, 'inbound:5432');
    expect(strict.listener_filters).toBeUndefined();
    expect(summary(strict.filter_chains).map((c) => c.slice(1, 3))).toEqual([[null, 'mtls']]);
    valid(out);
  });

  it('issue 11: a Permissive workload\'s TCP port (transparent): the `inbound` chain and its plaintext twin, tls_inspector on the listener', () => {
    const out = translate(PERMISSIVE_DB, 'db-1', 'transparent');
    const l = named(out.listeners, 'inbound');
    expect((l.listener_filters as Json[]).map((f) => f.name)).toContain('envoy.filters.listener.tls_inspector');
    const chains = (l.filter_chains as Json[]).filter((c) => c.name?.startsWith('inbound:15432'));
    expect(summary(chains)).toEqual([
      ['inbound:15432', 'tls', 'mtls', ['tcp_proxy'], 'inbound_15432'],
      ['inbound:15432/plaintext', 'raw_buffer', 'plain', ['tcp_proxy'], 'inbound_15432_plaintext'],
    ]);
    expect(chains.map((c) => c.filter_chain_match.destination_port)).toEqual([15432, 15432]);
    valid(out);
  });

  it('tcpRbacPolicies: a TrafficTarget limited to another destination port is left out', () => {
    const rule = { key: 'demo/t', namespace: 'demo', name: 't', destination: { spiffeId: `${TD}/db`, namespace: 'demo', serviceAccount: 'db', port: 6379 }, sources: [{ spiffeId: `${TD}/client`, namespace: 'demo', serviceAccount: 'client' }] };
    expect(tcpRbacPolicies([rule], [5432, 15432])).toEqual({});
    expect(Object.keys(tcpRbacPolicies([{ ...rule, destination: { ...rule.destination, port: 15432 } }], [5432, 15432]))).toEqual(['demo/t']);
  });
});

describe('issue 11: an undeclared port (auto) is detected per connection', () => {
  /** mixed: no appProtocol, a port name that says nothing; served by db-1 and db-2 on 15433. */
  const MIXED = `apiVersion: v1
kind: Service
metadata: {name: mixed, namespace: demo}
spec:
  clusterIP: 10.96.0.12
  selector: {app: db}
  ports: [{name: main, port: 7000, targetPort: 15433}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: mixed-1, namespace: demo, labels: {kubernetes.io/service-name: mixed}}
addressType: IPv4
ports: [{name: main, port: 15433}]
endpoints: [{addresses: [127.0.0.31], conditions: {ready: true}, targetRef: {kind: Pod, name: db-1}}]
---
`;
  const predicate = (ports: number[]) => ({ not_match: ports.length === 1 ? { destination_port_range: { start: ports[0], end: ports[0]! + 1 } } : { or_match: { rules: ports.map((p) => ({ destination_port_range: { start: p, end: p + 1 } })) } } });

  it('explicit client: the local listener runs http_inspector on its port; HTTP goes to the outbound HTTP manager, the rest to tcp_proxy', () => {
    const out = translate(MIXED, 'client', 'explicit');
    const l = named(out.listeners, 'outbound-tcp:mixed.demo:7000');
    expect(l.listener_filters).toEqual([{ name: 'envoy.filters.listener.http_inspector', typed_config: expect.any(Object), filter_disabled: predicate([7000]) }]);
    expect(l).toMatchObject({ listener_filters_timeout: '1s', continue_on_listener_filters_timeout: true });
    expect(l.filter_chains.map((c: Json) => [c.name, c.filter_chain_match?.application_protocols ?? null, c.filters[0].name])).toEqual([
      ['http', ['http/1.0', 'http/1.1', 'h2c'], 'envoy.filters.network.http_connection_manager'],
      ['tcp', null, 'envoy.filters.network.tcp_proxy'],
    ]);
    // Still an HTTP service too: a virtual host in the outbound route configuration.
    expect((out.routes[0]!.virtual_hosts ?? []).map((v) => v.name)).toContain('mixed.demo:7000');
    valid(out);
  });

  it('transparent client: `outbound` inspects HTTP (egress needs it on every port, issue 11), and an undeclared port has an HTTP twin before each TCP chain', () => {
    const out = translate(MIXED, 'client', 'transparent');
    const l = named(out.listeners, 'outbound');
    expect(l.listener_filters.map((f: Json) => f.name)).toEqual(['envoy.filters.listener.original_dst', 'envoy.filters.listener.tls_inspector', 'envoy.filters.listener.http_inspector']);
    expect(l.listener_filters[2].filter_disabled).toBeUndefined();
    const chains = (l.filter_chains as Json[]).filter((c) => c.name?.includes('mixed'));
    expect(chains.map((c) => [c.name, c.filter_chain_match.application_protocols ?? null, c.filters[0].name])).toEqual([
      ['tcp:mixed.demo:7000/http', ['http/1.0', 'http/1.1', 'h2c'], 'envoy.filters.network.http_connection_manager'],
      ['tcp:mixed.demo:7000', null, 'envoy.filters.network.tcp_proxy'],
      ['tcp:mixed.demo:7000/endpoints:15433/http', ['http/1.0', 'http/1.1', 'h2c'], 'envoy.filters.network.http_connection_manager'],
      ['tcp:mixed.demo:7000/endpoints:15433', null, 'envoy.filters.network.tcp_proxy'],
    ]);
    valid(out);
  });

  it('server, both modes: tls_inspector reads the client sidecar\'s ALPN: http/1.1 or h2 → the HTTP chain, none → TCP (network RBAC)', () => {
    const intents = STRICT + target('client-to-db', 'client', '');
    const explicit = named(translate(MIXED + intents, 'db-1', 'explicit').listeners, 'inbound:7000');
    expect(explicit.listener_filters).toEqual([{ name: 'envoy.filters.listener.tls_inspector', typed_config: expect.any(Object), filter_disabled: predicate([7000]) }]);
    expect(explicit.filter_chains.map((c: Json) => [c.name, c.filter_chain_match?.application_protocols ?? null, c.filters.map((f: Json) => f.name)])).toEqual([
      ['http', ['http/1.1', 'h2'], ['envoy.filters.network.http_connection_manager']],
      ['tcp', null, ['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']],
    ]);
    const out = translate(MIXED + intents, 'db-1', 'transparent');
    const inbound = named(out.listeners, 'inbound');
    expect(inbound.listener_filters.map((f: Json) => f.name)).toEqual(['envoy.filters.listener.original_dst', 'envoy.filters.listener.tls_inspector']);
    const chains = (inbound.filter_chains as Json[]).filter((c) => c.filter_chain_match?.destination_port === 15433);
    expect(chains.map((c) => [c.name, c.filter_chain_match.application_protocols ?? null])).toEqual([
      ['inbound:15433', ['http/1.1', 'h2']],
      ['inbound:15433/tcp', null],
    ]);
    valid(out);
  });
});
