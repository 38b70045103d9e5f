/**
 * issue 14: a build after another, with the objects of unchanged documents
 * handed over again (the file source's document cache), reuses decoded specs
 * (kinds/decode-cache.ts), resolved services (resolve/services.ts), statuses
 * (status.ts) and the previous model's entities (share.ts). Its model and
 * statuses must be what a fresh build of freshly parsed files gives, with
 * problems at their lines in the edited files.
 */
import { describe, expect, it } from 'vitest';
import { DocumentCache } from '../sources/file/documents.ts';
import { buildMeshKeepingLastGood } from './last-good.ts';
import { BASE_MESH, objectsFrom } from './testing.ts';
import type { BuildResult } from './build.ts';

const POLICY = (name: string, target: string, max: number | string) => `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: ${name}, namespace: demo}
spec:
  targetRef: {kind: Service, name: ${target}}
  circuitBreaker: {maxConnections: ${max}}
`;
const SPLIT = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: demo}
spec:
  service: web
  backends: [{service: web-v1, weight: 80}, {service: web-v2, weight: 20}]
`;
const files = (intents: string, base = BASE_MESH) => ({ 'base.yaml': base, 'intents.yaml': intents });

/** Reads files as the watcher does, one document cache per file, and builds as the pipeline does. */
class Reader {
  private readonly caches = new Map<string, DocumentCache>();
  private last: BuildResult | undefined;

  build(f: Record<string, string>): BuildResult {
    const objects = Object.entries(f).flatMap(([file, text]) => {
      let cache = this.caches.get(file);
      if (!cache) this.caches.set(file, (cache = new DocumentCache(file)));
      return cache.parse(text).objects;
    });
    this.last = buildMeshKeepingLastGood(objects, this.last?.accepted, { ...(this.last ? { previousModel: this.last.model } : {}) });
    return this.last;
  }
}

const fresh = (f: Record<string, string>, before: Record<string, string>) => {
  const previous = buildMeshKeepingLastGood(objectsFrom(before), undefined);
  return buildMeshKeepingLastGood(objectsFrom(f), previous.accepted);
};

const cases: { name: string; before: Record<string, string>; after: Record<string, string> }[] = [
  { name: 'a policy edited among other documents', before: files(`${SPLIT}---\n${POLICY('api', 'api', 100)}`), after: files(`${SPLIT}---\n${POLICY('api', 'api', 200)}`) },
  { name: 'a document added above the others (their lines move)', before: files(`${SPLIT}---\n${POLICY('api', 'api', 100)}`), after: files(`${POLICY('web', 'web', 5)}---\n${SPLIT}---\n${POLICY('api', 'api', 100)}`) },
  { name: 'a pod of a service moves to another IP (its endpoints found by IP)', before: files(SPLIT), after: files(SPLIT, BASE_MESH.replace('podIP: 127.0.0.4', 'podIP: 127.0.0.14').replace('addresses: [127.0.0.4]', 'addresses: [127.0.0.14]')) },
  { name: 'a pod’s service account changes (the identity its endpoints carry)', before: files(SPLIT), after: files(SPLIT, BASE_MESH.replace('serviceAccountName: web\n  containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]\nstatus: {podIP: 127.0.0.3}', 'serviceAccountName: client\n  containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]\nstatus: {podIP: 127.0.0.3}')) },
  { name: 'an invalid edit below a grown document: its problem at its new line, the last good version served', before: files(`${SPLIT}---\n${POLICY('api', 'api', 100)}`), after: files(`${SPLIT.replace('spec:\n', 'spec:\n  # grown\n  # by two lines\n')}---\n${POLICY('api', 'api', '"lots"')}`) },
];

describe('issue 14: a build after another, through the caches, equals a fresh build', () => {
  it.each(cases)('$name', ({ before, after }) => {
    const reader = new Reader();
    reader.build(before);
    const incremental = reader.build(after);
    const expected = fresh(after, before);
    expect(incremental.model).toEqual(expected.model);
    expect(incremental.statuses).toEqual(expected.statuses);
    expect([...incremental.accepted.keys()]).toEqual([...expected.accepted.keys()]);
  });

  it('the invalid edit is reported at the line of the whole file', () => {
    const reader = new Reader();
    const { before, after } = cases.at(-1)!;
    reader.build(before);
    const problems = reader.build(after).statuses.flatMap((s) => s.problems).filter((p) => p.severity === 'error');
    expect(problems).toMatchObject([{ kind: 'TrafficPolicy', name: 'api', file: 'intents.yaml', line: 15, field: 'spec.circuitBreaker.maxConnections' }]);
  });
});
