/** What the translator gets: the resolved model for a small mesh. */
import { describe, expect, it } from 'vitest';
import { buildMesh } from './build.ts';
import { reachableServices } from './queries.ts';
import { BASE_MESH, buildWith, objectsFrom, problemsOf } from './testing.ts';

const STRICT = 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  trustDomain: example.org\n  authorization: {mode: Strict}\n---\n';
const POLICIES = `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web, namespace: demo}
spec:
  targetRef: {kind: Service, name: web}
  timeouts: {request: 5s}
  circuitBreaker: {maxRequests: 100}
---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web-http, namespace: demo}
spec:
  targetRef: {kind: Service, name: web, port: http}
  timeouts: {request: 2s, perTry: 500ms}
  retries: {attempts: 3, retriableStatusCodes: [503], methods: ["*"]}
  loadBalancer:
    policy: RingHash
    hashOn: {cookie: {name: session, ttl: 1h}}
`;

describe('buildMesh', () => {
  it('resolves endpoints per service port with their conditions, zone and workload', () => {
    const { model } = buildWith('');
    const web = model.services.get('demo/web')!;
    expect(web.ports.map((p) => [p.name, p.port, p.protocol])).toEqual([['http', 8080, 'http'], ['grpc', 9090, 'grpc']]);
    expect(web.ports[0]!.endpoints).toEqual([
      { address: '127.0.0.3', port: 8080, ready: true, serving: true, terminating: false, zone: 'z1', workload: 'demo/web-v1', identity: 'spiffe://cluster.local/ns/demo/sa/web' },
      // no targetRef: found by pod IP
      { address: '127.0.0.4', port: 8080, ready: false, serving: true, terminating: true, zone: 'z2', workload: 'demo/web-v2', identity: 'spiffe://cluster.local/ns/demo/sa/web' },
    ]);
    expect(web.identities).toEqual(['spiffe://cluster.local/ns/demo/sa/web']);
    expect(model.services.get('demo/web-v1')!.ports[0]!.endpoints).toEqual([]);
  });

  it('builds workloads with SPIFFE IDs in the configured trust domain', () => {
    const { model } = buildWith(STRICT);
    expect(model.mesh).toMatchObject({ trustDomain: 'example.org', authorization: 'strict', source: 'mesh' });
    expect(model.workloads.get('demo/web-v1')).toMatchObject({
      serviceAccount: 'web',
      identity: 'spiffe://example.org/ns/demo/sa/web',
      ip: '127.0.0.3',
      ready: true,
      zone: 'z1',
      services: ['demo/web', 'demo/web-v1'],
      // The named targetPort `http` resolved to the pod's container port.
      servedPorts: [
        { service: 'demo/web', name: 'http', port: 8080, targetPort: 8080, protocol: 'http' },
        { service: 'demo/web', name: 'grpc', port: 9090, targetPort: 9090, protocol: 'grpc' },
        { service: 'demo/web-v1', name: 'http', port: 8080, targetPort: 8080, protocol: 'http' },
        { service: 'demo/web-v1', name: 'grpc', port: 9090, targetPort: 9090, protocol: 'grpc' },
      ],
    });
    expect(model.identities.get('spiffe://example.org/ns/demo/sa/web')).toMatchObject({
      declared: true,
      workloads: ['demo/web-v1', 'demo/web-v2'],
      services: ['demo/web'],
    });
  });

  it('lays a port-specific policy over the service-wide one, section by section', () => {
    const result = buildWith(POLICIES);
    expect(problemsOf(result)).toEqual([]);
    const [http, grpc] = result.model.services.get('demo/web')!.ports;
    expect(http!.policy).toEqual({
      from: ['demo/web', 'demo/web-http'],
      routes: [],
      timeouts: { requestMs: 2000, perTryMs: 500 },
      retries: { attempts: 3, retryOn: ['5xx', 'reset', 'connect-failure', 'refused-stream', 'unavailable', 'retriable-status-codes'], retriableStatusCodes: [503], methods: [] },
      circuitBreaker: { maxRequests: 100 },
      loadBalancer: { policy: 'RingHash', hashOn: { cookie: { name: 'session', ttlMs: 3_600_000 } } },
    });
    expect(grpc!.policy).toEqual({ from: ['demo/web'], routes: [], timeouts: { requestMs: 5000 }, circuitBreaker: { maxRequests: 100 } });
  });

  describe('a port\'s cluster follows its own policy, else its TrafficSplit root\'s, else its producer route parent\'s', () => {
    const split = (name: string, root: string, backend: string) =>
      `---\napiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: ${name}, namespace: demo}\nspec:\n  service: ${root}\n  backends: [{service: ${backend}, weight: 1}]\n`;
    const route = (name: string, parent: string, backend: string, ns = 'demo', weight = 1) =>
      `---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  parentRefs: [{group: "", kind: Service, name: ${parent}, namespace: demo, port: 8080}]\n  rules: [{backendRefs: [{name: ${backend}, namespace: demo, port: 8080, weight: ${weight}}]}]\n`;
    const policy = (service: string, max: number, port = '') =>
      `---\napiVersion: trellis.io/v1alpha1\nkind: TrafficPolicy\nmetadata: {name: ${service}${port && `-${port}`}, namespace: demo}\nspec:\n  targetRef: {kind: Service, name: ${service}${port && `, port: ${port}`}}\n  circuitBreaker: {maxConnections: ${max}}\n`;
    const cases: { name: string; intents: string; want: Record<string, [own: string | undefined, cluster: string | undefined]> }[] = [
      {
        name: 'a backend inherits the root port\'s policy; the root keeps its own',
        intents: split('web', 'web', 'web-v1') + policy('web', 100),
        want: { 'demo/web': ['demo/web', 'demo/web'], 'demo/web-v1': [undefined, 'demo/web'] },
      },
      {
        name: 'a backend\'s own policy wins over the inherited one',
        intents: split('web', 'web', 'web-v1') + policy('web', 100) + policy('web-v1', 7),
        want: { 'demo/web-v1': ['demo/web-v1', 'demo/web-v1'] },
      },
      {
        name: 'only the root ports that have a policy pass it on',
        intents: split('web', 'web', 'web-v1') + policy('web', 100, 'http'),
        want: { 'demo/web-v1': [undefined, 'demo/web-http'], 'demo/web-v1:9090': [undefined, undefined] },
      },
      {
        name: 'a backend of two roots follows the first TrafficSplit in key order',
        intents: split('b-web', 'web', 'web-v1') + split('a-api', 'api', 'web-v1') + policy('web', 100) + policy('api', 5),
        want: { 'demo/web-v1': [undefined, 'demo/api'] },
      },
      {
        name: 'inheritance is one level: a root\'s inherited policy is not passed on',
        intents: split('web', 'web', 'web-v1') + split('web-v1', 'web-v1', 'web-v2') + policy('web', 100),
        want: { 'demo/web-v1': [undefined, 'demo/web'], 'demo/web-v2': [undefined, undefined] },
      },
      {
        name: 'issue 10: a producer HTTPRoute\'s backend inherits the policy of the Service port the route is attached to',
        intents: route('web', 'web', 'web-v1') + policy('web', 100),
        want: { 'demo/web': ['demo/web', 'demo/web'], 'demo/web-v1': [undefined, 'demo/web'], 'demo/web-v1:9090': [undefined, undefined] },
      },
      {
        name: 'a route backend at weight 0 (a rollout\'s canary before its first step) inherits as a TrafficSplit backend at weight 0 does',
        intents: route('web', 'web', 'web-v1', 'demo', 0) + split('api', 'api', 'web-v2').replace('{service: web-v2, weight: 1}', '{service: web-v2, weight: 0}, {service: web, weight: 1}') + policy('web', 100) + policy('api', 5),
        want: { 'demo/web-v1': [undefined, 'demo/web'], 'demo/web-v2': [undefined, 'demo/api'] },
      },
      {
        name: 'issue 10: a TrafficSplit root passes its policy on before a route parent',
        intents: route('web', 'web', 'web-v1') + split('api', 'api', 'web-v1') + policy('web', 100) + policy('api', 5),
        want: { 'demo/web-v1': [undefined, 'demo/api'] },
      },
      {
        name: 'issue 10: a consumer route (another namespace) passes nothing on: the cluster is every caller\'s',
        intents: route('web', 'web', 'web-v1', 'shop') + policy('web', 100),
        want: { 'demo/web-v1': [undefined, undefined] },
      },
    ];
    it.each(cases)('$name', ({ intents, want }) => {
      const result = buildWith(intents);
      expect(problemsOf(result).filter((p) => p.severity === 'error')).toEqual([]);
      for (const [at, [own, cluster]] of Object.entries(want)) {
        const [key, port = '8080'] = at.split(':');
        const p = result.model.services.get(key!)!.ports.find((x) => x.port === Number(port))!;
        // `from` names the TrafficPolicies a policy came from.
        expect([p.policy?.from.join('+'), p.clusterPolicy?.from.join('+')], at).toEqual([own, cluster]);
      }
    });
  });

  it('defaults retries to idempotent methods', () => {
    const { model } = buildWith(POLICIES.replace(', methods: ["*"]', ''));
    expect(model.services.get('demo/web')!.ports[0]!.policy!.retries!.methods).toEqual(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
  });

  it('scopes reachable services by TrafficTargets in strict mode only', () => {
    const target = 'apiVersion: access.smi-spec.io/v1alpha3\nkind: TrafficTarget\nmetadata: {name: web, namespace: demo}\nspec:\n  destination: {kind: ServiceAccount, name: web}\n  sources: [{kind: ServiceAccount, name: client}]\n';
    const strict = buildWith(`${STRICT}${target}`).model;
    const client = strict.workloads.get('demo/client')!;
    expect(reachableServices(strict, client)).toEqual(['demo/web']);
    expect(reachableServices(strict, strict.workloads.get('demo/web-v1')!)).toEqual([]);
    const permissive = buildWith(target).model;
    expect(reachableServices(permissive, permissive.workloads.get('demo/client')!)).toEqual(['demo/api', 'demo/web', 'demo/web-v1', 'demo/web-v2']);
    expect(strict.accessByDestination.get('spiffe://example.org/ns/demo/sa/web')?.map((r) => r.key)).toEqual(['demo/web']);
  });

  it('defaults a missing namespace to "default" and never mutates its input', () => {
    const objects = objectsFrom({ 'a.yaml': `${BASE_MESH}---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: lonely}\n` });
    const before = JSON.stringify(objects.map((o) => o.raw));
    const { model, statuses } = buildMesh(objects);
    expect(model.identities.has('spiffe://cluster.local/ns/default/sa/lonely')).toBe(true);
    expect(model.namespaces).toEqual(['default', 'demo']);
    expect(statuses.find((s) => s.name === 'lonely')?.namespace).toBe('default');
    expect(JSON.stringify(objects.map((o) => o.raw))).toBe(before);
  });

  it('is deterministic whatever the input order', () => {
    const objects = objectsFrom({ 'a.yaml': BASE_MESH, 'b.yaml': POLICIES });
    const a = buildMesh(objects);
    const b = buildMesh(objects.toReversed());
    const dump = (r: typeof a) => JSON.stringify(r.model, (_k, v: unknown) => (v instanceof Map ? [...v] : v));
    expect(dump(b)).toBe(dump(a));
  });
});
