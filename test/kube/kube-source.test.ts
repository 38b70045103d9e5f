/**
 * The Kubernetes source against a real kube-apiserver and etcd (ladder step 5):
 * the shop mesh of the pipeline tests, applied to a cluster, must give the
 * proxies what the same YAML in a folder gives them; EndpointSlice churn is
 * EDS only; a watch dropped past a compaction relists and converges; status is
 * written back. Trellis runs as the `trellis` service account of
 * deploy/kubernetes under RBAC, so the ClusterRole is proven sufficient.
 *
 * No fake: without the binary or etcd, this fails and says how to get them.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import type { KubeMesh } from '../../src/runtime/kube-mesh.ts';
import { componentLogger } from '../../src/log.ts';
import { LeaseLeader } from '../../src/sources/kubernetes/leader.ts';
import { KubeApiError, KubeRest, type Json } from '../../src/sources/kubernetes/rest.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { encodeSotwRequest } from '../../src/xds/wire.ts';
import { XdsTestClient } from '../support/ads-client.ts';
import { apply, deployDocs, installCrds, KubeCluster, pathOf, remove, yamlObjects } from '../support/kube.ts';
import { grpcNode, MeshHarness, ProxyView, sidecarNode } from '../support/mesh-harness.ts';
import { intentsYaml, shopFiles } from '../pipeline/shop.ts';


/**
 * The shop folder, made applicable to a cluster unchanged in meaning: the
 * namespaces opt into the mesh, services get the cluster IPs an API server
 * would allocate (fixed here so both sources see the same), and pods carry
 * the status a kubelet would write.
 */
const clusterIPs = new Map<string, string>();
function clusterIPOf(o: Json): string {
  const key = `${String((o.metadata as Json).namespace)}/${String((o.metadata as Json).name)}`;
  if (!clusterIPs.has(key)) clusterIPs.set(key, `10.96.1.${clusterIPs.size + 10}`);
  return clusterIPs.get(key)!;
}

function clusterReady(objects: Json[]): Json[] {
  return objects.map((o) => {
    const meta = o.metadata as Json;
    if (o.kind === 'Namespace') return { ...o, metadata: { ...meta, labels: { 'trellis.io/mesh': 'enabled' } } };
    if (o.kind === 'Service' && !(o.spec as Json).clusterIP) return { ...o, spec: { ...(o.spec as Json), clusterIP: clusterIPOf(o) } };
    if (o.kind === 'Pod') {
      const status = o.status as Json;
      return { ...o, status: { phase: 'Running', ...status, podIPs: [{ ip: status.podIP }] } };
    }
    return o;
  });
}

function shopObjects(intents?: Parameters<typeof intentsYaml>[0]): Record<string, Json[]> {
  const files = shopFiles('Permissive', intents);
  return Object.fromEntries(Object.entries(files).map(([f, text]) => [f, clusterReady(yamlObjects(text))]));
}

const toYaml = (objs: Json[]) => objs.map((o) => stringify(o)).join('---\n');

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let cluster: KubeCluster;
let trellis: RunningControlPlane;
let kube: KubeMesh;
let asTrellis: KubeConfig;
const clients: XdsTestClient[] = [];
const views: ProxyView[] = [];

async function connect(server: RunningControlPlane, kind: 'sidecar' | 'grpc', id: string, listeners: string[] = []): Promise<ProxyView> {
  const c = new XdsTestClient(`127.0.0.1:${server.xdsPort}`);
  clients.push(c);
  const v = kind === 'sidecar' ? new ProxyView(c.sotw(), sidecarNode(id, 'shop/frontend'), 'envoy') : new ProxyView(c.sotw(), grpcNode(id, 'shop/frontend'), 'grpc', listeners);
  views.push(v);
  await v.start();
  return v;
}

async function startTrellis(config: KubeConfig, extra: { writeStatus?: boolean } = {}): Promise<RunningControlPlane> {
  return startControlPlane({
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    kubernetes: { config, debounceMs: 30, statusIntervalMs: 100, programmedIntervalMs: 100, retryMinMs: 100, retryMaxMs: 400, disconnectGraceMs: 1500, ...extra },
  });
}

