/**
 * `trellis diff` against a real running Trellis (startControlPlane serving a
 * copy of the demo mesh) with ADS clients that subscribe as Envoy does and
 * announce the node metadata `trellis bootstrap` writes. The real binary
 * diffs edited copies of the folder. Then the claim itself: the edited folder
 * is applied to the running Trellis, and what the proxies then hold is what
 * diff predicted, version for version.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/client.ts';
import type { ProxyConfigView } from '../../src/admin/proxies.ts';
import type { ProxyDiff } from '../../src/runtime/config-diff.ts';
import { structOf } from '../support/mesh-harness.ts';
import { demoCopy, startSecure, tempDir, trellis, type SecureHarness } from '../security/support.ts';
import { AdsFollower } from './ads-follower.ts';
import { freePort, notTrellisServer, until } from './admin-support.ts';

/** Sidecars as `trellis bootstrap` announces them: user agent envoy, the workload and app port in metadata. */
const NODES = ['frontend', 'recommendation-v1', 'recommendation-v2', 'ratings'].map((pod) => ({
  id: `demo/${pod}`,
  cluster: pod,
  user_agent_name: 'envoy',
  locality: { zone: 'z1' },
  metadata: structOf({ 'trellis.workload': `demo/${pod}`, 'trellis.app_ports': '8080=18080' }),
}));

const REVIEWS = `apiVersion: v1
kind: ServiceAccount
metadata: {name: reviews, namespace: demo}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: demo}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 8080, targetPort: http, appProtocol: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews, namespace: demo, labels: {app: reviews}}
spec:
  serviceAccountName: reviews
  containers: [{name: app, image: app, ports: [{name: http, containerPort: 8080}]}]
status: {phase: Running, podIP: 127.0.0.9, podIPs: [{ip: 127.0.0.9}], conditions: [{type: Ready, status: "True"}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews, namespace: demo, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- {addresses: ["127.0.0.9"], conditions: {ready: true, serving: true, terminating: false}, zone: local, targetRef: {kind: Pod, name: reviews, namespace: demo}}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: frontend-to-reviews, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: reviews, namespace: demo}
  sources: [{kind: ServiceAccount, name: frontend, namespace: demo}]
  rules: [{kind: HTTPRouteGroup, name: all-requests}]
`;

let h: SecureHarness;
let served: string;
const dirs: string[] = [];
const followers: AdsFollower[] = [];

