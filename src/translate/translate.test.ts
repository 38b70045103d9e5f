/**
 * The builders together, for one proxy at a time: every resource is a valid
 * Envoy proto, the set is consistent, the model is never mutated, and memo
 * tables give back the very same objects for equal inputs.
 */
import { describe, expect, it } from 'vitest';
import { buildMesh } from '../model/index.ts';
import { objectsFrom } from '../model/testing.ts';
import type { MeshModel } from '../model/types.ts';
import { checkConsistency, Snapshot, TypeSet } from '../cache/snapshot.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import { proxyContext, type NodeLike } from './proxy.ts';
import { NODE_METADATA } from './sidecar.ts';
import { BASE_MESH, deepFreeze, encodeAll, meshWith, resourcesOf, STRICT, unknownEnums } from './testing.ts';
import { Translator, type ProxyResources } from './translate.ts';

const INTENTS = `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: web-routes, namespace: demo}
spec:
  matches:
  - {name: canary, headers: [{x-canary: "true"}]}
  - {name: reports, pathRegex: /reports/.*, methods: [GET]}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: canary, namespace: demo}
spec:
  matches:
  - {name: canary, headers: [{x-canary: "true"}]}
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web-canary, namespace: demo}
spec:
  service: web
  matches: [{kind: HTTPRouteGroup, name: canary}]
  backends: [{service: web-v2, weight: 1}, {service: web-v1, weight: 0}]
---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web, namespace: demo}
spec:
  targetRef: {kind: Service, name: web}
  timeouts: {request: 5s, perTry: 1s, idle: 5m}
  retries: {attempts: 2, retriableStatusCodes: [503], budget: {percent: 20, minConcurrency: 3}}
  circuitBreaker: {maxConnections: 100, maxPendingRequests: 10, maxRequests: 200, maxRetries: 5}
  outlierDetection: {consecutive5xx: 5, consecutiveGatewayErrors: 3}
  loadBalancer: {policy: RingHash, hashOn: {cookie: {name: session, ttl: 1h, path: /}}}
  locality: {mode: PreferSameZone}
  routes:
  - match: {kind: HTTPRouteGroup, name: web-routes, matches: [reports]}
    timeouts: {request: 30s}
---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: api-grpc, namespace: demo}
spec:
  targetRef: {kind: Service, name: api, port: grpc}
  retries: {attempts: 1, retryOn: [unavailable, 5xx], methods: ["*"]}
  loadBalancer: {policy: LeastRequest, choiceCount: 2}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-web, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: demo}
  sources: [{kind: ServiceAccount, name: client}]
  rules: [{kind: HTTPRouteGroup, name: web-routes}]
---
`;

const envoy = (id: string, md: Record<string, string> = {}): NodeLike => ({ id, user_agent_name: 'envoy', metadata: md });
const grpc = (id: string): NodeLike => ({ id, user_agent_name: 'grpc-node-js' });
const TRANSPARENT = { [NODE_METADATA.mode]: 'transparent' };

function translate(model: MeshModel, node: NodeLike, t = new Translator()): ProxyResources {
  return t.translate(model, proxyContext(node, model));
}

function snapshotOf(out: ProxyResources): Snapshot {
  const enc = encodeAll(out);
  const set = (t: (typeof TypeUrl)[keyof typeof TypeUrl]) => TypeSet.of(t, enc.filter((r) => r.typeUrl === t));
  return new Snapshot({ [TypeUrl.Cluster]: set(TypeUrl.Cluster), [TypeUrl.Endpoint]: set(TypeUrl.Endpoint), [TypeUrl.Listener]: set(TypeUrl.Listener), [TypeUrl.Route]: set(TypeUrl.Route) });
}