async function readyz(server: RunningControlPlane): Promise<number> {
  return (await fetch(`http://127.0.0.1:${server.adminPort}/readyz`)).status;
}


beforeAll(async () => {
  cluster = await KubeCluster.start();
  await installCrds(cluster.rest);
  // The control plane's namespace and RBAC, for real; Trellis runs as its service account.
  await apply(cluster.rest, deployDocs().filter((d) => ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(String(d.kind))));
  asTrellis = await cluster.serviceAccountConfig();
  // A namespace outside the mesh: nothing in it may reach a proxy.
  await apply(cluster.rest, yamlObjects(`apiVersion: v1
kind: Namespace
metadata: {name: outside}
---
apiVersion: v1
kind: Service
metadata: {name: hidden, namespace: outside}
spec:
  ports: [{name: http, port: 8080}]
`));
  for (const objs of Object.values(shopObjects())) await apply(cluster.rest, objs);
  trellis = await startTrellis(asTrellis);
  kube = trellis.kube!;
}, 180_000);

// Each test's proxies leave with it: a proxy that stays connected without
// ACKing later pushes would keep Programmed from ever being True.
afterEach(() => {
  for (const v of views.splice(0)) v.close();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await trellis?.stop();
  await cluster?.stop();
});

describe('a cluster feeds the same pipeline as a folder', () => {
  it('objects created → the same xDS resources as the same YAML in a folder', async () => {
    const folder = await MeshHarness.start(Object.fromEntries(Object.entries(shopObjects()).map(([f, objs]) => [f, toYaml(objs)])));
    try {
      const fromFile = await folder.sidecar(sidecarNode('frontend-1', 'shop/frontend'));
      const fromKube = await connect(trellis, 'sidecar', 'frontend-1');
      expect(fromKube.names('cds')).toContain('reviews-v1.shop:8080');
      expect(fromKube.names('cds').some((n) => n.includes('outside'))).toBe(false);
      for (const type of ['cds', 'eds', 'lds', 'rds'] as const) {
        expect(Object.fromEntries(fromKube.held[type]), type).toEqual(Object.fromEntries(fromFile.held[type]));
      }
      for (const t of [TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route]) {
        expect(trellis.cache.get('frontend-1')!.get(t).version, t).toBe(folder.server.cache.get('frontend-1')!.get(t).version);
      }
      const statuses = Object.fromEntries(kube.statuses.map((s) => [`${s.kind}/${s.namespace}/${s.name}`, s.conditions.map((c) => `${c.type}=${c.status}`).join(',')]));
      expect(statuses['TrafficSplit/shop/reviews']).toBe('Accepted=True,ResolvedRefs=True');
      expect(Object.keys(statuses).some((k) => k.includes('/outside/'))).toBe(false);
    } finally {
      await folder.close();
    }
  });

  it('EndpointSlice churn → only EDS is pushed, only to the streams that watch it', async () => {
    const sidecar = await connect(trellis, 'sidecar', 'churn-sidecar');
    const reviews = await connect(trellis, 'grpc', 'churn-grpc-reviews', ['reviews.shop:8080']);
    const ratings = await connect(trellis, 'grpc', 'churn-grpc-ratings', ['ratings.shop:8080']);
    const slice = shopObjects()['reviews/endpointslices.yaml']!.find((o) => (o.metadata as Json).name === 'reviews-v1-1')!;
    const generation = kube.generation;
    for (let i = 0; i < 5; i++) {
      const endpoints = [...(slice.endpoints as Json[]), ...Array.from({ length: i + 1 }, (_, k) => ({ addresses: [`10.0.2.${k + 1}`], zone: 'zone-b' }))];
      await apply(cluster.rest, [{ ...slice, endpoints }]);
    }
    await until('the churn to be published', () => kube.generation > generation && kube.lastChangedKinds.join() === 'EndpointSlice');
    const [s, r, q] = await Promise.all([sidecar.settle(800), reviews.settle(800), ratings.settle(800)]);
    // Only EDS, only the slice's service (both its ports for the sidecar; the one it calls for gRPC).
    const summary = (got: Array<{ type: string; names: string[] }>) => ({ types: [...new Set(got.map((g) => g.type))], names: [...new Set(got.flatMap((g) => g.names))].sort() });
    expect(summary(s!)).toEqual({ types: ['eds'], names: ['reviews-v1.shop:8080', 'reviews-v1.shop:9090'] });
    expect(summary(r!)).toEqual({ types: ['eds'], names: ['reviews-v1.shop:8080'] });
    expect(q).toEqual([]);
    const addresses = (sidecar.endpoints('reviews-v1.shop:8080').endpoints as Json[]).flatMap((l) => (l.lb_endpoints as Json[]).map((e) => ((e.endpoint as Json).address as Json).socket_address as Json).map((a) => a.address));
    expect(addresses.toSorted()).toEqual(['10.0.0.3', '10.0.2.1', '10.0.2.2', '10.0.2.3', '10.0.2.4', '10.0.2.5']);
  });
});

