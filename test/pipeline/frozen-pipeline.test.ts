/**
 * Issue 16 bug 4: a MeshConfig trust-domain edit froze the control plane.
 * The CA threw for the new domain's identities inside the publish; the
 * exception escaped the pipeline half-applied, so later edits never reached
 * anyone, newly connecting proxies got UNAVAILABLE, and /readyz said 200.
 *
 * A real `trellis serve` with a state dir (CA, SDS) on a copy of the demo
 * mesh, sidecars on raw ADS streams (the opt-in plaintext listener: config
 * without private keys).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { VersionedResource } from '../../src/cache/resource.ts';
import type { SecretSource } from '../../src/runtime/publisher.ts';
import { ProxyView } from '../support/mesh-harness.ts';
import { demoCopy, sidecar, startSecure, type SecureHarness } from '../security/support.ts';

let h: SecureHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The frontend's default route to recommendation: [cluster, weight] pairs. */
function split(p: ProxyView): Array<[string, number]> {
  const vh = p.virtualHost('recommendation.demo:8080');
  const r = (vh.routes as Array<{ match: unknown; route?: { weighted_clusters?: { clusters: Array<{ name: string; weight: { value: number } }> } } }>).at(-1)!.route!;
  return r.weighted_clusters!.clusters.map((c) => [c.name.split('.')[0]!, c.weight.value]);
}

async function readyz(h: SecureHarness): Promise<{ status: number; body: { status: string; degraded: Array<{ condition: string; message: string }> } }> {
  const res = await fetch(`http://${h.adminAddress}/readyz`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as never };
}

async function start(): Promise<{ h: SecureHarness; mesh: string; logs: string[] }> {
  const mesh = demoCopy();
  const logs: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (logs.push(chunk.toString()), cb()) });
  h = await startSecure({ sourceDir: mesh, reloadDebounceMs: 20, log: pino({ level: 'info' }, sink) });
  return { h, mesh, logs };
}

async function connect(h: SecureHarness, pod: string): Promise<ProxyView> {
  const p = new ProxyView(h.plaintextClient().sotw(), sidecar(pod), 'envoy');
  await p.start();
  return p;
}

const edit = (file: string, from: string | RegExp, to: string) => {
  const text = readFileSync(file, 'utf8');
  const next = text.replace(from, to);
  if (next === text) throw new Error(`fixture: ${from} not found in ${file}`);
  writeFileSync(file, next);
};