describe('Translator.translate: every output is valid Envoy config, from a frozen model', () => {
  const cases: { name: string; mesh: string; node: NodeLike; counts: { clusters: number; endpoints: number; listeners: number; routes: number } }[] = [
    // 4 services × 2 HTTP ports = 8 outbound clusters; web-v1 serves web and web-v1 (ports 8080, 9090): 2 inbound.
    { name: 'permissive, envoy sidecar, explicit', mesh: INTENTS, node: envoy('demo/web-v1'), counts: { clusters: 10, endpoints: 8, listeners: 3, routes: 1 } },
    // Transparent: one inbound listener (web and web-v1 both target 8080 and 9090: two chains, two clusters), the passthrough clusters (outbound; inbound, from 127.0.0.6), and the `/direct` clusters of the HTTP ports whose pods are dialled by address (http-destinations.ts).
    { name: 'permissive, envoy sidecar, transparent', mesh: INTENTS, node: envoy('demo/web-v1', TRANSPARENT), counts: { clusters: 15, endpoints: 8, listeners: 2, routes: 1 } },
    { name: 'permissive, envoy without inbound ports (client)', mesh: INTENTS, node: envoy('demo/client'), counts: { clusters: 8, endpoints: 8, listeners: 1, routes: 1 } },
    // Proxyless: 8 ports × 4 host forms (the short name too, same namespace).
    { name: 'permissive, proxyless gRPC', mesh: INTENTS, node: grpc('demo/client'), counts: { clusters: 8, endpoints: 8, listeners: 32, routes: 1 } },
    { name: 'permissive, proxyless without a workload: no short names', mesh: INTENTS, node: grpc('anonymous'), counts: { clusters: 8, endpoints: 8, listeners: 24, routes: 1 } },
    // Strict: client may call web (and so its split backends web-v1, web-v2).
    { name: 'strict, envoy client', mesh: STRICT + INTENTS, node: envoy('demo/client'), counts: { clusters: 6, endpoints: 6, listeners: 1, routes: 1 } },
    { name: 'strict, envoy destination with RBAC', mesh: STRICT + INTENTS, node: envoy('demo/web-v1'), counts: { clusters: 2, endpoints: 0, listeners: 3, routes: 1 } },
    { name: 'strict, proxyless client', mesh: STRICT + INTENTS, node: grpc('demo/client'), counts: { clusters: 6, endpoints: 6, listeners: 24, routes: 1 } },
    { name: 'strict, proxyless that may call nothing: nothing, not even a dangling route', mesh: STRICT + INTENTS, node: grpc('demo/web-v1'), counts: { clusters: 0, endpoints: 0, listeners: 0, routes: 0 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const model = deepFreeze(meshWith(c.mesh));
      const out = translate(model, c.node);
      expect({ clusters: out.clusters.length, endpoints: out.endpoints.length, listeners: out.listeners.length, routes: out.routes.length }).toEqual(c.counts);
      // Throws on anything the protos reject, and on a name used twice in one type.
      const snapshot = snapshotOf(out);
      for (const [typeUrl, r] of resourcesOf(out)) expect(unknownEnums(typeUrl, r), String(r.name ?? r.cluster_name)).toEqual([]);
      // Every route's cluster exists, every route configuration has its listener, every endpoint set its cluster.
      expect(checkConsistency(snapshot)).toEqual([]);
      for (const rc of out.routes as { virtual_hosts: { domains: string[] }[] }[]) {
        const domains = rc.virtual_hosts.flatMap((v) => v.domains);
        expect(new Set(domains).size).toBe(domains.length);
      }
    });
  }

  it('unknownEnums catches what encodeResource lets through', () => {
    expect(unknownEnums(TypeUrl.Cluster, { name: 'c', lb_policy: 'ROUND_ROBBIN' })).toEqual(['lb_policy: ROUND_ROBBIN']);
  });
});