describe('status written back on the intents', () => {
  const splitPath = '/apis/split.smi-spec.io/v1alpha4/namespaces/shop/trafficsplits/reviews';
  const conditionsOf = (o: Json) => Object.fromEntries((((o.status as Json | undefined)?.conditions ?? []) as Json[]).map((c) => [c.type, c]));

  it('Accepted, ResolvedRefs and Programmed (N of M proxies) with observedGeneration', async () => {
    await connect(trellis, 'sidecar', 'status-sidecar');
    const obj = await until('Programmed=True on the split', async () => {
      const o = await cluster.rest.get<Json>(splitPath);
      return conditionsOf(o).Programmed?.status === 'True' ? o : undefined;
    });
    const c = conditionsOf(obj);
    const generation = (obj.metadata as Json).generation;
    expect(c.Accepted).toMatchObject({ status: 'True', reason: 'Accepted', observedGeneration: generation });
    expect(c.ResolvedRefs).toMatchObject({ status: 'True', reason: 'ResolvedRefs', observedGeneration: generation });
    expect(String(c.Programmed!.message)).toMatch(/^programmed on (\d+) of \1 proxies$/);
    expect((obj.status as Json).observedGeneration).toBe(generation);
    // Every intent kind has it, the cluster-scoped MeshConfig included.
    for (const p of ['/apis/trellis.io/v1alpha1/meshconfigs/trellis', '/apis/trellis.io/v1alpha1/namespaces/shop/trafficpolicies/ratings',
      '/apis/access.smi-spec.io/v1alpha3/namespaces/shop/traffictargets/readers-to-ratings', '/apis/specs.smi-spec.io/v1alpha4/namespaces/shop/httproutegroups/ratings-read']) {
      await until(`status on ${p}`, async () => conditionsOf(await cluster.rest.get<Json>(p)).Accepted?.status === 'True');
    }
  });

  it('issue 15: a RequestAuthentication applied to the cluster is accepted (status written) and reaches the reviews sidecar as jwt_authn', async () => {
    await apply(cluster.rest, yamlObjects(`apiVersion: trellis.io/v1alpha1
kind: RequestAuthentication
metadata: {name: reviews-jwt, namespace: shop}
spec:
  targetRef: {kind: Service, name: reviews, port: http}
  jwtRules:
  - issuer: https://auth.example.com
    jwksUri: https://auth.example.com/jwks.json
  rules:
  - claims: {scope: [reviews.read]}
`));
    const p = '/apis/trellis.io/v1alpha1/namespaces/shop/requestauthentications/reviews-jwt';
    await until(`status on ${p}`, async () => conditionsOf(await cluster.rest.get<Json>(p)).Accepted?.status === 'True');
    const c = new XdsTestClient(`127.0.0.1:${trellis.xdsPort}`);
    clients.push(c);
    const v = new ProxyView(c.sotw(), sidecarNode('reviews-jwt-witness', 'shop/reviews-v2'), 'envoy');
    views.push(v);
    await v.start();
    const filters = await until('jwt_authn on the reviews inbound listener', async () => {
      await v.settle(100);
      const l = v.held.lds.get('inbound:8080');
      const names = (l?.filter_chains?.[0]?.filters?.[0]?.typed_config?.http_filters ?? []).map((f: Json) => f.name);
      return names.includes('envoy.filters.http.jwt_authn') ? names : undefined;
    });
    expect(filters).toEqual(['envoy.filters.http.jwt_authn', 'trellis.claim_rbac', 'envoy.filters.http.router']);
    expect(v.names('cds')).toContain('jwks|https|auth.example.com|443');
    await cluster.rest.delete(p);
  });

  it('a NACK makes Programmed False with the proxy and its reason', async () => {
    await connect(trellis, 'sidecar', 'nack-witness');
    const c = new XdsTestClient(`127.0.0.1:${trellis.xdsPort}`);
    clients.push(c);
    const nacker = c.sotw();
    nacker.send({ node: sidecarNode('nacker', 'shop/frontend'), type_url: TypeUrl.Cluster, resource_names: [] });
    const res = await nacker.next(5000);
    nacker.call.write(encodeSotwRequest({ type_url: TypeUrl.Cluster, version_info: '', response_nonce: res.nonce, resource_names: [], error_detail: { code: 3, message: 'nacker cannot take this cluster' } }));
    const programmed = await until('Programmed=False (Rejected)', async () => {
      const p = conditionsOf(await cluster.rest.get<Json>(splitPath)).Programmed;
      return p?.reason === 'Rejected' ? p : undefined;
    });
    expect(programmed.status).toBe('False');
    expect(String(programmed.message)).toMatch(/^programmed on \d+ of \d+ proxies; nacker rejected cds: nacker cannot take this cluster/);
    nacker.close();
    await until('Programmed=True again once the nacker left', async () => conditionsOf(await cluster.rest.get<Json>(splitPath)).Programmed?.status === 'True');
  });

  it('an invalid update: Accepted=False with the message `trellis validate` gives, the last good version still served', async () => {
    const bad = shopObjects({ secondBackend: 'reviews-v3' })['intents.yaml']!.find((o) => o.kind === 'TrafficSplit' && (o.metadata as Json).name === 'reviews')!;
    const folder = await MeshHarness.start(Object.fromEntries(Object.entries(shopObjects()).map(([f, objs]) => [f, toYaml(objs)])));
    try {
      await folder.write({ 'intents.yaml': toYaml(shopObjects({ secondBackend: 'reviews-v3' })['intents.yaml']!) });
      const fileStatus = (await folder.intents()).intents.find((s) => s.kind === 'TrafficSplit' && s.name === 'reviews')!;
      await connect(trellis, 'sidecar', 'invalid-sidecar');
      const routes = trellis.cache.get('invalid-sidecar')!.get(TypeUrl.Route).version;
      await apply(cluster.rest, [bad]);
      const obj = await until('Accepted=False on the split', async () => {
        const o = await cluster.rest.get<Json>(splitPath);
        return conditionsOf(o).Accepted?.status === 'False' ? o : undefined;
      });
      const c = conditionsOf(obj);
      const fileAccepted = fileStatus.conditions.find((x) => x.type === 'Accepted')!;
      expect(c.Accepted).toMatchObject({ reason: fileAccepted.reason, message: fileAccepted.message, observedGeneration: (obj.metadata as Json).generation });
      expect(String(c.Accepted!.message)).toMatch(/reviews-v3/);
      expect(c.ResolvedRefs).toMatchObject({ status: 'False', reason: 'RefNotFound' });
      expect(String(c.Programmed!.message)).toMatch(/the last accepted one/);
      expect(trellis.cache.get('invalid-sidecar')!.get(TypeUrl.Route).version).toBe(routes);
    } finally {
      await folder.close();
      await apply(cluster.rest, shopObjects()['intents.yaml']!.filter((o) => o.kind === 'TrafficSplit'));
    }
  });
});

