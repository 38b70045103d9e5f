/**
 * Issue 12 in a cluster (a real kube-apiserver and etcd): a Rollout's
 * progress and decisions are written to its status by the leader only, as
 * the `trellis` service account of deploy/kubernetes (its RBAC proven
 * sufficient); a replica that does not lead serves the weight the leader
 * recorded; when the leader stops, the other takes over from the status.
 *
 * No sidecar is connected, so the gates cannot be evaluated: the rollout
 * starts (canary at the first step's weight) and holds there, which is what
 * a cluster must show and every replica must serve.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { KubeRest, type Json } from '../../src/sources/kubernetes/rest.ts';
import { apply, deployDocs, installCrds, KubeCluster, yamlObjects } from '../support/kube.ts';

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {trellis.io/mesh: enabled}}
${['web', 'web-v1', 'web-v2'].map((name, i) => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  clusterIP: 10.96.7.${10 + i}
  selector: {app: web${name === 'web' ? '' : `, version: ${name.slice(4)}`}}
  ports: [{name: http, port: 8080, targetPort: 8080, appProtocol: http}]
`).join('')}---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: shop}
spec:
  service: web
  backends: [{service: web-v1, weight: 100}, {service: web-v2, weight: 0}]
---
apiVersion: trellis.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  service: web
  stable: web-v1
  canary: web-v2
  trafficRef: {kind: TrafficSplit, name: web}
  steps: [{weight: 20, pause: 10s}, {weight: 60, pause: 10s}]
  analysis: {window: 10s, interval: 200ms, minRequests: 5, successRate: 99}
`;

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let cluster: KubeCluster;
let asTrellis: KubeConfig;
const running: RunningControlPlane[] = [];

function replica(identity: string): Promise<RunningControlPlane> {
  return startControlPlane({
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    kubernetes: {
      config: asTrellis, debounceMs: 30, statusIntervalMs: 100, programmedIntervalMs: 100, retryMinMs: 100, retryMaxMs: 400,
      leaderElection: { namespace: 'trellis-system', identity, leaseDurationSeconds: 3, renewEveryMs: 200 },
    },
    rollouts: { maxTickMs: 200 },
  }).then((r) => (running.push(r), r));
}

const stored = async (): Promise<Json> => (await new KubeRest(asTrellis).get('/apis/trellis.io/v1alpha1/namespaces/shop/rollouts/web')) as Json;
const canaryWeight = (p: RunningControlPlane) => p.mesh?.model?.splits.get('shop/web')?.backends.find((b) => b.service === 'shop/web-v2')?.weight;

beforeAll(async () => {
  cluster = await KubeCluster.start();
  await installCrds(cluster.rest);
  await apply(cluster.rest, deployDocs().filter((d) => ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(String(d.kind))));
  asTrellis = await cluster.serviceAccountConfig();
  await apply(cluster.rest, yamlObjects(MESH));
}, 180_000);

afterAll(async () => {
  for (const r of running) await r.stop();
  await cluster?.stop();
});

describe('issue 12: Rollout status in a cluster', () => {
  it('the leader writes progress, history and a Progressing condition; the other replica serves the weight recorded; a new leader continues from status', async () => {
    const a = await replica('replica-a');
    await until('replica-a to lead', () => a.kube!.leader!.isLeader());
    const b = await replica('replica-b');

    const status = await until('the leader to write the rollout status', async () => {
      const s = (await stored()).status as Json | undefined;
      return s?.phase === 'Progressing' && Array.isArray(s.conditions) && (s.conditions as Json[]).some((c) => c.type === 'Progressing' && c.reason === 'Held') ? s : undefined;
    });
    expect(status).toMatchObject({ phase: 'Progressing', step: 0, canaryWeight: 20 });
    expect((status.history as Json[]).map((h) => h.event), JSON.stringify(status.history)).toEqual(['Started', 'Held']);
    expect((status.history as Json[])[1]!.message).toMatch(/no sidecar is connected/);
    const conditions = status.conditions as Json[];
    expect(conditions.map((c) => c.type)).toEqual(expect.arrayContaining(['Accepted', 'ResolvedRefs', 'Programmed', 'Progressing']));
    expect(conditions.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'Held', message: expect.stringMatching(/step 1 of 2, canary at 20 %, holding: no metrics/) });

    // Both replicas serve the weight the leader recorded; only the leader wrote.
    expect(canaryWeight(a)).toBe(20);
    await until('replica-b to serve the recorded weight', () => canaryWeight(b) === 20);
    expect(b.kube!.leader!.isLeader()).toBe(false);
    expect(b.kube!.statusWriter!.stats.writes).toBe(0);
    const fromB = (await (await fetch(`http://127.0.0.1:${b.adminPort}/api/v1/rollouts`)).json()) as { deciding: boolean; rollouts: Json[] };
    expect(fromB.deciding).toBe(false);
    expect(fromB.rollouts[0]).toMatchObject({ phase: 'Progressing', step: 1, canaryWeight: 20 });

    // The leader stops: replica-b takes over, continuing from the status (not a new start).
    await a.stop();
    running.splice(running.indexOf(a), 1);
    await until('replica-b to take over', () => b.kube!.leader!.isLeader(), 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    const after = (await stored()).status as Json;
    expect(after).toMatchObject({ phase: 'Progressing', step: 0, canaryWeight: 20, revision: status.revision });
    expect((after.history as Json[]).map((h) => h.event), JSON.stringify(after.history)).toEqual(['Started', 'Held']);
    expect(canaryWeight(b)).toBe(20);
  }, 120_000);
});