describe('issue 16 bug 4: a MeshConfig trust-domain edit freezes the control plane', () => {
  it('a trust-domain edit is refused with a condition, the last good MeshConfig stays served, and later edits and new proxies go through', async () => {
    const { h, mesh } = await start();
    const frontend = await connect(h, 'frontend');
    expect(split(frontend)).toEqual([['recommendation-v1', 90], ['recommendation-v2', 10]]);

    edit(path.join(mesh, 'mesh.yaml'), 'trustDomain: trellis.local', 'trustDomain: other.local');
    await h.server.mesh!.flush();
    const meshConfig = h.server.mesh!.statuses.find((s) => s.kind === 'MeshConfig')!;
    expect(meshConfig.problems.map((p) => [p.reason, p.field, p.line])).toEqual([['RequiresRestart', 'spec.trustDomain', 13]]);
    expect(meshConfig.problems[0]!.message).toMatch(/cannot change while Trellis runs.*"trellis.local".*restart Trellis and bootstrap every sidecar again/);
    expect(meshConfig.servedGeneration).toBe(1);
    expect(h.server.mesh!.model!.mesh.trustDomain).toBe('trellis.local');
    const ready = await readyz(h);
    expect(ready.status).toBe(200);
    expect(ready.body.degraded.map((d) => d.condition)).toEqual(['ServedFromLastGood']);
    expect(ready.body.degraded[0]!.message).toMatch(/^MeshConfig trellis: generation 2 is rejected/);

    // The next edit reaches the connected proxy (it was lost before the fix).
    edit(path.join(mesh, 'intents.yaml'), /weight: 90\n([\s\S]*?)weight: 10\n/, 'weight: 50\n$1weight: 50\n');
    await h.server.mesh!.flush();
    await frontend.settle();
    expect(split(frontend)).toEqual([['recommendation-v1', 50], ['recommendation-v2', 50]]);
    // A proxy connecting now gets its config (before the fix: UNAVAILABLE internal error).
    const ratings = await connect(h, 'recommendation-v1');
    expect(ratings.names('lds').length).toBeGreaterThan(0);
  });

  it('a second MeshConfig with an empty spec (default trust domain cluster.local) is refused, not thrown', async () => {
    const { h, mesh } = await start();
    const frontend = await connect(h, 'frontend');
    // "a-empty" sorts before "trellis": it would win and bring cluster.local (which MeshConfig wins is bug 8).
    writeFileSync(path.join(mesh, 'a-empty.yaml'), 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata:\n  name: a-empty\nspec: {}\n');
    await h.server.mesh!.flush();
    const empty = h.server.mesh!.statuses.find((s) => s.kind === 'MeshConfig' && s.name === 'a-empty')!;
    expect(empty.problems.map((p) => p.reason)).toContain('RequiresRestart');
    expect(h.server.mesh!.model!.mesh).toMatchObject({ trustDomain: 'trellis.local', authorization: 'strict', source: 'trellis' });
    edit(path.join(mesh, 'intents.yaml'), /weight: 90\n([\s\S]*?)weight: 10\n/, 'weight: 50\n$1weight: 50\n');
    await h.server.mesh!.flush();
    await frontend.settle();
    expect(split(frontend)).toEqual([['recommendation-v1', 50], ['recommendation-v2', 50]]);
  });

  it('any exception in build or publish is logged at error and shown by /readyz; the last good mesh is served to connected and new proxies; the next change applies', async () => {
    const { h, mesh, logs } = await start();
    // A fault at the publisher's seam: the secret source throws for one identity, as a bug would.
    const real = h.server.security!.secrets;
    const faulty: SecretSource = {
      secretsFor(ids: readonly string[]): VersionedResource[] {
        if (ids.some((id) => id.endsWith('/sa/buggy'))) throw new Error('injected fault for sa/buggy');
        return real.secretsFor(ids);
      },
    };
    h.server.mesh!.publisher.setSecretSource(faulty);
    const frontend = await connect(h, 'frontend');
    const generation = h.server.mesh!.generation;

    // A pod of service account "buggy" and, in the same change, a split edit.
    const pod = readFileSync(path.join(mesh, 'frontend.yaml'), 'utf8').split('---').find((d) => d.includes('kind: Pod'))!;
    writeFileSync(path.join(mesh, 'buggy.yaml'), pod.replaceAll('frontend', 'buggy').replace(/127\.0\.0\.\d+/g, '127.0.0.99'));
    edit(path.join(mesh, 'intents.yaml'), /weight: 90\n([\s\S]*?)weight: 10\n/, 'weight: 50\n$1weight: 50\n');
    await h.server.mesh!.flush();
    expect(h.server.mesh!.generation).toBe(generation);
    expect(logs.filter((l) => JSON.parse(l).level >= 50).map((l) => JSON.parse(l).err)).toEqual(['injected fault for sa/buggy']);
    const failing = await readyz(h);
    expect(failing.status).toBe(200);
    expect(failing.body.status).toBe('degraded');
    expect(failing.body.degraded.map((d) => d.condition)).toEqual(['PipelineFailing']);
    expect(await frontend.silentFor(300)).toBe(true);
    expect(split(frontend)).toEqual([['recommendation-v1', 90], ['recommendation-v2', 10]]);
    // A proxy connecting now gets the last good config.
    const late = await connect(h, 'recommendation-v2');
    expect(late.names('cds').length).toBeGreaterThan(0);

    // The next change (the pod removed) applies, the split edit with it.
    writeFileSync(path.join(mesh, 'buggy.yaml'), '');
    await new Promise((r) => setTimeout(r, 1100)); // a file that became empty settles for 1 s
    await h.server.mesh!.flush();
    expect(h.server.mesh!.generation).toBe(generation + 1);
    await frontend.settle();
    expect(split(frontend)).toEqual([['recommendation-v1', 50], ['recommendation-v2', 50]]);
    expect((await readyz(h)).body).toEqual({ status: 'ready', degraded: [] });
  });
});
