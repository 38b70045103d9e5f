/**
 * `trellis explain` on the demo as the README runs it: its routing is the
 * HTTPRoute demo/recommendation (GAMMA), so the route a request takes is
 * named `httproute/demo/recommendation/<rule>/<match>` and explain must cite
 * that HTTPRoute at its file:line, as it cites a TrafficSplit for `split/…`
 * routes (test/cli/explain.test.ts runs the SMI version). One sidecar is
 * enough: frontend's, an ADS follower ACKing everything over TLS with its
 * identity token; the destinations are not connected, so the decision is
 * unknown, which this test does not look at.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/client.ts';
import type { Explanation } from '../../src/admin/explain/explain.ts';
import { structOf } from '../support/mesh-harness.ts';
import { startSecure, tokenMetadata, trellis, type SecureHarness } from '../security/support.ts';
import { DEMO_DIR } from '../support/demo-smi.ts';
import { AdsFollower } from './ads-follower.ts';
import { until } from './admin-support.ts';

const INTENTS = path.join(DEMO_DIR, 'intents.yaml');
// an object's origin is its apiVersion line (1-based): the 0-based index of its kind line
const routeLine = readFileSync(INTENTS, 'utf8')
  .split('\n')
  .findIndex((l, i, all) => l === 'kind: HTTPRoute' && all[i + 2] === '  name: recommendation');

let h: SecureHarness;
let follower: AdsFollower;

beforeAll(async () => {
  h = await startSecure({ sourceDir: DEMO_DIR });
  const node = { id: 'demo/frontend', cluster: 'frontend', user_agent_name: 'envoy', locality: { zone: 'z1' }, metadata: structOf({ 'trellis.workload': 'demo/frontend', 'trellis.app_ports': '8080=18080' }) };
  follower = new AdsFollower(h.tlsClient(), node, tokenMetadata(h.token('frontend', node.id)));
  const client = new AdminClient(`http://${h.adminAddress}`);
  await until(async () => {
    const ps = await client.proxies();
    if (ps.length < 1 || !ps[0]!.identity) return false;
    const c = await client.proxyConfig('demo/frontend');
    return ['cds', 'eds', 'lds', 'rds'].every((t) => (c.types[t] ?? []).length > 0 && c.types[t]!.every((r) => r.status === 'ACKED'));
  });
}, 30_000);
afterAll(async () => {
  follower?.close();
  await h?.close();
});

async function explained(...args: string[]): Promise<Explanation> {
  const run = await trellis(['explain', ...args, '--admin', h.adminAddress, '--output', 'json']);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Explanation;
}

describe('trellis explain on the HTTPRoute demo (README walk)', () => {
  it('the split and the header canary are each cited to the HTTPRoute demo/recommendation at its file:line', async () => {
    expect(routeLine).toBeGreaterThan(0);
    const split = await explained('--from', 'demo/frontend', 'http://recommendation.demo:8080/');
    expect(split.route.name).toBe('httproute/demo/recommendation/split/0/retry');
    expect(split.clusters.map((c) => [c.name, c.percent])).toEqual([['recommendation-v1.demo:8080', 90], ['recommendation-v2.demo:8080', 10]]);
    expect(split.intents.filter((i) => i.kind === 'HTTPRoute')).toEqual([
      { kind: 'HTTPRoute', namespace: 'demo', name: 'recommendation', origin: { file: INTENTS, line: routeLine }, why: 'route httproute/demo/recommendation/split/0/retry: its match, backends and weights' },
    ]);
    const canary = await explained('--from', 'demo/frontend', 'http://recommendation.demo:8080/', '-H', 'x-canary: true', '-X', 'POST');
    expect(canary.route.name).toBe('httproute/demo/recommendation/canary/0');
    expect(canary.intents.filter((i) => i.kind === 'HTTPRoute')).toMatchObject([{ name: 'recommendation', origin: { file: INTENTS, line: routeLine } }]);
    // the route's TrafficPolicy is still cited for its timeout and retries
    expect(canary.intents.map((i) => `${i.kind} ${i.name}`)).toContain('TrafficPolicy recommendation');
  });

  it('text output: the HTTPRoute with its file:line under intents', async () => {
    const run = await trellis(['explain', '--from', 'demo/frontend', 'http://recommendation.demo:8080/', '--admin', h.adminAddress]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`${INTENTS}:${routeLine}: HTTPRoute demo/recommendation (route httproute/demo/recommendation/split/0/retry: its match, backends and weights)`);
  });
});
