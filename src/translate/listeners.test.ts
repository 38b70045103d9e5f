/**
 * Inbound listeners by interception mode. Transparent (Kubernetes, `trellis
 * inject`): ONE listener `inbound` on 0.0.0.0:15006 with original_dst, one
 * mTLS filter chain per port the application listens on (matched on the
 * targetPort callers' endpoints name), a passthrough default chain and a
 * refusal of connections made to 15006 itself. Explicit (the demo): one
 * listener per service port on the pod address, as before.
 */
import { describe, expect, it } from 'vitest';
import { checkConsistency, Snapshot, TypeSet } from '../cache/snapshot.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { transparentInboundListener } from './listeners.ts';
import { proxyContext, type NodeLike } from './proxy.ts';
import { INBOUND_PORT, NODE_METADATA } from './sidecar.ts';
import { deepFreeze, encodeAll, meshWith, resourcesOf, STRICT, unknownEnums } from './testing.ts';
import { downstreamTls } from './tls.ts';
import { Translator, type ProxyResources } from './translate.ts';

type Json = Record<string, any>;

/**
 * store-1 serves three Services: `store` on 8080 → 8080 (port equal to
 * targetPort, the usual case), 9090 (gRPC) and 5432 (TCP: tcp-listeners.test.ts);
 * `store-public` on 80 → the container port named http (8080 again).
 * store-2 runs as the same identity and serves only `store-admin`, 80 → 7000.
 */
const STORE = `apiVersion: v1
kind: ServiceAccount
metadata: {name: store, namespace: demo}
---
apiVersion: v1
kind: Pod
metadata: {name: store-1, namespace: demo, labels: {app: store}}
spec:
  serviceAccountName: store
  containers: [{name: app, ports: [{name: http, containerPort: 8080}, {name: grpc, containerPort: 9090}]}]
status: {podIP: 127.0.0.20}
---
apiVersion: v1
kind: Pod
metadata: {name: store-2, namespace: demo, labels: {app: store-admin}}
spec:
  serviceAccountName: store
  containers: [{name: app, ports: [{name: http, containerPort: 7000}]}]
status: {podIP: 127.0.0.21}
---
apiVersion: v1
kind: Service
metadata: {name: store, namespace: demo}
spec:
  selector: {app: store}
  ports:
  - {name: http, port: 8080, targetPort: 8080}
  - {name: grpc, port: 9090, appProtocol: grpc}
  - {name: db, port: 5432, appProtocol: tcp}
---
apiVersion: v1
kind: Service
metadata: {name: store-public, namespace: demo}
spec:
  selector: {app: store}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: store-admin, namespace: demo}
spec:
  selector: {app: store-admin}
  ports: [{name: http, port: 80, targetPort: 7000}]
`;

/** client may call the store's service port 80 (store-public, and store-admin's); web may call any port. */
const TARGETS = `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-store-80, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: store, namespace: demo, port: 80}
  sources: [{kind: ServiceAccount, name: client}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: web-to-store, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: store, namespace: demo}
  sources: [{kind: ServiceAccount, name: web}]
`;

const node = (pod: string, mode: 'transparent' | 'explicit'): NodeLike => ({
  id: `demo/${pod}`,
  user_agent_name: 'envoy',
  metadata: { [NODE_METADATA.mode]: mode },
});

function translate(intents: string, pod: string, mode: 'transparent' | 'explicit', t = new Translator()): ProxyResources {
  const model = deepFreeze(meshWith(intents, { 'store.yaml': STORE }));
  return t.translate(model, proxyContext(node(pod, mode), model));
}

const hcmOf = (chain: Json) => chain.filters[0].typed_config;
const rbacOf = (chain: Json): string[] | 'none' => {
  const f = hcmOf(chain).http_filters.find((x: Json) => x.name === 'envoy.filters.http.rbac');
  return f ? Object.keys(f.typed_config.rules.policies) : 'none';
};
const upstreamOf = (c: Json) => ({
  at: c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address,
  http2: c.typed_extension_protocol_options !== undefined,
});