/** A copy of the served folder, edited by `edit` (intents.yaml's text in, out). */
function editedCopy(edit: (intents: string) => string, extra: Record<string, string> = {}): string {
  const dir = tempDir('diff');
  dirs.push(dir);
  cpSync(served, dir, { recursive: true });
  const file = path.join(dir, 'intents.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  for (const [name, text] of Object.entries(extra)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/** The demo's edits: split 90/10 -> 50/50, maxConnections 100 -> 200, TrafficTarget recommendation-to-ratings deleted, a service added. */
function theEdit(): string {
  return editedCopy(
    (t) => {
      const withoutTarget = t.replace(/---\napiVersion: access[^\n]*\nkind: TrafficTarget\nmetadata:\n  name: recommendation-to-ratings[\s\S]*?(?=---)/, '');
      expect(withoutTarget).not.toBe(t);
      return withoutTarget.replace('weight: 90', 'weight: 50').replace('weight: 10', 'weight: 50').replace('maxConnections: 100', 'maxConnections: 200');
    },
    { 'reviews.yaml': REVIEWS },
  );
}

/** What every proxy holds now, by node (what diff compares against). */
async function heldNow(): Promise<Map<string, ProxyConfigView>> {
  const client = new AdminClient(`http://${h.adminAddress}`);
  const out = new Map<string, ProxyConfigView>();
  for (const p of await client.proxies()) out.set(p.node, await client.proxyConfig(p.node));
  return out;
}

const versionOf = (held: Map<string, ProxyConfigView>, node: string, type: string, name: string) => held.get(node)?.types[type]?.find((r) => r.name === name)?.version;

beforeAll(async () => {
  served = demoCopy();
  h = await startSecure({ sourceDir: served, reloadDebounceMs: 20 });
  for (const n of NODES) followers.push(new AdsFollower(h.plaintextClient(), n));
  // Until every proxy holds clusters, endpoints, listeners and routes, all ACKed.
  await until(async () => {
    const held = await heldNow();
    const ok = (n: string, t: string, some: boolean) => (held.get(n)?.types[t] ?? []).length >= (some ? 1 : 0) && (held.get(n)?.types[t] ?? []).every((r) => r.status === 'ACKED');
    // ratings calls no one: no endpoint sets.
    return NODES.every((n) => ['cds', 'lds', 'rds'].every((t) => ok(n.id, t, true)) && ok(n.id, 'eds', n.id !== 'demo/ratings'));
  });
}, 30_000);
afterAll(async () => {
  for (const f of followers) f.close();
  await h?.close();
  for (const d of [served, ...dirs]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('trellis diff', () => {
  it('an unchanged folder: "no changes", exit 0', async () => {
    const run = await trellis(['diff', served, '--admin', h.adminAddress]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^no changes: 4 proxies would hold what they hold now$/m);
    expect(run.stdout).toContain('secrets (SDS) are not compared');
  });

  it('a folder with a YAML syntax error and an invalid weight: their file:line lines, exit 1, and the diff of the rest', async () => {
    const dir = editedCopy((t) => t.replace('maxConnections: 100', 'maxConnections: 200'), {
      'broken.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [broken\n',
      'split.yaml': 'apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata:\n  name: ratings-split\n  namespace: demo\nspec:\n  service: ratings\n  backends:\n  - service: recommendation-v1\n    weight: -1\n',
    });
    const run = await trellis(['diff', dir, '--admin', h.adminAddress]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain(`${dir}/broken.yaml:5: document 1: -: YAML syntax:`);
    expect(run.stdout).toContain(`${dir}/split.yaml:10: TrafficSplit demo/ratings-split: spec.backends[0].weight: -1 is out of range`);
    expect(run.stdout).toContain('node demo/frontend:\n  ~ cluster recommendation-v1.demo:8080: .circuit_breakers.thresholds.0.max_connections: 100 → 200\n');
    expect(run.stdout).toMatch(/^1 proxy would change, 3 unchanged; 2 intents rejected/m);
    expect(run.stderr).toBe('');
  });

  it('the edits: each proxy that would change, + and - resources, ~ changed fields; then the edit applied is what diff said', async () => {
    const dir = theEdit();
    const run = await trellis(['diff', dir, '--admin', h.adminAddress]);
    expect(run.code, run.stderr).toBe(0);
    const section = (node: string) => run.stdout.split(`node ${node}:\n`)[1]?.split(/\n(?=\S)/)[0]?.split('\n') ?? [];
    // maxConnections 100 -> 200 on every cluster of recommendation; the split 90/10 -> 50/50 on both of its routes; the new service.
    expect(section('demo/frontend')).toEqual([
      '  ~ cluster recommendation-v1.demo:8080: .circuit_breakers.thresholds.0.max_connections: 100 → 200',
      '  ~ cluster recommendation-v2.demo:8080: .circuit_breakers.thresholds.0.max_connections: 100 → 200',
      '  ~ cluster recommendation.demo:8080: .circuit_breakers.thresholds.0.max_connections: 100 → 200',
      '  + cluster reviews.demo:8080',
      '  + endpoints reviews.demo:8080',
      '  ~ route outbound: .virtual_hosts[recommendation.demo:8080].routes[httproute/demo/recommendation/split/0/retry].route.weighted_clusters.clusters[recommendation-v1.demo:8080].weight: 90 → 50',
      '  ~ route outbound: .virtual_hosts[recommendation.demo:8080].routes[httproute/demo/recommendation/split/0/retry].route.weighted_clusters.clusters[recommendation-v2.demo:8080].weight: 10 → 50',
      '  ~ route outbound: .virtual_hosts[recommendation.demo:8080].routes[httproute/demo/recommendation/split/0].route.weighted_clusters.clusters[recommendation-v1.demo:8080].weight: 90 → 50',
      '  ~ route outbound: .virtual_hosts[recommendation.demo:8080].routes[httproute/demo/recommendation/split/0].route.weighted_clusters.clusters[recommendation-v2.demo:8080].weight: 10 → 50',
      expect.stringMatching(/^  ~ route outbound: \.virtual_hosts\[reviews\.demo:8080\]: \(none\) → \{"name":"reviews\.demo:8080"/),
    ]);
    // The TrafficTarget deleted: its callers lose ratings, ratings' RBAC loses the policy.
    for (const caller of ['demo/recommendation-v1', 'demo/recommendation-v2']) {
      expect(section(caller).slice(0, 2)).toEqual(['  - cluster ratings.demo:8080', '  - endpoints ratings.demo:8080']);
    }
    expect(section('demo/ratings')).toEqual([expect.stringMatching(/^  ~ listener inbound:8080: .*\.rules\.policies: \{"demo\/recommendation-to-ratings":/)]);
    expect(run.stdout).toMatch(/^4 proxies would change, 0 unchanged$/m);
    const json = await trellis(['diff', dir, '--admin', h.adminAddress, '--output', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const predicted = JSON.parse(json.stdout) as { proxies: ProxyDiff[]; summary: { changed: number } };
    expect(predicted.summary.changed).toBeGreaterThan(0);

    // Apply: the edited folder over the served one; wait for the proxies to hold the result.
    cpSync(dir, served, { recursive: true });
    await until(async () => {
      const held = await heldNow();
      return predicted.proxies.every((p) => p.changes.every((c) => versionOf(held, p.node, c.type, c.name) === c.to));
    });
    const after = await trellis(['diff', dir, '--admin', h.adminAddress]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/^no changes: 4 proxies/m);
  }, 60_000);

  it('bad input: a folder that does not exist (exit 2), something else on the admin port (exit 1)', async () => {
    const missing = await trellis(['diff', path.join(served, 'nope'), '--admin', h.adminAddress]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^trellis diff: .*nope: no such file or directory\nusage: trellis diff/);
    const { server, address } = await notTrellisServer();
    try {
      const other = await trellis(['diff', served, '--admin', address]);
      expect(other.code).toBe(1);
      expect(other.stderr).toMatch(/^trellis diff: http:\/\/127\.0\.0\.1:\d+ is not a Trellis admin API \(GET \/api\/v1\/proxies: HTTP 200, text\/html\)/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('admin unreachable: one line, exit 1', async () => {
    const run = await trellis(['diff', served, '--admin', `127.0.0.1:${await freePort()}`]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^trellis diff: no Trellis admin API at http:\/\/127\.0\.0\.1:\d+: connection refused/);
  });
});
