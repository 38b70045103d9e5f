/**
 * `trellis explain` against a real running Trellis serving the demo mesh in
 * its SMI version (examples/smi: the TrafficSplits' routes and citations;
 * test/e2e/demo-mesh.test.ts explains the HTTPRoute demo) (startControlPlane with a CA), its four sidecars subscribed over TLS with
 * their identity tokens as Envoy does (ADS followers ACKing everything): the
 * real binary explains frontend -> recommendation from what the proxies
 * were sent. The demo copy narrows frontend-to-recommendation to /api/ paths
 * so that one pair is also denied at the destination. recommendation-v2's
 * sidecar runs in transparent mode (iptables; one inbound listener on
 * 0.0.0.0), so the decision at that destination is made there too. Then bad
 * input: one clear line, exit 1, no stack trace.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/client.ts';
import type { Explanation } from '../../src/admin/explain/explain.ts';
import { structOf } from '../support/mesh-harness.ts';
import { startSecure, tokenMetadata, trellis, type SecureHarness } from '../security/support.ts';
import { AdsFollower } from './ads-follower.ts';
import { until } from './admin-support.ts';
import { smiDemoCopy } from '../support/demo-smi.ts';

const PODS: Array<[pod: string, sa: string]> = [
  ['frontend', 'frontend'],
  ['recommendation-v1', 'recommendation'],
  ['recommendation-v2', 'recommendation'],
  ['ratings', 'ratings'],
];
const API_ONLY = `---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: api-requests
  namespace: demo
spec:
  matches:
  - name: api
    pathRegex: "/api/.*"
    methods: ["*"]
`;

let h: SecureHarness;
let served: string;
let targetLine: number;
let policyLine: number;
let splitLine: number;
const followers: AdsFollower[] = [];

beforeAll(async () => {
  served = smiDemoCopy();
  const file = path.join(served, 'intents.yaml');
  const text = readFileSync(file, 'utf8');
  // frontend may call recommendation on /api/ paths only
  const narrowed = text.replace(/(name: frontend-to-recommendation[\s\S]*?name: )all-requests/, '$1api-requests');
  expect(narrowed).not.toBe(text);
  writeFileSync(file, narrowed + API_ONLY);
  // an object's origin is its first line (apiVersion), two above its name (1-based)
  targetLine = narrowed.split('\n').findIndex((l) => l === '  name: frontend-to-recommendation') - 2;
  // 0-based index of the kind line = 1-based line of the apiVersion above it
  const originOf = (kind: string, name: string) => narrowed.split('\n').findIndex((l, i, all) => l === `kind: ${kind}` && all[i + 2] === `  name: ${name}`);
  policyLine = originOf('TrafficPolicy', 'recommendation');
  splitLine = originOf('TrafficSplit', 'recommendation');
  h = await startSecure({ sourceDir: served });
  for (const [pod, sa] of PODS) {
    const node = {
      id: `demo/${pod}`,
      cluster: pod,
      user_agent_name: 'envoy',
      locality: { zone: 'z1' },
      metadata: structOf(pod === 'recommendation-v2' ? { 'trellis.workload': `demo/${pod}`, 'trellis.mode': 'transparent' } : { 'trellis.workload': `demo/${pod}`, 'trellis.app_ports': '8080=18080' }),
    };
    followers.push(new AdsFollower(h.tlsClient(), node, tokenMetadata(h.token(sa, node.id))));
  }
  const client = new AdminClient(`http://${h.adminAddress}`);
  await until(async () => {
    const ps = await client.proxies();
    if (ps.length < 4 || ps.some((p) => !p.identity)) return false;
    const configs = await Promise.all(ps.map((p) => client.proxyConfig(p.node)));
    return configs.every((c) => ['cds', 'lds', 'rds'].every((t) => (c.types[t] ?? []).length > 0 && c.types[t]!.every((r) => r.status === 'ACKED')) && (c.node === 'demo/ratings' || (c.types.eds ?? []).length > 0));
  });
}, 30_000);
afterAll(async () => {
  for (const f of followers) f.close();
  await h?.close();
  if (served) rmSync(served, { recursive: true, force: true });
});

const explainRun = (...args: string[]) => trellis(['explain', ...args, '--admin', h.adminAddress]);

async function explained(...args: string[]): Promise<Explanation> {
  const run = await explainRun(...args, '--output', 'json');
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Explanation;
}

describe('trellis explain (issue 13: explain a request)', () => {
  it('frontend -> recommendation: the 90/10 split, retries, timeouts, mTLS with the SAN, endpoints, RBAC allow by the TrafficTarget at its file:line', async () => {
    const x = await explained('--from', 'demo/frontend', 'http://recommendation.demo:8080/api/items');
    expect(x.listener).toBe('outbound');
    expect(x.virtualHost).toBe('recommendation.demo:8080');
    expect(x.route.name).toBe('default/retry'); // GET is retried; the canary routes need x-canary
    expect(x.route.skipped).toEqual(['split/recommendation-canary/canary-header/retry', 'split/recommendation-canary/canary-header']);
    expect(x.clusters.map((c) => [c.name, c.weight, c.percent])).toEqual([
      ['recommendation-v1.demo:8080', 90, 90],
      ['recommendation-v2.demo:8080', 10, 10],
    ]);
    expect(x.timeout).toBe('3s');
    expect(x.retryPolicy).toMatchObject({ retry_on: '5xx,reset,connect-failure', num_retries: 2, per_try_timeout: '1s' });
    for (const c of x.clusters) {
      expect(c.mtls?.sans).toEqual(['URI exact spiffe://trellis.local/ns/demo/sa/recommendation']);
      expect(c.endpoints).toHaveLength(1);
      expect(c.endpoints[0]!.health).toBe('HEALTHY');
      expect(c.endpoints[0]!.destination).toMatchObject({ node: `demo/${c.name.split('.')[0]}`, mtlsRequired: true, allowed: true });
      expect(c.endpoints[0]!.destination!.rbac[0]!.matchedPolicies).toEqual(['demo/frontend-to-recommendation']);
    }
    expect(x.source.identity).toBe('spiffe://trellis.local/ns/demo/sa/frontend');
    expect(x.decision).toBe('allow');
    const targets = x.intents.filter((i) => i.kind === 'TrafficTarget');
    expect(targets).toHaveLength(1);
    expect(targets[0]).toMatchObject({ namespace: 'demo', name: 'frontend-to-recommendation', origin: { file: path.join(served, 'intents.yaml'), line: targetLine } });
    // The default route's timeout and retries are the service-wide TrafficPolicy's, its weights the split without matches': cited with their file:line.
    expect(x.intents.filter((i) => i.kind === 'TrafficPolicy' || i.kind === 'TrafficSplit')).toEqual([
      { kind: 'TrafficPolicy', namespace: 'demo', name: 'recommendation', origin: { file: path.join(served, 'intents.yaml'), line: policyLine }, why: 'applies to service demo/recommendation port 8080: timeout and retries of route default/retry, and the cluster settings' },
      { kind: 'TrafficSplit', namespace: 'demo', name: 'recommendation', origin: { file: path.join(served, 'intents.yaml'), line: splitLine }, why: 'weights of route default/retry' },
    ]);
  });

  it('transparent mode: the destination is found by the identity the caller checks and the port, and its RBAC decides', async () => {
    const allowed = await explained('--from', 'demo/frontend', 'http://recommendation.demo:8080/api/items');
    const v2 = allowed.clusters.find((c) => c.name === 'recommendation-v2.demo:8080')!.endpoints[0]!.destination!;
    expect(v2).toMatchObject({ node: 'demo/recommendation-v2', listener: expect.stringMatching(/^inbound \(filter chain /), mtlsRequired: true, allowed: true });
    expect(v2.rbac[0]!.matchedPolicies).toEqual(['demo/frontend-to-recommendation']);
    const denied = await explained('--from', 'demo/frontend', 'http://recommendation.demo:8080/admin');
    expect(denied.clusters.find((c) => c.name === 'recommendation-v2.demo:8080')!.endpoints[0]!.destination).toMatchObject({ node: 'demo/recommendation-v2', allowed: false });
    expect(denied.notes).toEqual([]);
  });

  it('the header canary: x-canary: true takes the canary route to v2 alone, cited by its TrafficSplit', async () => {
    const x = await explained('--from', 'demo/frontend', 'http://recommendation.demo:8080/api/items', '-H', 'X-Canary: true', '-X', 'POST');
    expect(x.route.name).toBe('split/recommendation-canary/canary-header'); // POST: not retried
    expect(x.retryPolicy).toBeUndefined();
    expect(x.clusters.map((c) => [c.name, c.percent])).toEqual([['recommendation-v2.demo:8080', 100]]);
    expect(x.intents.filter((i) => i.kind === 'TrafficSplit')).toMatchObject([{ name: 'recommendation-canary', origin: { file: path.join(served, 'intents.yaml') } }]);
  });

  it('a denied request: frontend -> recommendation outside /api/ is routed but refused by the destination RBAC; the text says so', async () => {
    const x = await explained('--from', 'demo/frontend', 'http://recommendation.demo:8080/admin');
    expect(x.decision).toBe('deny');
    for (const c of x.clusters) expect(c.endpoints[0]!.destination).toMatchObject({ allowed: false, rbac: [{ action: 'ALLOW', allowed: false, matchedPolicies: [] }] });
    const run = await explainRun('--from', 'demo/frontend', 'http://recommendation.demo:8080/admin');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^decision: +DENY$/m);
    expect(run.stdout).toContain('RBAC ALLOW: denied (no policy matches)');
  });

  it('text output: each step on its line, the intents with file:line', async () => {
    const run = await explainRun('--from', 'demo/frontend', 'http://recommendation.demo:8080/api/x');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/recommendation-v1\.demo:8080 +weight 90 \(90%\)/);
    expect(run.stdout).toContain('mTLS: yes, SNI recommendation-v1.demo.svc.cluster.local, peer SAN checked: URI exact spiffe://trellis.local/ns/demo/sa/recommendation');
    expect(run.stdout).toContain(`${path.join(served, 'intents.yaml')}:${targetLine}: TrafficTarget demo/frontend-to-recommendation`);
    expect(run.stdout).toContain(`${path.join(served, 'intents.yaml')}:${policyLine}: TrafficPolicy demo/recommendation (applies to service demo/recommendation port 8080: timeout and retries of route default/retry, and the cluster settings)`);
    expect(run.stdout).toMatch(/destination demo\/recommendation-v2, listener inbound \(filter chain [^)]+\), client certificate required\n +RBAC ALLOW: allowed \(policy demo\/frontend-to-recommendation\)/);
    expect(run.stdout).toMatch(/^decision: +ALLOW$/m);
  });

  it('bad input: an unknown workload, a service the caller cannot reach, a bad URL, a missing --from: one line, no stack trace', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['--from', 'demo/nobody', 'http://recommendation.demo:8080/'], 1, /no proxy of workload "demo\/nobody" is connected .*connected: demo\/frontend/],
      [['--from', 'demo/frontend', 'http://ratings.demo:8080/'], 1, /no virtual host of demo\/frontend's route configuration "outbound" matches ratings\.demo:8080/],
      [['--from', 'demo/frontend', 'not a url'], 1, /not a URL/],
      [['http://recommendation.demo:8080/'], 2, /needs --from/],
      [['--from', 'demo/frontend', 'http://recommendation.demo:8080/', '-H', 'nocolon'], 2, /expected 'name: value'/],
    ];
    for (const [args, code, message] of cases) {
      const run = await explainRun(...args);
      expect(run.code, run.stderr).toBe(code);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
