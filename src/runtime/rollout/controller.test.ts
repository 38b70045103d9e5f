/**
 * Issue 12: the rollout controller's effects, with the real model and a
 * scripted metrics reader: the weight it serves is persisted first (a store
 * that cannot save keeps the weight where it was), a restarted controller
 * serves the saved weight before deciding anything, and a Rollout that is
 * deleted is forgotten.
 */
import { describe, expect, it } from 'vitest';
import { rootLogger } from '../../log.ts';
import type { GoldenMetrics } from '../../admin/golden/edges.ts';
import type { GoldenMetricsReader } from '../../admin/golden/reader.ts';
import { buildMesh } from '../../model/build.ts';
import { BASE_MESH, objectsFrom } from '../../model/testing.ts';
import type { MeshModel, RolloutWeight } from '../../model/types.ts';
import { RolloutController } from './controller.ts';
import type { RolloutState } from './decide.ts';
import { MemoryProgressStore, type ProgressStore } from './store.ts';

const INTENTS = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends: [{service: web-v1, weight: 100}, {service: web-v2, weight: 0}]
---
apiVersion: trellis.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: demo}
spec:
  service: web
  stable: web-v1
  canary: web-v2
  trafficRef: {kind: TrafficSplit, name: web}
  steps: [{weight: 10, pause: 1s}, {weight: 50, pause: 1s}]
  analysis: {window: 10s, interval: 1s, minRequests: 5, successRate: 99}
`;

/** The mesh a controller drives: each new progress is built at once, as the pipeline does. */
class FakeMesh {
  model: MeshModel | undefined;
  builds = 0;
  constructor(private readonly withRollout = true) {
    this.setRolloutProgress(new Map());
  }
  setRolloutProgress(progress: ReadonlyMap<string, RolloutWeight>): void {
    this.builds++;
    const files = { 'base.yaml': BASE_MESH, 'intents.yaml': this.withRollout ? INTENTS : INTENTS.split('---')[0]! };
    this.model = buildMesh(objectsFrom(files), { rolloutProgress: progress }).model;
  }
  canaryWeight(): number | undefined {
    return this.model!.splits.get('demo/web')!.backends.find((b) => b.service === 'demo/web-v2')!.weight;
  }
}

/** Golden metrics saying the canary answered `requests`, `failures` of them 5xx, over a window since the start. */
function reader(script: { requests: number; failures: number }): GoldenMetricsReader {
  return {
    source: 'prometheus',
    async read(q): Promise<GoldenMetrics> {
      const r = script.requests;
      return {
        status: 'ok', source: 'prometheus', at: '', windowSeconds: q.windowSeconds ?? 60,
        edges: [{
          source: { namespace: 'demo', workload: 'client' }, destination: { namespace: 'demo', service: 'web-v2', port: 8080, identities: [] },
          requests: r, successes: r - script.failures, failures: script.failures, successRate: r ? (r - script.failures) / r : null, rps: null,
          latencyMs: { p50: 1, p90: 1, p95: 1, p99: 1 }, tcp: { connections: 0, bytesSent: 0, bytesReceived: 0 },
        }],
      };
    },
  };
}

function controller(mesh: FakeMesh, store: ProgressStore, clock: { now: number }): RolloutController {
  return new RolloutController({ mesh, store, log: rootLogger, now: () => clock.now });
}

describe('issue 12: the rollout controller', () => {
  it('steps, serving each weight only after it is saved; a restarted controller serves the saved weight before deciding', async () => {
    const mesh = new FakeMesh();
    const store = new MemoryProgressStore();
    const clock = { now: 1_000_000 };
    const c = controller(mesh, store, clock);
    await c.load();
    c.start(reader({ requests: 100, failures: 0 }));
    await c.stop();
    await c.tick();
    expect(mesh.canaryWeight()).toBe(10);
    expect((await store.load()).get('demo/web')).toMatchObject({ canaryWeight: 10, phase: 'Progressing' });
    clock.now += 2_000;
    await c.tick();
    expect(mesh.canaryWeight()).toBe(50);

    const restarted = new FakeMesh();
    expect(restarted.canaryWeight()).toBe(0);
    await controller(restarted, store, clock).load();
    expect(restarted.canaryWeight()).toBe(50);
  });

  it('a store that cannot save: the weight stays where it was, and the next tick decides again', async () => {
    const mesh = new FakeMesh();
    let failing = true;
    const inner = new MemoryProgressStore();
    const store: ProgressStore = { where: 'test', load: () => inner.load(), save: async (s) => { if (failing) throw new Error('disk full'); await inner.save(s); } };
    const clock = { now: 1_000_000 };
    const c = controller(mesh, store, clock);
    await c.load();
    c.start(reader({ requests: 100, failures: 0 }));
    await c.stop();
    await c.tick();
    expect(mesh.canaryWeight()).toBe(0);
    expect(c.state('demo/web')).toBeUndefined();
    failing = false;
    await c.tick();
    expect(mesh.canaryWeight()).toBe(10);
  });

  it('rolls back at once on a failing gate, and forgets a Rollout that is deleted', async () => {
    const mesh = new FakeMesh();
    const store = new MemoryProgressStore();
    const clock = { now: 1_000_000 };
    const script = { requests: 100, failures: 0 };
    const c = controller(mesh, store, clock);
    await c.load();
    c.start(reader(script));
    await c.stop();
    await c.tick();
    clock.now += 1_500;
    script.failures = 10;
    await c.tick();
    expect(mesh.canaryWeight()).toBe(0);
    expect(c.state('demo/web')).toMatchObject({ phase: 'RolledBack', canaryWeight: 0 } satisfies Partial<RolloutState>);
    expect(c.answer().rollouts[0]).toMatchObject({ phase: 'RolledBack', canaryWeight: 0, history: [{ event: 'Started' }, { event: 'RolledBack' }] });

    const gone = new FakeMesh(false);
    const c2 = new RolloutController({ mesh: { get model() { return gone.model; }, setRolloutProgress: (p) => gone.setRolloutProgress(p) }, store, log: rootLogger, now: () => clock.now });
    await c2.load();
    c2.start(reader(script));
    await c2.stop();
    await c2.tick();
    expect((await store.load()).size).toBe(0);
  });
});