describe('Translator memo: equal inputs, the very same objects', () => {
  it('the same proxy twice, and a model rebuilt from the same YAML', () => {
    const t = new Translator();
    const a = translate(meshWith(INTENTS), envoy('demo/web-v1'), t);
    const b = translate(meshWith(INTENTS), envoy('demo/web-v1'), t);
    for (const k of ['clusters', 'endpoints', 'listeners', 'routes'] as const) b[k].forEach((r, i) => expect(r, `${k}[${i}]`).toBe(a[k][i]));
  });

  it('two pods with the same identity share outbound clusters and routes; a zone-preferring cluster is shared within a zone only', () => {
    const t = new Translator();
    // A third web pod, in web-v1's zone (by its node label: no EndpointSlice names it).
    const model = meshWith(INTENTS, {
      'web-v1b.yaml': `apiVersion: v1
kind: Pod
metadata: {name: web-v1b, namespace: demo, labels: {app: web, version: v1, topology.kubernetes.io/zone: z1}}
spec:
  serviceAccountName: web
  containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: 127.0.0.5}
`,
    });
    const a = translate(model, envoy('demo/web-v1'), t); // z1
    const same = translate(model, envoy('demo/web-v1b'), t); // z1
    const b = translate(model, envoy('demo/web-v2'), t); // z2
    expect(b.routes[0]).toBe(a.routes[0]);
    expect(same.routes[0]).toBe(a.routes[0]);
    const outbound = (o: ProxyResources) => o.clusters.filter((c) => c.type === 'EDS') as { name: string; eds_cluster_config: { service_name: string } }[];
    outbound(same).forEach((c, i) => expect(c, c.name).toBe(outbound(a)[i]));
    // The web policy prefers the same zone, and the split backends web-v1 and web-v2 inherit it.
    const zonal = ['web-v1.demo:8080', 'web-v1.demo:9090', 'web-v2.demo:8080', 'web-v2.demo:9090', 'web.demo:8080', 'web.demo:9090'];
    expect(outbound(a).map((c) => [c.name, c.eds_cluster_config.service_name])).toEqual(outbound(a).map((c) => [c.name, zonal.includes(c.name) ? `${c.name}@z1` : c.name]));
    // Issue 14: the outbound clusters are one shared array per (scope, mTLS, zone), the prefix of each proxy's clusters.
    expect(same.sharedClusters).toBe(a.sharedClusters);
    expect(b.sharedClusters).not.toBe(a.sharedClusters);
    for (const o of [a, same, b]) expect(o.clusters.slice(0, o.sharedClusters.length)).toEqual(o.sharedClusters);
    expect(a.sharedClusters.map((c) => c.name)).toEqual(outbound(a).map((c) => c.name));
    outbound(b).forEach((c, i) => {
      if (!zonal.includes(c.name)) return expect(c, c.name).toBe(outbound(a)[i]);
      // Otherwise equal but for the endpoints' name.
      expect(c, c.name).toEqual({ ...outbound(a)[i], eds_cluster_config: { ...outbound(a)[i]!.eds_cluster_config, service_name: `${c.name}@z2` } });
    });
  });

  it('a zone-preferring cluster’s endpoints come under its EDS name, the caller’s zone at priority 0', () => {
    const model = deepFreeze(meshWith(INTENTS));
    const cla = (out: ProxyResources, name: string) => out.endpoints.find((e) => e.cluster_name === name) as { endpoints: { locality: { zone?: string }; priority?: number }[] } | undefined;
    const localities = (out: ProxyResources, name: string) => cla(out, name)?.endpoints.map((l) => [l.locality.zone, l.priority ?? 0]);
    // web: 127.0.0.3 in z1, 127.0.0.4 in z2. The caller's zone: its pod's (from the EndpointSlice), else its node's locality.
    expect(localities(translate(model, envoy('demo/web-v1')), 'web.demo:8080@z1')).toEqual([['z1', 0], ['z2', 1]]);
    expect(localities(translate(model, envoy('demo/web-v2')), 'web.demo:8080@z2')).toEqual([['z1', 1], ['z2', 0]]);
    expect(localities(translate(model, { ...envoy('demo/web-v2'), locality: { zone: 'z1' } }), 'web.demo:8080@z2')).toEqual([['z1', 1], ['z2', 0]]);
    expect(localities(translate(model, { ...envoy('demo/client'), locality: { zone: 'z2' } }), 'web.demo:8080@z2')).toEqual([['z1', 1], ['z2', 0]]);
    // A zone without web endpoints: no gap, everything at 0.
    expect(localities(translate(model, { ...envoy('demo/client'), locality: { zone: 'z9' } }), 'web.demo:8080@z9')).toEqual([['z1', 0], ['z2', 0]]);
    // Zone unknown (client has no EndpointSlice entry, no node locality): the cluster's own endpoints, no priorities.
    const unknown = translate(model, envoy('demo/client'));
    expect(unknown.clusters.find((c) => c.name === 'web.demo:8080')).toMatchObject({ eds_cluster_config: { service_name: 'web.demo:8080' } });
    expect(localities(unknown, 'web.demo:8080')).toEqual([['z1', 0], ['z2', 0]]);
    expect(cla(unknown, 'web.demo:8080')!.endpoints.every((l) => !('priority' in l))).toBe(true);
    // A cluster without the policy keeps its own name whatever the zone.
    expect(translate(model, envoy('demo/web-v1')).clusters.find((c) => c.name === 'api.demo:8080')).toMatchObject({ eds_cluster_config: { service_name: 'api.demo:8080' } });
  });

  it('an endpoint change rebuilds that service’s endpoints only', () => {
    const t = new Translator();
    const before = translate(meshWith(INTENTS), envoy('demo/client'), t);
    t.sweep();
    // api gets an endpoint: its two endpoint sets change, nothing else.
    const after = translate(
      meshWith(INTENTS, {
        'api.yaml': `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-abc, namespace: demo, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: 8080}, {name: grpc, port: 9090}]
endpoints: [{addresses: [127.0.0.9]}]
`,
      }),
      envoy('demo/client'),
      t,
    );
    const changed = (k: keyof Omit<ProxyResources, 'identities'>) => after[k].filter((r, i) => r !== before[k][i]).map((r: { name?: string; cluster_name?: string }) => String(r.name ?? r.cluster_name));
    expect({ clusters: changed('clusters'), endpoints: changed('endpoints'), listeners: changed('listeners'), routes: changed('routes') }).toEqual({
      clusters: [],
      endpoints: ['api.demo:8080', 'api.demo:9090'],
      listeners: [],
      routes: [],
    });
  });
});

