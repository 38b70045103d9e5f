/**
 * Issue 12, progressive delivery in the model: a Rollout drives the weights
 * of a TrafficSplit or an HTTPRoute rule from the controller's progress (a
 * build input), and bad input — a missing service or backend, a gate that can
 * never be met, two Rollouts for one service, a bad duration — is a problem
 * at its file, line and field, never a crash.
 */
import { describe, expect, it } from 'vitest';
import { buildMesh } from '../build.ts';
import { BASE_MESH, brief, buildWith, objectsFrom, problemsOf } from '../testing.ts';
import { rolloutRevision } from './rollouts.ts';

const SPLIT = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends: [{service: web-v1, weight: 100}, {service: web-v2, weight: 0}]
`;

const ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 8080}]
  rules:
  - name: main
    backendRefs: [{name: web-v1, port: 8080, weight: 1}, {name: web-v2, port: 8080, weight: 1}]
`;

const rollout = (name: string, spec: string) => `---
apiVersion: trellis.io/v1alpha1
kind: Rollout
metadata: {name: ${name}, namespace: demo}
spec:
${spec}`;

const GOOD = `  service: web
  stable: web-v1
  canary: web-v2
  trafficRef: {kind: TrafficSplit, name: web}
  steps: [{weight: 10, pause: 5s}, {weight: 50, pause: 5s}]
  analysis: {window: 10s, interval: 1s, minRequests: 5, successRate: 99, latencyP99: 500ms}
`;

const weights = (r: ReturnType<typeof buildWith>) => r.model.splits.get('demo/web')!.backends.map((b) => [b.service, b.weight]);

describe('issue 12: Rollout drives the weights it names', () => {
  it('with no progress recorded the canary gets 0 and the stable 100, whatever the split says', () => {
    const r = buildWith(SPLIT.replace('weight: 100}, {service: web-v2, weight: 0', 'weight: 50}, {service: web-v2, weight: 50') + rollout('web', GOOD));
    expect(problemsOf(r).filter((p) => p.severity === 'error')).toEqual([]);
    expect(weights(r)).toEqual([['demo/web-v1', 100], ['demo/web-v2', 0]]);
    expect(r.model.rollouts.get('demo/web')).toMatchObject({ canaryWeight: 0, stable: 'demo/web-v1', canary: 'demo/web-v2', steps: [{ weight: 10, pauseMs: 5000 }, { weight: 50, pauseMs: 5000 }] });
  });

  it('the recorded weight of this revision is served; one recorded for another revision is not', () => {
    const objects = objectsFrom({ 'base.yaml': BASE_MESH, 'intents.yaml': SPLIT + rollout('web', GOOD) });
    const revision = buildMesh(objects).model.rollouts.get('demo/web')!.revision;
    const at = (rev: string) => buildMesh(objects, { rolloutProgress: new Map([['demo/web', { revision: rev, canaryWeight: 30 }]]) });
    expect(weights(at(revision))).toEqual([['demo/web-v1', 70], ['demo/web-v2', 30]]);
    expect(weights(at('other'))).toEqual([['demo/web-v1', 100], ['demo/web-v2', 0]]);
  });

  it('an HTTPRoute rule: its two backends get the weights, the route keeps the rest', () => {
    const objects = objectsFrom({ 'base.yaml': BASE_MESH, 'intents.yaml': ROUTE + rollout('web', GOOD.replace('{kind: TrafficSplit, name: web}', '{kind: HTTPRoute, name: web, rule: main}')) });
    const first = buildMesh(objects);
    expect(problemsOf(first).filter((p) => p.severity === 'error')).toEqual([]);
    const rev = first.model.rollouts.get('demo/web')!.revision;
    const route = (canaryWeight: number) => buildMesh(objects, { rolloutProgress: new Map([['demo/web', { revision: rev, canaryWeight }]]) }).model.services.get('demo/web')!.routes[0]!;
    // A zero weight stays a backend of the resolved rule, as in a TrafficSplit (its cluster keeps the parent's policy).
    expect(route(0).rules[0]!.backends.map((b) => [b.name, b.weight])).toEqual([['web-v1', 100], ['web-v2', 0]]);
    expect(route(25).rules[0]!.backends.map((b) => [b.name, b.weight])).toEqual([['web-v1', 75], ['web-v2', 25]]);
  });

  it('the revision is a digest of the spec: an edited Rollout starts over', () => {
    const a = buildWith(SPLIT + rollout('web', GOOD)).model.rollouts.get('demo/web')!;
    expect(a.revision).toBe(rolloutRevision({ service: 'web', stable: 'web-v1', canary: 'web-v2', target: { kind: 'TrafficSplit', name: 'web' }, steps: a.steps.map((s) => ({ ...s })), analysis: { ...a.analysis } }));
    const b = buildWith(SPLIT + rollout('web', GOOD.replace('pause: 5s}]', 'pause: 6s}]'))).model.rollouts.get('demo/web')!;
    expect(b.revision).not.toBe(a.revision);
  });
});

