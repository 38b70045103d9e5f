/**
 * Issue 13, bad input to the injection webhook: what it answers to bodies
 * that are not AdmissionReviews, to requests it must never block (another
 * namespace, another resource, another operation), and the JSON patch it
 * builds against the pod as the API server sent it (applied here with an
 * RFC 6902 `add`, to check that the result is the pod `trellis inject` makes).
 */
import { describe, expect, it } from 'vitest';
import { admit, podPatch, type AdmissionContext, type JsonPatchOp } from './admission.ts';
import { DEFAULT_INJECT_OPTIONS, NAMES, type Json } from './options.ts';
import { planPodInjection } from './pod.ts';

const ctx: AdmissionContext = {
  options: { ...DEFAULT_INJECT_OPTIONS, caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
  inMesh: (ns) => ns === 'shop',
  services: () => [],
  meshNamespaces: 'Trellis serves the namespaces labelled trellis.io/mesh=enabled',
};
const POD = { metadata: { generateName: 'web-', labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'a' }] } };
const review = (request: Json) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u1', operation: 'CREATE', namespace: 'shop', resource: { group: '', version: 'v1', resource: 'pods' }, object: POD, ...request } });

describe('issue 13: a malformed AdmissionReview is answered 400 with what is wrong, never a stack trace', () => {
  it.each([
    { body: '{"apiVersion":', says: 'the body is not JSON' },
    { body: '[1]', says: 'the body is not a JSON object' },
    { body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u' } }), says: 'expected AdmissionReview admission.k8s.io/v1 (admissionReviewVersions: [v1]' },
    { body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), says: 'request: missing' },
    { body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } }), says: 'request.uid: missing' },
  ])('$says', ({ body, says }) => {
    const a = admit(body, ctx);
    expect(a.httpStatus).toBe(400);
    expect(a.outcome).toBe('malformed');
    expect(a.body.message).toContain(says);
    expect(a.body.message).not.toMatch(/\n\s+at /);
  });
});

describe('issue 13: requests the webhook never blocks, answered allowed and unchanged', () => {
  it.each([
    { why: 'a pod in a namespace outside the mesh', req: { namespace: 'elsewhere' }, warns: 'namespace "elsewhere" is not in the mesh (Trellis serves the namespaces labelled trellis.io/mesh=enabled)' },
    { why: 'another resource than pods', req: { resource: { group: 'apps', version: 'v1', resource: 'deployments' } }, warns: 'Trellis injects pods only; apps/deployments is allowed unchanged' },
    { why: 'a pod subresource', req: { subResource: 'ephemeralcontainers' }, warns: 'pods/ephemeralcontainers' },
    { why: 'an UPDATE', req: { operation: 'UPDATE' }, warns: undefined },
    { why: 'an opted-out pod', req: { object: { ...POD, metadata: { ...POD.metadata, annotations: { 'trellis.io/inject': 'disabled' } } } }, warns: undefined },
  ])('$why', ({ req, warns }) => {
    const a = admit(review(req), ctx);
    expect(a.httpStatus).toBe(200);
    expect(a.body.response).toMatchObject({ uid: 'u1', allowed: true });
    expect(a.body.response.patch).toBeUndefined();
    if (warns) expect(a.body.response.warnings[0]).toContain(warns);
    else expect(a.body.response.warnings).toBeUndefined();
  });

  it('before Trellis has listed the cluster, a pod sent for the mesh is refused (it would start without the sidecar), other resources are not', () => {
    const early = { ...ctx, notListed: 'Trellis has not yet listed the namespaces and Services of the cluster' };
    expect(admit(review({}), early).body.response).toMatchObject({ allowed: false, status: { message: 'trellis: Pod shop/web-*: Trellis has not yet listed the namespaces and Services of the cluster; retry in a moment' } });
    expect(admit(review({ operation: 'UPDATE' }), early).body.response.allowed).toBe(true);
  });

  it('a pod that names another namespace than the request is refused, with both', () => {
    const a = admit(review({ object: { ...POD, metadata: { ...POD.metadata, namespace: 'other' } } }), ctx);
    expect(a.body.response).toMatchObject({ allowed: false, status: { code: 400 } });
    expect(a.body.response.status.message).toBe('trellis: Pod shop/web-*: the pod names namespace "other" but is created in "shop"');
  });
});

/** RFC 6902 `add`, enough to apply the webhook's patches. */
function applyPatch(doc: Json, ops: JsonPatchOp[]): Json {
  const out = structuredClone(doc);
  for (const op of ops) {
    const keys = op.path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    const parent = keys.reduce<any>((v, k) => v[k], out);
    if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
    else parent[last] = op.value;
  }
  return out;
}

describe('issue 13: the JSON patch gives the pod exactly what trellis inject gives it', () => {
  it.each([
    { why: 'a bare pod', pod: POD },
    { why: 'annotations, init containers and volumes of its own', pod: { metadata: { name: 'web', annotations: { a: 'b' } }, spec: { initContainers: [{ name: 'migrate', image: 'm' }], containers: [{ name: 'app', image: 'a' }], volumes: [{ name: 'data', emptyDir: {} }] } } },
    { why: 'no metadata at all', pod: { spec: { containers: [{ name: 'app', image: 'a' }] } } },
  ])('$why', ({ pod }) => {
    for (const nativeSidecar of [true, false]) {
      const plan = planPodInjection({ workload: 'Pod shop/web', namespace: 'shop', meta: (pod as Json).metadata ?? {}, spec: pod.spec, services: [], fallbackName: 'web' }, { ...ctx.options, nativeSidecar });
      if (plan.action !== 'inject') throw new Error(plan.reason);
      const out = applyPatch(pod, podPatch(pod, plan));
      const own = pod.spec as Json;
      expect(out.spec.initContainers).toEqual([...plan.initContainers, ...(own.initContainers ?? [])]);
      expect(out.spec.containers).toEqual([...own.containers, ...plan.containers]);
      expect(out.spec.volumes).toEqual([...(own.volumes ?? []), ...plan.volumes]);
      expect(out.metadata.annotations).toEqual({ ...((pod as Json).metadata?.annotations ?? {}), ...plan.annotations });
      expect(out.metadata.annotations['trellis.io/injected']).toBe('true');
      expect(out.spec.initContainers.map((c: Json) => c.name).slice(0, 2)).toEqual([NAMES.iptables, NAMES.bootstrap]);
    }
  });
});