describe('issue 10: Gateway API route status', () => {
  const routePath = '/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/reviews-gamma';
  const parentsOf = (o: Json) => ((((o.status as Json | undefined)?.parents ?? []) as Json[]));

  it("an HTTPRoute's status.parents: Trellis's entry for its Service parent (Accepted, ResolvedRefs=False BackendNotFound, observedGeneration) beside another controller's entry, which it keeps", async () => {
    const route = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'reviews-gamma', namespace: 'shop' } };
    try {
    await apply(cluster.rest, yamlObjects(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews-gamma, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 8080}, {name: edge}]
  rules:
  - backendRefs: [{name: reviews-v1, port: 8080, weight: 9}, {name: reviews-v9, port: 8080, weight: 1}]
`));
    // Another controller owns the Gateway parent and writes its own entry (a merge patch of the list, as Trellis's).
    const theirs = { parentRef: { name: 'edge' }, controllerName: 'example.com/gateway', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'theirs', lastTransitionTime: '2026-01-01T00:00:00Z' }] };
    await cluster.rest.patch(`${routePath}/status`, { status: { parents: [theirs] } }, 'merge');
    const obj = await until('both parents in status', async () => {
      const o = await cluster.rest.get<Json>(routePath);
      const ps = parentsOf(o);
      return ps.some((p) => p.controllerName === 'example.com/gateway') && ps.some((p) => p.controllerName === 'trellis.io/gateway-controller') ? o : undefined;
    });
    const ours = parentsOf(obj).find((p) => p.controllerName === 'trellis.io/gateway-controller')!;
    expect(ours.parentRef).toEqual({ group: '', kind: 'Service', name: 'reviews', port: 8080 });
    const c = Object.fromEntries((ours.conditions as Json[]).map((x) => [x.type, x]));
    const generation = (obj.metadata as Json).generation;
    expect(c.Accepted).toMatchObject({ status: 'True', reason: 'Accepted', observedGeneration: generation });
    expect(c.ResolvedRefs).toMatchObject({ status: 'False', reason: 'BackendNotFound', observedGeneration: generation });
    expect(String(c.ResolvedRefs!.message)).toMatch(/reviews-v9/);
    expect(parentsOf(obj).find((p) => p.controllerName === 'example.com/gateway')).toMatchObject(theirs);
    // Routed: the missing backend's share is answered with 500 (the spec), the rest goes to reviews-v1.
    const v = await connect(trellis, 'sidecar', 'gamma-sidecar');
    const names = async () => {
      await v.settle(200);
      return (v.virtualHost('reviews.shop:8080').routes as Json[]).map((r) => [r.name, r.direct_response ? 500 : (r.route as Json | undefined)?.cluster]);
    };
    await until('the route in RDS', async () => JSON.stringify(await names()).includes('httproute/shop/reviews-gamma/0/0') || undefined);
    expect((await names()).slice(0, 2)).toEqual([['httproute/shop/reviews-gamma/0/0/backend-not-found', 500], ['httproute/shop/reviews-gamma/0/0/retry', 'reviews-v1.shop:8080']]);
    } finally {
      await remove(cluster.rest, route);
    }
  });
});

describe('issues 10/11: an SMI TCPRoute and a Gateway API TCPRoute of one name', () => {
  it('both are watched and each gets its own status, at its own path (two resources that share a kind name)', async () => {
    const objs = yamlObjects(`apiVersion: v1
kind: Service
metadata: {name: pg, namespace: shop}
spec: {ports: [{name: pg, port: 5432, appProtocol: tcp}]}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: pg, namespace: shop}
spec: {matches: {ports: [5432]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: pg, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: pg, port: 5432}]
  rules: [{backendRefs: [{name: pg, port: 5432}]}]
`);
    try {
      await apply(cluster.rest, objs);
      const smi = await until('the SMI TCPRoute accepted', async () => {
        const o = await cluster.rest.get<Json>('/apis/specs.smi-spec.io/v1alpha4/namespaces/shop/tcproutes/pg');
        return (((o.status as Json | undefined)?.conditions ?? []) as Json[]).find((c) => c.type === 'Accepted');
      });
      expect(smi).toMatchObject({ status: 'True', reason: 'Accepted' });
      const gateway = await until('the Gateway API TCPRoute\'s parent accepted', async () => {
        const o = await cluster.rest.get<Json>('/apis/gateway.networking.k8s.io/v1/namespaces/shop/tcproutes/pg');
        return ((((o.status as Json | undefined)?.parents ?? []) as Json[])[0]?.conditions as Json[] | undefined)?.find((c) => c.type === 'Accepted');
      });
      expect(gateway).toMatchObject({ status: 'True', reason: 'Accepted' });
    } finally {
      for (const o of objs.toReversed()) await remove(cluster.rest, o);
    }
  });
});

describe('replicas', () => {
  it('two Trellis replicas serve identical versions for the same cluster', async () => {
    const second = await startTrellis(asTrellis, { writeStatus: false });
    try {
      await connect(second, 'sidecar', 'replica-sidecar');
      await connect(trellis, 'sidecar', 'replica-sidecar');
      for (const t of [TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route]) {
        expect(second.cache.get('replica-sidecar')!.get(t).version, t).toBe(trellis.cache.get('replica-sidecar')!.get(t).version);
      }
    } finally {
      await second.stop();
    }
  });
});

describe('one status writer among replicas', () => {
  it('exactly one replica holds the Lease (RBAC of deploy/kubernetes); when it stops, another takes over at once', async () => {
    const rest = new KubeRest(asTrellis);
    const replica = (identity: string) => new LeaseLeader({ rest, namespace: 'trellis-system', identity, leaseDurationSeconds: 3, renewEveryMs: 200, log: componentLogger('leader-test') });
    const a = replica('replica-a');
    const b = replica('replica-b');
    a.start();
    await until('replica-a to lead', () => a.isLeader());
    b.start();
    await new Promise((r) => setTimeout(r, 700));
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    await a.stop(); // gives the Lease up
    await until('replica-b to take over', () => b.isLeader(), 2500);
    expect(a.isLeader()).toBe(false);
    await b.stop();
  });
});

describe('losing the API server', () => {
  it('a dropped watch resumes or, past a compaction, relists (410 Gone) and converges; config is served meanwhile', async () => {
    const sidecar = await connect(trellis, 'sidecar', 'outage-sidecar');
    expect(await readyz(trellis)).toBe(200);
    const other = await cluster.extraApiserver();
    const listsBefore = Object.fromEntries(kube.source.stats().map((s) => [s.kind, s.lists]));

    await cluster.stopApiserver();
    await until('not ready after the grace period', async () => (await readyz(trellis)) === 503, 20_000);
    expect(trellis.cache.get('outage-sidecar')!.get(TypeUrl.Cluster).items.size).toBeGreaterThan(0);

    // While Trellis's API server is down: changes through another one, then etcd forgets the history.
    const objs = shopObjects({ weights: [50, 50] });
    await remove(other.rest, objs['ratings.yaml']!.find((o) => o.kind === 'EndpointSlice')!);
    await apply(other.rest, objs['intents.yaml']!.filter((o) => o.kind === 'TrafficSplit'));
    await apply(other.rest, yamlObjects(`apiVersion: v1
kind: Service
metadata: {name: details, namespace: shop}
spec:
  clusterIP: 10.96.1.99
  ports: [{name: http, port: 8080}]
`));
    await cluster.compactEtcd();
    await cluster.stopApiserver(other.port);
    await cluster.startApiserver();

    await until('ready again', async () => (await readyz(trellis)) === 200, 30_000);
    await until('the changes made during the outage', async () => {
      await sidecar.settle(200);
      const route = (sidecar.virtualHost('reviews').routes as Json[]).find((r) => r.name === 'default')!.route as Json;
      const weights = ((route.weighted_clusters as Json).clusters as Json[]).map((w) => (w.weight as Json).value);
      return sidecar.names('cds').includes('details.shop:8080') && weights.join() === '50,50';
    }, 30_000);
    // ratings prefers the same zone: the sidecar (frontend's pod, zone-a) reads the zone-a variant.
    expect(sidecar.cluster('ratings.shop:8080').eds_cluster_config).toMatchObject({ service_name: 'ratings.shop:8080@zone-a' });
    const ratings = sidecar.endpoints('ratings.shop:8080@zone-a');
    expect((ratings.endpoints as Json[] | undefined) ?? []).toEqual([]);
    const relisted = kube.source.stats().filter((s) => s.lists > listsBefore[s.kind]!).map((s) => s.kind);
    expect(relisted).toContain('EndpointSlice');
    expect(relisted).toContain('TrafficSplit');
  });
});

describe('deploy/kubernetes', () => {
  it('every manifest is accepted by the API server (server-side dry run)', async () => {
    for (const doc of deployDocs()) {
      try {
        await cluster.rest.post(pathOf(doc, false), doc, { dryRun: 'All' });
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 409) continue; // applied for real above
        throw e;
      }
    }
  });
});

describe('issue 10 (north-south): a Trellis Gateway in a cluster', () => {
  it('GatewayClass Accepted with supportedFeatures, Gateway Accepted/Programmed with its listeners (attachedRoutes, observedGeneration), written as the trellis service account; the HTTPS listener\'s kubernetes.io/tls Secret is read (an Opaque one is not even watched)', async () => {
    const { tlsPair, tlsSecretYaml, trellisGatewayYaml } = await import('../../src/model/gateway-testing.ts');
    const { NODE_METADATA } = await import('../../src/translate/sidecar.ts');
    const { structOf } = await import('../support/mesh-harness.ts');
    const objs = yamlObjects(`${trellisGatewayYaml({ namespace: 'shop', httpPort: 8080, httpsPort: 8443, hostname: 'shop.example.com', secret: 'shop-cert' })}${tlsSecretYaml('shop', 'shop-cert', tlsPair(['shop.example.com']))}apiVersion: v1
kind: Secret
metadata: {name: not-tls, namespace: shop}
stringData: {password: hunter2}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: edge-reviews, namespace: shop}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: reviews-v1, port: 8080}]}]
`);
    try {
      await apply(cluster.rest, objs);
      const classPath = '/apis/gateway.networking.k8s.io/v1/gatewayclasses/trellis';
      const gwPath = '/apis/gateway.networking.k8s.io/v1/namespaces/shop/gateways/edge';
      const cls = await until('GatewayClass status', async () => {
        const o = await cluster.rest.get<Json>(classPath);
        return ((o.status as Json | undefined)?.supportedFeatures as Json[] | undefined)?.length ? o : undefined;
      });
      expect(((cls.status as Json).conditions as Json[])[0]).toMatchObject({ type: 'Accepted', status: 'True', observedGeneration: (cls.metadata as Json).generation });
      expect((cls.status as Json).supportedFeatures).toEqual(expect.arrayContaining([{ name: 'Gateway' }, { name: 'HTTPRoute' }]));
      const gw = await until('Gateway status with attached routes', async () => {
        const o = await cluster.rest.get<Json>(gwPath);
        const ls = ((o.status as Json | undefined)?.listeners ?? []) as Json[];
        return ls.length === 2 && ls.every((l) => l.attachedRoutes === 1) ? o : undefined;
      });
      const status = gw.status as Json;
      expect((status.conditions as Json[]).map((c) => [c.type, c.status, c.observedGeneration])).toEqual([['Accepted', 'True', (gw.metadata as Json).generation], ['Programmed', 'True', (gw.metadata as Json).generation]]);
      expect((status.listeners as Json[]).map((l) => [l.name, (l.conditions as Json[]).map((c) => `${String(c.type)}=${String(c.status)}`)])).toEqual([
        ['http', ['Accepted=True', 'Conflicted=False', 'ResolvedRefs=True', 'Programmed=True']],
        ['https', ['Accepted=True', 'Conflicted=False', 'ResolvedRefs=True', 'Programmed=True']],
      ]);
      // The route's entry for its Gateway parent is Trellis's to write.
      const route = await cluster.rest.get<Json>('/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/edge-reviews');
      expect(((route.status as Json).parents as Json[])[0]).toMatchObject({ controllerName: 'trellis.io/gateway-controller', parentRef: { name: 'edge' } });
      expect(kube.source.stored('Secret', 'shop', 'shop-cert')).toBeDefined();
      expect(kube.source.stored('Secret', 'shop', 'not-tls')).toBeUndefined();
      // A gateway proxy of it gets the HTTPS listener, chosen by SNI.
      const c = new XdsTestClient(`127.0.0.1:${trellis.xdsPort}`);
      clients.push(c);
      const v = new ProxyView(c.sotw(), { id: 'shop/edge-gw', cluster: 'gw', user_agent_name: 'envoy', metadata: structOf({ [NODE_METADATA.gateway]: 'shop/edge' }) }, 'envoy');
      views.push(v);
      await v.start();
      expect(v.names('lds')).toEqual(['gateway_8080', 'gateway_8443']);
      expect((v.listener('gateway_8443').filter_chains as Json[]).map((fc) => (fc.filter_chain_match as Json).server_names)).toEqual([['shop.example.com']]);
    } finally {
      for (const o of objs.toReversed()) await remove(cluster.rest, o).catch(() => {});
    }
  });
});
