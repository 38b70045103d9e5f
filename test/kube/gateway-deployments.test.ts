/**
 * Issue 10, north-south in a cluster, against a real kube-apiserver: for a
 * Gateway of Trellis's GatewayClass, Trellis (as the `trellis` service
 * account, under the RBAC of deploy/kubernetes) makes the ServiceAccount,
 * Deployment and Service that run it (GEP-1762 names, labels and
 * ownerReference; infrastructure labels and annotations), fills the
 * Gateway's status.addresses from the Service, follows listener and
 * annotation edits, and deletes what it made when the Gateway goes. The
 * Deployment's bootstrap init container, run as the kubelet would run it,
 * writes a bootstrap the real Envoy accepts (delta ADS, naming the Gateway).
 * No kubelet here: the pods themselves never run.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { KubeApiError, type Json } from '../../src/sources/kubernetes/rest.ts';
import { BOOTSTRAP_PATH, TOKEN_PATH } from '../../src/inject/options.ts';
import { apply, deployDocs, freePort, installCrds, KubeCluster, remove, yamlObjects } from '../support/kube.ts';
import { envoyBin } from '../support/venv.ts';
import { until } from '../support/edge-e2e.ts';
import { TRELLIS_GATEWAY_CLASS_YAML } from '../../src/model/gateway-testing.ts';

const DEPLOYMENT = '/apis/apps/v1/namespaces/shop/deployments/edge-trellis';
const SERVICE = '/api/v1/namespaces/shop/services/edge-trellis';
const ACCOUNT = '/api/v1/namespaces/shop/serviceaccounts/edge';
const GATEWAY = '/apis/gateway.networking.k8s.io/v1/namespaces/shop/gateways/edge';
/** The gateway pod's address here (this helper's loopback range). */
const GW_IP = '127.0.140.1';

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {trellis.io/mesh: enabled}}
---
${TRELLIS_GATEWAY_CLASS_YAML}
`;
const gateway = (listeners: string, annotations = '{}') => yamlObjects(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop, annotations: ${annotations}}
spec:
  gatewayClassName: trellis
  infrastructure:
    labels: {team: storefront}
    annotations: {example.com/owner: storefront}
  listeners: ${listeners}
`);
const HTTP_AND_TCP = '[{name: http, port: 80, protocol: HTTP}, {name: http-alt, port: 80, protocol: HTTP, hostname: alt.example.com}, {name: db, port: 9000, protocol: TCP}]';

const gone = (p: string) => cluster.rest.get(p).then(() => undefined, (e: unknown) => (e instanceof KubeApiError && e.status === 404 ? true : undefined));
const spec = (o: Json) => o.spec as Json;
const podSpec = (d: Json) => (spec(d).template as Json).spec as Json;