describe('issue 12: Rollout bad input is a problem at its field, the rest is served', () => {
  it.each([
    { name: 'a missing root service', spec: GOOD.replace('service: web', 'service: wbe'), field: 'spec.service', reason: 'RefNotFound', line: 12 },
    { name: 'a missing canary service', spec: GOOD.replace('canary: web-v2', 'canary: web-v3'), field: 'spec.canary', reason: 'RefNotFound', line: 14 },
    { name: 'a canary that is no backend of the split', spec: GOOD.replace('canary: web-v2', 'canary: api'), field: 'spec.canary', reason: 'RefNotFound', line: 14 },
    { name: 'a split that does not exist', spec: GOOD.replace('name: web}', 'name: nope}'), field: 'spec.trafficRef.name', reason: 'RefNotFound', line: 15 },
    { name: 'a success rate over 100 %', spec: GOOD.replace('successRate: 99', 'successRate: 101'), field: 'spec.analysis.successRate', reason: 'OutOfRange', line: 17 },
    { name: 'a success rate written "99%"', spec: GOOD.replace('successRate: 99', 'successRate: "99%"'), field: 'spec.analysis.successRate', reason: 'InvalidType', line: 17 },
    { name: 'a bad pause', spec: GOOD.replace('pause: 5s}, {', 'pause: 5 seconds}, {'), field: 'spec.steps[0].pause', reason: 'InvalidDuration', line: 16 },
    { name: 'a window with no unit', spec: GOOD.replace('window: 10s', 'window: 10'), field: 'spec.analysis.window', reason: 'InvalidDuration', line: 17 },
    { name: 'no gate at all', spec: GOOD.replace(', successRate: 99, latencyP99: 500ms', ''), field: 'spec.analysis', reason: 'Required', line: 17 },
    { name: 'weights that do not grow', spec: GOOD.replace('weight: 50', 'weight: 10'), field: 'spec.steps[1].weight', reason: 'InvalidValue', line: 16 },
    { name: 'a step over 100 %', spec: GOOD.replace('weight: 50', 'weight: 150'), field: 'spec.steps[1].weight', reason: 'OutOfRange', line: 16 },
    { name: 'an interval longer than the window', spec: GOOD.replace('interval: 1s', 'interval: 20s'), field: 'spec.analysis.interval', reason: 'OutOfRange', line: 17 },
  ])('$name', ({ spec, field, reason, line }) => {
    const r = buildWith(SPLIT + rollout('web', spec));
    const errors = problemsOf(r).filter((p) => p.severity === 'error').map(brief);
    expect(errors).toContainEqual(expect.objectContaining({ kind: 'Rollout', name: 'web', field, reason, file: 'intents.yaml', line }));
    // Not accepted: the split serves its own weights.
    expect(r.model.rollouts.size).toBe(0);
    expect(weights(r)).toEqual([['demo/web-v1', 100], ['demo/web-v2', 0]]);
  });

  it('two Rollouts for one service: the older keeps it, the other is a Conflict naming it', () => {
    const r = buildWith(SPLIT + rollout('a-web', GOOD) + rollout('b-web', GOOD));
    expect(problemsOf(r).filter((p) => p.severity === 'error').map(brief)).toEqual([
      expect.objectContaining({ kind: 'Rollout', name: 'b-web', field: 'spec.service', reason: 'Conflict', line: 23 }),
    ]);
    expect([...r.model.rollouts.keys()]).toEqual(['demo/a-web']);
  });

  it('a split with a third backend that has weight: the steps could not be percentages', () => {
    const r = buildWith(SPLIT.replace('weight: 0}]', 'weight: 0}, {service: api, weight: 5}]') + rollout('web', GOOD));
    expect(problemsOf(r).filter((p) => p.kind === 'Rollout').map(brief)).toContainEqual(expect.objectContaining({ field: 'spec.trafficRef', reason: 'InvalidValue' }));
  });
});
