/**
 * Incremental adoption in the model (issue 11): the mTLS mode of each
 * workload (MTLSPolicy on a Pod, a Service, a namespace; MeshConfig; default
 * Strict), which endpoints have no sidecar, and bad input reported at its
 * field with the last good version kept by the caller.
 */
import { describe, expect, it } from 'vitest';
import { brief, buildWith, problemsOf } from '../testing.ts';

const policy = (name: string, spec: string) => `---
apiVersion: trellis.io/v1alpha1
kind: MTLSPolicy
metadata: {name: ${name}, namespace: demo}
spec: ${spec}
`;

const modes = (intents: string) => {
  const { model } = buildWith(intents);
  return Object.fromEntries([...model.workloads.values()].map((w) => [w.name, w.mtls]));
};

describe('issue 11: mTLS mode per mesh, namespace, service and pod', () => {
  it.each([
    { name: 'default: Strict everywhere', intents: '', want: { client: 'strict', 'web-v1': 'strict', 'web-v2': 'strict' } },
    {
      name: 'MeshConfig spec.mtls.mode: Permissive',
      intents: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {mtls: {mode: Permissive}}\n',
      want: { client: 'permissive', 'web-v1': 'permissive', 'web-v2': 'permissive' },
    },
    { name: 'a namespace-wide policy', intents: policy('ns', '{mode: Permissive}'), want: { client: 'permissive', 'web-v1': 'permissive', 'web-v2': 'permissive' } },
    { name: 'one Pod', intents: policy('one', '{mode: Permissive, targetRef: {kind: Pod, name: web-v2}}'), want: { client: 'strict', 'web-v1': 'strict', 'web-v2': 'permissive' } },
    {
      name: 'a Pod policy over its namespace’s',
      intents: policy('ns', '{mode: Permissive}') + policy('one', '{mode: Strict, targetRef: {kind: Pod, name: client}}'),
      want: { client: 'strict', 'web-v1': 'permissive', 'web-v2': 'permissive' },
    },
    {
      name: 'a Service’s pods; Strict when two Services of one pod disagree',
      intents: policy('web', '{mode: Permissive, targetRef: {kind: Service, name: web}}') + policy('v2', '{mode: Strict, targetRef: {kind: Service, name: web-v2}}'),
      want: { client: 'strict', 'web-v1': 'permissive', 'web-v2': 'strict' },
    },
  ])('$name', ({ intents, want }) => {
    expect(modes(intents)).toEqual(want);
  });

  it('endpoints without a sidecar: a pod opted out of injection; an unknown address only where its Service says so', () => {
    const { model } = buildWith('', {
      'legacy.yaml': `apiVersion: v1
kind: Pod
metadata: {name: legacy, namespace: demo, labels: {app: web}, annotations: {trellis.io/inject: "false"}}
spec:
  serviceAccountName: legacy
  containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: 127.0.0.9}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-legacy, namespace: demo, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}, {name: grpc, port: 9090}]
endpoints: [{addresses: [127.0.0.9]}]
${['vm', 'vm-unsure'].map((name) => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo${name === 'vm' ? ', annotations: {trellis.io/unmeshed-endpoints: plaintext}' : ''}}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: demo, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints: [{addresses: [10.9.9.9]}]
`).join('')}`,
    });
    const web = model.services.get('demo/web')!;
    expect(model.workloads.get('demo/legacy')).toMatchObject({ sidecar: false });
    expect(web.ports.map((p) => p.plaintext)).toEqual(['some', 'some']);
    expect(web.ports[0]!.endpoints.map((e) => [e.address, e.plaintext ?? false])).toEqual([['127.0.0.3', false], ['127.0.0.4', false], ['127.0.0.9', true]]);
    // Callers check the server certificate against the identities that present one.
    expect(web.identities).toEqual(['spiffe://cluster.local/ns/demo/sa/web']);
    expect(model.services.get('demo/vm')!.ports[0]!.plaintext).toBe('all');
    // Not said: an address Trellis knows nothing of keeps mTLS (fail closed).
    expect(model.services.get('demo/vm-unsure')!.ports[0]!.plaintext).toBeUndefined();
  });
});

describe('issue 11: bad input, at its field', () => {
  it.each([
    { name: 'an unknown mode', intents: policy('x', '{mode: Lenient}'), field: 'spec.mode', reason: 'InvalidValue' },
    { name: 'a mode missing', intents: policy('x', '{targetRef: {kind: Pod, name: client}}'), field: 'spec.mode', reason: 'Required' },
    { name: 'a workload that does not exist', intents: policy('x', '{mode: Permissive, targetRef: {kind: Pod, name: web-v9}}'), field: 'spec.targetRef.name', reason: 'RefNotFound' },
    { name: 'a Service that does not exist', intents: policy('x', '{mode: Strict, targetRef: {kind: Service, name: nope}}'), field: 'spec.targetRef.name', reason: 'RefNotFound' },
    { name: 'a target kind it cannot take', intents: policy('x', '{mode: Strict, targetRef: {kind: Deployment, name: web}}'), field: 'spec.targetRef.kind', reason: 'InvalidValue' },
    { name: 'two policies for one pod', intents: policy('a', '{mode: Strict, targetRef: {kind: Pod, name: client}}') + policy('b', '{mode: Permissive, targetRef: {kind: Pod, name: client}}'), field: 'spec.targetRef', reason: 'Conflict' },
    { name: 'an unknown MeshConfig mode', intents: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {mtls: {mode: strict}}\n', field: 'spec.mtls.mode', reason: 'InvalidValue' },
  ])('$name: $field $reason', ({ intents, field, reason }) => {
    const errors = problemsOf(buildWith(intents)).filter((p) => p.severity === 'error').map(brief);
    expect(errors).toEqual([expect.objectContaining({ field, reason, file: 'intents.yaml' })]);
    expect(errors[0]!.line).toBeGreaterThan(0);
  });

  it('a Service annotation trellis.io/unmeshed-endpoints with an unknown value', () => {
    const svc = `apiVersion: v1
kind: Service
metadata: {name: vm, namespace: demo, annotations: {trellis.io/unmeshed-endpoints: plain}}
spec:
  ports: [{name: http, port: 80}]
`;
    const errors = problemsOf(buildWith(svc)).filter((p) => p.severity === 'error').map(brief);
    expect(errors).toEqual([expect.objectContaining({ kind: 'Service', name: 'vm', field: 'metadata.annotations["trellis.io/unmeshed-endpoints"]', reason: 'InvalidValue', line: 3 })]);
  });
});