let cluster: KubeCluster;
let asTrellis: KubeConfig;
let plane: RunningControlPlane;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trellis-gw-deploy-'));
  cluster = await KubeCluster.start();
  await installCrds(cluster.rest);
  await apply(cluster.rest, deployDocs().filter((d) => ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(String(d.kind))));
  asTrellis = await cluster.serviceAccountConfig();
  await apply(cluster.rest, yamlObjects(MESH));
  plane = await startControlPlane({
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    stateDir: path.join(dir, 'state'),
    kubernetes: { config: asTrellis, debounceMs: 30, statusIntervalMs: 100, retryMinMs: 100, retryMaxMs: 400 },
    gatewayDeployments: { inject: { trellisImage: 'registry.example.com/trellis:1.2.3' } },
  });
}, 180_000);
afterAll(async () => {
  await plane?.stop();
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('issue 10: a ServiceAccount, Deployment and Service per Gateway, made by Trellis', () => {
  it('a Gateway of Trellis\'s class gets its ServiceAccount, Deployment and Service, owned by the Gateway, and status.addresses from the Service', async () => {
    await apply(cluster.rest, gateway(HTTP_AND_TCP));
    const gw = await until('the Gateway in the API server', () => cluster.rest.get<Json>(GATEWAY));
    const uid = (gw.metadata as Json).uid;
    const deployment = await until('the Deployment', () => cluster.rest.get<Json>(DEPLOYMENT));
    const service = await until('the Service', () => cluster.rest.get<Json>(SERVICE));
    const account = await until('the ServiceAccount', () => cluster.rest.get<Json>(ACCOUNT));
    for (const o of [deployment, service, account]) {
      const meta = o.metadata as Json;
      expect(meta.ownerReferences, String(o.kind)).toEqual([{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'edge', uid, controller: true }]);
      expect(meta.labels, String(o.kind)).toMatchObject({ 'gateway.networking.k8s.io/gateway-name': 'edge', 'gateway.networking.k8s.io/gateway-class-name': 'trellis', 'app.kubernetes.io/managed-by': 'trellis', team: 'storefront' });
      expect(meta.annotations, String(o.kind)).toMatchObject({ 'example.com/owner': 'storefront' });
    }
    // The pod: the Gateway's identity, the bootstrap init container of `trellis inject`, Envoy on the listener ports, no sidecar of its own.
    expect(spec(deployment).replicas).toBe(1);
    const pod = podSpec(deployment);
    expect(pod.serviceAccountName).toBe('edge');
    expect(((spec(deployment).template as Json).metadata as Json).labels).toMatchObject({ 'trellis.io/inject': 'disabled', 'gateway.networking.k8s.io/gateway-name': 'edge' });
    const init = (pod.initContainers as Json[])[0]!;
    expect(init.image).toBe('registry.example.com/trellis:1.2.3');
    expect(init.args).toEqual(expect.arrayContaining(['--gateway', 'shop/edge', '--listen-address', '0.0.0.0', '--xds-address', 'trellis.trellis-system.svc:18000']));
    expect(((init.env as Json[]).find((e) => e.name === 'TRELLIS_CA_PEM')?.value as string)).toContain('BEGIN CERTIFICATE');
    const envoy = (pod.containers as Json[])[0]!;
    expect((envoy.ports as Json[]).map((p) => p.containerPort)).toEqual([80, 9000, 15090]);
    expect(envoy.readinessProbe).toMatchObject({ httpGet: { path: '/ready', port: 15090 } });
    expect(spec(service).type).toBe('LoadBalancer');
    expect(spec(service).selector).toEqual({ 'gateway.networking.k8s.io/gateway-name': 'edge', 'gateway.networking.k8s.io/gateway-class-name': 'trellis' });
    expect((spec(service).ports as Json[]).map((p) => [p.name, p.port, p.targetPort])).toEqual([['http-80', 80, 80], ['tcp-9000', 9000, 9000]]);
    // status.addresses: the cluster IP until a load balancer answers, then the load balancer's.
    const clusterIp = spec(service).clusterIP as string;
    expect(await until('the cluster IP in status.addresses', async () => {
      const a = ((await cluster.rest.get<Json>(GATEWAY)).status as Json | undefined)?.addresses as Json[] | undefined;
      return a?.length ? a : undefined;
    })).toEqual([{ type: 'IPAddress', value: clusterIp }]);
    await cluster.rest.patch(`${SERVICE}/status`, { status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } } }, 'merge');
    await until('the load balancer address', async () => {
      const a = ((await cluster.rest.get<Json>(GATEWAY)).status as Json).addresses as Json[];
      return a[0]?.value === '203.0.113.7' ? a : undefined;
    });
  }, 90_000);

  it('the Deployment\'s bootstrap init container, run as the kubelet runs it, writes a delta-ADS bootstrap for the Gateway that Envoy validates', async () => {
    const init = (podSpec(await cluster.rest.get<Json>(DEPLOYMENT)).initContainers as Json[])[0]!;
    const token = path.join(dir, 'token');
    const claims = Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:shop:edge' })).toString('base64url');
    await writeFile(token, `eyJhbGciOiJSUzI1NiJ9.${claims}.sig`);
    const out = path.join(dir, 'envoy.yaml');
    const args = (init.args as string[]).map((a) => (a === TOKEN_PATH ? token : a === BOOTSTRAP_PATH ? out : a));
    const env = Object.fromEntries((init.env as Json[]).filter((e) => typeof e.value === 'string').map((e) => [String(e.name), String(e.value)]));
    const r = await promisify(execFile)(process.execPath, [path.resolve(import.meta.dirname, '../../bin/trellis.js'), ...args], { env: { ...process.env, ...env, POD_NAMESPACE: 'shop', POD_NAME: 'edge-trellis-5d8f7-abcde' }, timeout: 60_000 });
    expect(r.stderr).toBe('');
    const bootstrap = parse(await readFile(out, 'utf8')) as { node: { id: string; metadata: Record<string, string> }; dynamic_resources: { ads_config: { api_type: string } } };
    expect(bootstrap.node).toMatchObject({ id: 'shop/edge-trellis-5d8f7-abcde', metadata: { 'trellis.gateway': 'shop/edge', 'trellis.gateway_address': '0.0.0.0' } });
    expect(bootstrap.dynamic_resources.ads_config.api_type).toBe('DELTA_GRPC');
    const v = await promisify(execFile)(envoyBin(), ['--mode', 'validate', '-c', out, '--disable-hot-restart', '--log-level', 'error'], { timeout: 30_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stderr ?? ''}${e.stdout ?? ''}` }));
    expect(v.stdout).toContain('OK');
  }, 90_000);

  it('the pod, its parts run here as a kubelet would: the init container with a token bound to the pod, then Envoy with the container\'s arguments; its readiness endpoint says LIVE and the Gateway\'s listener answers', async () => {
    const deployment = await cluster.rest.get<Json>(DEPLOYMENT);
    const template = spec(deployment).template as Json;
    // The ReplicaSet controller's part: a Pod from the template.
    const podName = 'edge-trellis-5d8f7-live1';
    await apply(cluster.rest, [{ apiVersion: 'v1', kind: 'Pod', metadata: { ...(template.metadata as Json), name: podName, namespace: 'shop' }, spec: template.spec, status: { podIP: GW_IP } }]);
    const stored = await cluster.rest.get<Json>(`/api/v1/namespaces/shop/pods/${podName}`);
    const volume = ((podSpec(deployment).volumes as Json[]).find((v) => v.projected) as Json).projected as Json;
    const projected = ((volume.sources as Json[])[0]!.serviceAccountToken) as Json;
    const tr = await cluster.rest.post<Json>('/api/v1/namespaces/shop/serviceaccounts/edge/token', {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
      spec: { audiences: [projected.audience], expirationSeconds: projected.expirationSeconds, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: podName, uid: (stored.metadata as Json).uid } },
    });
    const token = path.join(dir, 'pod-token');
    await writeFile(token, String((tr.status as Json).token));
    const out = path.join(dir, 'pod-envoy.yaml');
    const [admin, stats] = [await freePort(), await freePort()];
    // Here the pod shares the machine's network: its addresses are the test's own loopback ones.
    const init = (podSpec(deployment).initContainers as Json[])[0]!;
    const args = (init.args as string[]).map((a, i, all) => (a === TOKEN_PATH ? token : a === BOOTSTRAP_PATH ? out
      : all[i - 1] === '--listen-address' ? GW_IP : all[i - 1] === '--xds-address' ? `127.0.0.1:${plane.xdsPort}` : all[i - 1] === '--admin-address' ? `127.0.0.1:${admin}` : a));
    const env = Object.fromEntries((init.env as Json[]).filter((e) => typeof e.value === 'string').map((e) => [String(e.name), String(e.value)]));
    await promisify(execFile)(process.execPath, [path.resolve(import.meta.dirname, '../../bin/trellis.js'), ...args, '--stats-address', `${GW_IP}:${stats}`], { env: { ...process.env, ...env, POD_NAMESPACE: 'shop', POD_NAME: podName }, timeout: 60_000 });
    const container = (podSpec(deployment).containers as Json[])[0]!;
    const envoy = spawn(envoyBin(), (container.args as string[]).map((a) => (a === BOOTSTRAP_PATH ? out : a)), { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    envoy.stderr!.on('data', (b) => (log = (log + String(b)).slice(-4000)));
    try {
      const probe = (container.readinessProbe as Json).httpGet as Json;
      const ready = await until('the readiness endpoint says LIVE', async (last) => {
        const r = await fetch(`http://${GW_IP}:${stats}${String(probe.path)}`);
        last.seen = `${r.status} ${await r.text()} ${log}`;
        return r.status === 200 ? 'LIVE' : undefined;
      }, 40_000);
      expect(ready).toBe('LIVE');
      // Its HTTP listener, from Trellis over delta ADS: no route attached yet, so Envoy itself answers 404.
      expect((await fetch(`http://${GW_IP}:80/`)).status).toBe(404);
    } finally {
      envoy.kill('SIGKILL');
      await cluster.rest.delete(`/api/v1/namespaces/shop/pods/${podName}`).catch(() => undefined);
    }
  }, 90_000);

  it('listener and annotation edits follow: Service ports, type and replicas; an unreadable annotation leaves them as they are', async () => {
    await apply(cluster.rest, gateway('[{name: http, port: 8080, protocol: HTTP}, {name: tls, port: 8443, protocol: TLS, tls: {mode: Passthrough}}]', '{trellis.io/gateway-service-type: ClusterIP, trellis.io/gateway-replicas: "3"}'));
    const service = await until('the Service follows', async () => {
      const s = await cluster.rest.get<Json>(SERVICE);
      return spec(s).type === 'ClusterIP' && (spec(s).ports as Json[]).length === 2 && (spec(s).ports as Json[])[0]!.port === 8080 ? s : undefined;
    });
    expect((spec(service).ports as Json[]).map((p) => [p.name, p.port])).toEqual([['http-8080', 8080], ['tls-8443', 8443]]);
    const deployment = await until('the Deployment follows', async () => {
      const d = await cluster.rest.get<Json>(DEPLOYMENT);
      return spec(d).replicas === 3 ? d : undefined;
    });
    expect(((podSpec(deployment).containers as Json[])[0]!.ports as Json[]).map((p) => p.containerPort)).toEqual([8080, 8443, 15090]);
    // "many" replicas: nothing is rendered for it, and nothing is deleted.
    await apply(cluster.rest, gateway('[{name: http, port: 8081, protocol: HTTP}]', '{trellis.io/gateway-replicas: many}'));
    await until('the model has the edit', async () => (plane.kube!.model?.gateways.get('shop/edge')?.ports[0]?.port === 8081 ? true : undefined));
    await plane.gatewayDeployments!.flush();
    expect(spec(await cluster.rest.get<Json>(DEPLOYMENT)).replicas).toBe(3);
    expect((spec(await cluster.rest.get<Json>(SERVICE)).ports as Json[])[0]!.port).toBe(8080);
  }, 90_000);

  it('when the Gateway goes, Trellis deletes the objects it made for it', async () => {
    await remove(cluster.rest, gateway('[]')[0]!);
    for (const p of [DEPLOYMENT, SERVICE, ACCOUNT]) await until(`${p} deleted`, () => gone(p));
  }, 60_000);

  it('with replicas, only the Lease holder makes them; a follower writes nothing', async () => {
    await plane.stop();
    const lease = { namespace: 'trellis-system', leaseDurationSeconds: 30, renewEveryMs: 200 };
    const start = (identity: string) => startControlPlane({
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      kubernetes: { config: asTrellis, debounceMs: 30, statusIntervalMs: 100, retryMinMs: 100, retryMaxMs: 400, leaderElection: { ...lease, identity } },
      gatewayDeployments: {},
    });
    const leader = (plane = await start('replica-a'));
    await until('replica-a leads', async () => (leader.kube!.isLeader() ? true : undefined));
    const follower = await start('replica-b');
    try {
      await apply(cluster.rest, gateway(HTTP_AND_TCP));
      await until('the Deployment', () => cluster.rest.get<Json>(DEPLOYMENT));
      await until('the follower has the Gateway', async () => (follower.kube!.model?.gateways.has('shop/edge') ? true : undefined));
      await follower.gatewayDeployments!.flush();
      expect(follower.kube!.isLeader()).toBe(false);
      expect(follower.gatewayDeployments!.stats).toEqual({ applies: 0, deletes: 0, addressWrites: 0, failures: 0 });
      expect(leader.gatewayDeployments!.stats.applies).toBeGreaterThan(0);
    } finally {
      await follower.stop();
    }
  }, 90_000);

});