describe('transparent mode: one inbound listener on 15006, one filter chain per targetPort', () => {
  const cases: Array<{
    name: string;
    intents: string;
    pod: string;
    /** per mesh chain: [destination_port, route cluster, RBAC policy names or 'none'] */
    chains: Array<[number, string, string[] | 'none']>;
    /** inbound cluster → where it forwards */
    clusters: Record<string, { at: { address: string; port_value: number }; http2: boolean }>;
  }>= [
    {
      name: 'permissive: service port = targetPort works; two service ports on one targetPort share a chain; the TCP port gets its own chain',
      intents: '',
      pod: 'store-1',
      chains: [
        [8080, 'inbound:8080', 'none'],
        [9090, 'inbound:9090', 'none'],
      ],
      clusters: {
        'inbound:5432': { at: { address: '127.0.0.1', port_value: 5432 }, http2: false },
        'inbound:8080': { at: { address: '127.0.0.1', port_value: 8080 }, http2: false },
        'inbound:9090': { at: { address: '127.0.0.1', port_value: 9090 }, http2: true },
      },
    },
    {
      name: 'strict: each chain has the TrafficTargets of its ports (a target on service port 80 reaches targetPort 8080)',
      intents: STRICT + TARGETS,
      pod: 'store-1',
      chains: [
        [8080, 'inbound:8080', ['demo/client-to-store-80', 'demo/web-to-store']],
        [9090, 'inbound:9090', ['demo/web-to-store']],
      ],
      clusters: {
        'inbound:5432': { at: { address: '127.0.0.1', port_value: 5432 }, http2: false },
        'inbound:8080': { at: { address: '127.0.0.1', port_value: 8080 }, http2: false },
        'inbound:9090': { at: { address: '127.0.0.1', port_value: 9090 }, http2: true },
      },
    },
    {
      name: 'strict, same identity, another pod: its own ports and targets',
      intents: STRICT + TARGETS,
      pod: 'store-2',
      chains: [[7000, 'inbound:7000', ['demo/client-to-store-80', 'demo/web-to-store']]],
      clusters: { 'inbound:7000': { at: { address: '127.0.0.1', port_value: 7000 }, http2: false } },
    },
    {
      name: 'strict, no TrafficTarget: every chain denies (an empty ALLOW list)',
      intents: STRICT,
      pod: 'store-1',
      chains: [
        [8080, 'inbound:8080', []],
        [9090, 'inbound:9090', []],
      ],
      clusters: {
        'inbound:5432': { at: { address: '127.0.0.1', port_value: 5432 }, http2: false },
        'inbound:8080': { at: { address: '127.0.0.1', port_value: 8080 }, http2: false },
        'inbound:9090': { at: { address: '127.0.0.1', port_value: 9090 }, http2: true },
      },
    },
  ];

  it.each(cases)('$name', ({ intents, pod, chains, clusters }) => {
    const out = translate(intents, pod, 'transparent');
    expect(out.listeners.map((l) => l.name).sort()).toEqual(['inbound', 'outbound']);
    const l = out.listeners.find((x) => x.name === 'inbound') as Json;
    expect(l.address).toEqual({ socket_address: { address: '0.0.0.0', port_value: INBOUND_PORT } });
    expect(l.traffic_direction).toBe('INBOUND');
    expect(l.listener_filters.map((f: Json) => f.name)).toEqual(['envoy.filters.listener.original_dst']);
    const isHttp = (c: Json) => c.filters[0].name === 'envoy.filters.network.http_connection_manager';
    const mesh = (l.filter_chains as Json[]).filter((c) => c.transport_socket && isHttp(c));
    const tcp = (l.filter_chains as Json[]).filter((c) => c.transport_socket && !isHttp(c));
    expect(tcp.map((c) => c.name)).toEqual(pod === 'store-1' ? ['inbound:5432'] : []);
    expect(mesh.map((c) => [c.filter_chain_match.destination_port, hcmOf(c).route_config.virtual_hosts[0].routes[0].route.cluster, rbacOf(c)])).toEqual(chains);
    for (const c of mesh) {
      const port = c.filter_chain_match.destination_port;
      expect(c.name).toBe(`inbound:${port}`);
      expect(c.filter_chain_match).toEqual({ destination_port: port });
      expect(c.transport_socket).toEqual(downstreamTls());
      expect(hcmOf(c)).toMatchObject({ stat_prefix: `inbound_${port}`, forward_client_cert_details: 'SANITIZE_SET', set_current_client_cert_details: { uri: true } });
      expect(hcmOf(c).route_config.name).toBe(`inbound:${port}`);
      expect(hcmOf(c).http_filters.at(-1).name).toBe('envoy.filters.http.router');
    }
    // Not a mesh port: through to the application as it is; 15006 itself: refused (it would loop).
    expect(l.default_filter_chain).toMatchObject({ name: 'passthrough', filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { cluster: 'inbound-passthrough' } }] });
    const direct = (l.filter_chains as Json[]).find((c) => c.name === 'inbound-direct')!;
    expect(direct.filter_chain_match).toEqual({ destination_port: INBOUND_PORT });
    expect(direct.filters.map((f: Json) => f.name)).toEqual(['envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']);
    expect(direct.filters[0].typed_config.rules).toEqual({ action: 'ALLOW' });
    expect(l.filter_chains).toHaveLength(chains.length + tcp.length + 1);

    const inbound = Object.fromEntries(out.clusters.filter((c) => String(c.name).startsWith('inbound:')).map((c) => [c.name, upstreamOf(c)]));
    expect(inbound).toEqual(clusters);
    expect(out.clusters.find((c) => c.name === 'passthrough')).toMatchObject({ type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' });
    // The inbound passthrough leaves from 127.0.0.6, which the redirect lets through (its own pod's address would come back here).
    expect(out.clusters.find((c) => c.name === 'inbound-passthrough')).toMatchObject({ type: 'ORIGINAL_DST', upstream_bind_config: { source_address: { address: '127.0.0.6', port_value: 0 } } });

    // Valid protos, known enums, every referenced cluster present.
    const enc = encodeAll(out);
    const set = (t: (typeof TypeUrl)[keyof typeof TypeUrl]) => TypeSet.of(t, enc.filter((r) => r.typeUrl === t));
    const snapshot = new Snapshot({ [TypeUrl.Cluster]: set(TypeUrl.Cluster), [TypeUrl.Endpoint]: set(TypeUrl.Endpoint), [TypeUrl.Listener]: set(TypeUrl.Listener), [TypeUrl.Route]: set(TypeUrl.Route) });
    expect(checkConsistency(snapshot)).toEqual([]);
    for (const [typeUrl, r] of resourcesOf(out)) expect(unknownEnums(typeUrl, r), String(r.name ?? r.cluster_name)).toEqual([]);
  });

  it('a workload with no mesh port still gets the listener: the redirect sends everything there', () => {
    const out = translate('', 'client', 'transparent');
    const l = out.listeners.find((x) => x.name === 'inbound') as Json;
    expect(l.filter_chains.map((c: Json) => c.name)).toEqual(['inbound-direct']);
    expect(l.default_filter_chain.name).toBe('passthrough');
    expect(out.clusters.filter((c) => String(c.name).startsWith('inbound')).map((c) => c.name)).toEqual(['inbound-passthrough']);
  });

  it('memo: equal inputs give the same listener; same identity with other ports or targets does not', () => {
    const t = new Translator();
    const model = deepFreeze(meshWith(STRICT + TARGETS, { 'store.yaml': STORE }));
    const inbound = (pod: string) => t.translate(model, proxyContext(node(pod, 'transparent'), model)).listeners.find((l) => l.name === 'inbound');
    expect(inbound('store-1')).toBe(inbound('store-1'));
    expect(inbound('store-2')).not.toBe(inbound('store-1'));
  });

  it('the builder: chains in the order given, then the refusal of direct connections', () => {
    const l = transparentInboundListener({ name: 'inbound', address: '0.0.0.0', port: 15006, chains: [{ name: 'inbound:80', port: 80, cluster: 'inbound:80', filters: {} }], passthroughCluster: 'passthrough' }) as Json;
    expect(l.filter_chains.map((c: Json) => [c.name, c.filter_chain_match])).toEqual([
      ['inbound:80', { destination_port: 80 }],
      ['inbound-direct', { destination_port: 15006 }],
    ]);
  });
});

describe('explicit mode is unchanged: one listener per service port, on the pod address', () => {
  it.each([
    { intents: '', pod: 'store-1', listeners: ['inbound:5432', 'inbound:80', 'inbound:8080', 'inbound:9090', 'outbound', 'outbound-tcp:store.demo:5432'], address: '127.0.0.20' },
    { intents: STRICT + TARGETS, pod: 'store-2', listeners: ['inbound:80', 'outbound'], address: '127.0.0.21' },
  ])('$pod', ({ intents, pod, listeners, address }) => {
    const out = translate(intents, pod, 'explicit');
    expect(out.listeners.map((l) => l.name).sort()).toEqual(listeners);
    for (const l of out.listeners.filter((x) => String(x.name).startsWith('inbound:')) as Json[]) {
      expect(l.address.socket_address).toEqual({ address, port_value: Number(l.name.split(':')[1]) });
      expect(l.listener_filters).toBeUndefined();
      expect(l.filter_chains).toHaveLength(1);
      expect(l.filter_chains[0].filter_chain_match).toBeUndefined();
    }
    expect(out.clusters.some((c) => c.name === 'passthrough')).toBe(false);
  });
});