/**
 * Two deployments running as one service account, each behind a service with
 * port 80: shop-a's targetPort is the container port named http (3000),
 * shop-b's is 4000. The TrafficTarget allows client to shop on port 4000 only.
 */
const SHOP = `apiVersion: v1
kind: Pod
metadata: {name: shop-a, namespace: demo, labels: {app: shop-a}}
spec:
  serviceAccountName: shop
  containers: [{name: app, ports: [{name: http, containerPort: 3000}]}]
status: {podIP: 127.0.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: shop-b, namespace: demo, labels: {app: shop-b}}
spec:
  serviceAccountName: shop
  containers: [{name: app, ports: [{name: http, containerPort: 4000}]}]
status: {podIP: 127.0.0.11}
---
apiVersion: v1
kind: Service
metadata: {name: shop-a, namespace: demo}
spec:
  selector: {app: shop-a}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: shop-b, namespace: demo}
spec:
  selector: {app: shop-b}
  ports: [{name: http, port: 80, targetPort: 4000}]
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-shop-b, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: shop, namespace: demo, port: 4000}
  sources: [{kind: ServiceAccount, name: client}]
`;

describe('Translator inbound side', () => {
  /** Transparent: the RBAC policies of the `inbound` listener's chain for the one targetPort the pod serves. */
  function rbacPolicyNames(out: ProxyResources): string[] {
    const l = out.listeners.find((x) => x.name === 'inbound') as any;
    const chains = l.filter_chains.filter((c: any) => c.name.startsWith('inbound:'));
    expect(chains).toHaveLength(1);
    const rbac = chains[0].filters[0].typed_config.http_filters.find((f: { name: string }) => f.name === 'envoy.filters.http.rbac');
    return Object.keys(rbac.typed_config.rules.policies);
  }

  it('a named targetPort forwards to the container port of that name', () => {
    const model = deepFreeze(meshWith(STRICT, { 'shop.yaml': SHOP }));
    const out = translate(model, envoy('demo/shop-a', TRANSPARENT));
    // Transparent: the cluster is named by the targetPort it forwards to.
    const inbound = out.clusters.find((c) => c.name === 'inbound:3000') as any;
    expect(inbound.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 3000 });
  });

  it('the RBAC port filter is per workload, even when listeners are otherwise equal (transparent, same identity)', () => {
    const model = deepFreeze(meshWith(STRICT, { 'shop.yaml': SHOP }));
    for (const order of [['shop-a', 'shop-b'], ['shop-b', 'shop-a']]) {
      const t = new Translator();
      const got = Object.fromEntries(order.map((pod) => [pod, rbacPolicyNames(translate(model, envoy(`demo/${pod}`, TRANSPARENT), t))]));
      expect(got, order.join(' then ')).toEqual({ 'shop-a': [], 'shop-b': ['demo/client-to-shop-b'] });
    }
  });
});

describe('builders read the model, never write it', () => {
  it('translating every proxy of a frozen model leaves it equal to a fresh build', () => {
    const objects = objectsFrom({ 'base.yaml': BASE_MESH, 'intents.yaml': STRICT + INTENTS });
    const model = deepFreeze(buildMesh(objects).model);
    const t = new Translator();
    for (const w of model.workloads.keys()) {
      translate(model, envoy(w), t);
      translate(model, envoy(w, TRANSPARENT), t);
      translate(model, grpc(w), t);
    }
    expect(model).toEqual(buildMesh(objectsFrom({ 'base.yaml': BASE_MESH, 'intents.yaml': STRICT + INTENTS })).model);
  });
});
