/**
 * Issue 15, the global rate limit config in a cluster, against a real
 * kube-apiserver: Trellis (as the `trellis` service account, under the RBAC
 * of deploy/kubernetes and deploy/kubernetes/ratelimit) keeps the ConfigMap
 * trellis-ratelimit that the ratelimit Deployment mounts; editing a
 * TrafficPolicy's global limit rewrites it. Every object `trellis install
 * --rate-limit` renders is accepted by the API server (a server-side dry
 * run: the manifests' `envoy --mode validate`). Only the Lease holder writes.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { installManifests, apiPath } from '../../src/cli/install-manifests.ts';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { KubeApiError, type Json } from '../../src/sources/kubernetes/rest.ts';
import { apply, installCrds, KubeCluster, yamlObjects } from '../support/kube.ts';

const NS = 'trellis-system';
const CONFIGMAP = `/api/v1/namespaces/${NS}/configmaps/trellis-ratelimit`;

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {trellis.io/mesh: enabled}}
---
apiVersion: v1
kind: Service
metadata: {name: checkout, namespace: shop}
spec:
  clusterIP: 10.96.7.10
  ports: [{name: http, port: 8080}]
---
apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  rateLimitService: {address: "trellis-ratelimit.trellis-system.svc:8081"}
`;
const policy = (requests: number) => yamlObjects(`apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: checkout, namespace: shop}
spec:
  targetRef: {kind: Service, name: checkout}
  rateLimit:
    global: {requests: ${requests}, unit: minute, at: Server}
`);

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let cluster: KubeCluster;
let asTrellis: KubeConfig;
const planes: RunningControlPlane[] = [];

/** The service's config as Trellis wrote it: the requests per unit of each descriptor. */
async function limits(): Promise<number[]> {
  const cm = await cluster.rest.get<Json>(CONFIGMAP);
  const config = parse(String((cm.data as Json)['trellis.yaml'])) as { descriptors: Array<{ rate_limit?: { requests_per_unit: number } }> };
  return config.descriptors.map((d) => d.rate_limit?.requests_per_unit ?? -1);
}

function start(extra: { leaderElection?: { namespace: string; identity: string; leaseDurationSeconds: number; renewEveryMs: number } } = {}): Promise<RunningControlPlane> {
  return startControlPlane({
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    kubernetes: { config: asTrellis, debounceMs: 30, statusIntervalMs: 100, retryMinMs: 100, retryMaxMs: 400, ...extra },
    rateLimitConfigMap: { namespace: NS, name: 'trellis-ratelimit' },
  }).then((p) => (planes.push(p), p));
}

beforeAll(async () => {
  cluster = await KubeCluster.start();
  await installCrds(cluster.rest);
  // What install --rate-limit makes, less what needs a kubelet to mean anything: Trellis runs under its RBAC.
  const rendered = installManifests({ namespace: NS, rateLimit: true }).filter((o) => o.kind !== 'CustomResourceDefinition');
  await apply(cluster.rest, rendered.filter((o) => ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ConfigMap'].includes(String(o.kind))));
  asTrellis = await cluster.serviceAccountConfig();
  await apply(cluster.rest, yamlObjects(MESH));
  await apply(cluster.rest, policy(10));
}, 180_000);
afterAll(async () => {
  for (const p of planes.splice(0)) await p.stop();
  await cluster?.stop();
});

describe('issue 15: the global rate limit config in a cluster', () => {
  it('every object install --rate-limit renders passes the API server\'s validation (server-side dry run)', async () => {
    const rendered = installManifests({ namespace: NS, rateLimit: true });
    const kinds = rendered.filter((o) => String((o.metadata as Json).name).startsWith('trellis-r')).map((o) => `${String(o.kind)}/${String((o.metadata as Json).name)}`);
    expect(kinds).toEqual(['ConfigMap/trellis-ratelimit', 'Role/trellis-ratelimit-config', 'RoleBinding/trellis-ratelimit-config', 'Deployment/trellis-redis', 'Service/trellis-redis', 'Deployment/trellis-ratelimit', 'Service/trellis-ratelimit']);
    const trellis = rendered.find((o) => o.kind === 'Deployment' && (o.metadata as Json).name === 'trellis') as Json;
    expect(JSON.stringify(trellis)).toContain('"--ratelimit-configmap","trellis-ratelimit"');
    for (const obj of rendered.filter((o) => o.kind !== 'CustomResourceDefinition')) {
      await cluster.rest.patch(apiPath(obj), obj, 'apply', { fieldManager: 'dry-run', force: 'true', dryRun: 'All' }).catch((e: unknown) => {
        throw new Error(`${String(obj.kind)} ${String((obj.metadata as Json).name)}: ${e instanceof KubeApiError ? e.message : String(e)}`);
      });
    }
  }, 60_000);

  it('Trellis writes the TrafficPolicy\'s global limit into the ConfigMap, and rewrites it when the limit is edited', async () => {
    await start();
    expect(await until('the limit in the ConfigMap', async () => ((await limits()).includes(10) ? limits() : undefined))).toEqual([10]);
    await apply(cluster.rest, policy(25));
    expect(await until('the edited limit', async () => ((await limits()).includes(25) ? limits() : undefined))).toEqual([25]);
  }, 60_000);

  it('with replicas, only the Lease holder writes; a new holder rewrites what was left out of date', async () => {
    for (const p of planes.splice(0)) await p.stop();
    const lease = { namespace: NS, leaseDurationSeconds: 30, renewEveryMs: 200 };
    // The leader first, then a follower that cannot take the Lease while the leader renews it.
    const leader = await start({ leaderElection: { ...lease, identity: 'replica-a' } });
    await until('replica-a leads', async () => (leader.kube!.isLeader() ? true : undefined));
    const follower = await start({ leaderElection: { ...lease, identity: 'replica-b' } });
    await apply(cluster.rest, policy(40));
    expect(await until('the leader wrote', async () => ((await limits()).includes(40) ? limits() : undefined))).toEqual([40]);
    expect(follower.kube!.isLeader()).toBe(false);
    // Someone overwrites it. A publish both replicas see (a new Service) makes neither write:
    // the leader wrote this text already, the follower does not write at all.
    await cluster.rest.patch(CONFIGMAP, { data: { 'trellis.yaml': 'domain: trellis\ndescriptors: []\n' } });
    await apply(cluster.rest, yamlObjects('apiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: shop}\nspec: {clusterIP: 10.96.7.11, ports: [{name: http, port: 8080}]}\n'));
    await until('the follower has the new Service', async () => (follower.kube!.model?.services.has('shop/other') ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    expect(await limits()).toEqual([]);
    // The leader goes (releasing the Lease): the follower takes over and writes what it finds out of date.
    await leader.stop();
    planes.splice(planes.indexOf(leader), 1);
    await until('replica-b leads', async () => (follower.kube!.isLeader() ? true : undefined));
    expect(await until('the new leader rewrote it', async () => ((await limits()).includes(40) ? limits() : undefined))).toEqual([40]);
  }, 90_000);
});
