/**
 * Schema checks: one named case per check, each an intent as an operator
 * writes it, asserting the problem's field path, reason and line.
 */
import { describe, expect, it } from 'vitest';
import type { ProblemReason, Severity } from '../problem.ts';
import { brief, buildWith, problemsOf } from '../testing.ts';

interface Case {
  name: string;
  yaml: string;
  kind: string;
  object: string;
  field: string;
  reason: ProblemReason;
  line: number;
  severity?: Severity;
  /** A word the message must contain (e.g. the suggestion), not the whole text. */
  mentions?: string;
}

const split = (backends: string, extra = '') => `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: web
  namespace: demo
spec:
  service: web
${extra}  backends:
${backends}`;

const policy = (spec: string) => `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata:
  name: web
  namespace: demo
spec:
  targetRef: {kind: Service, name: web}
${spec}`;

const cases: Case[] = [
  {
    name: 'misspelt field suggests the right one',
    yaml: split('  - service: web-v1\n    weigth: 90\n'),
    kind: 'TrafficSplit', object: 'demo/web', field: 'spec.backends[0].weigth', reason: 'UnknownField', line: 10, mentions: '"weight"',
  },
  {
    name: 'missing required field points at its parent',
    yaml: 'apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: web, namespace: demo}\nspec:\n  backends: [{service: web-v1, weight: 1}]\n',
    kind: 'TrafficSplit', object: 'demo/web', field: 'spec.service', reason: 'Required', line: 4,
  },
  {
    name: 'weight of the wrong type',
    yaml: split('  - service: web-v1\n    weight: ten\n'),
    kind: 'TrafficSplit', object: 'demo/web', field: 'spec.backends[0].weight', reason: 'InvalidType', line: 10,
  },
  {
    name: 'negative weight',
    yaml: split('  - service: web-v1\n    weight: 10\n  - service: web-v2\n    weight: -5\n'),
    kind: 'TrafficSplit', object: 'demo/web', field: 'spec.backends[1].weight', reason: 'OutOfRange', line: 12,
  },
  {
    name: 'all weights zero',
    yaml: split('  - service: web-v1\n    weight: 0\n  - service: web-v2\n    weight: 0\n'),
    kind: 'TrafficSplit', object: 'demo/web', field: 'spec.backends', reason: 'InvalidValue', line: 8,
  },
  {
    name: 'backend is the root service itself',
    yaml: split('  - service: web\n    weight: 10\n'),
    kind: 'TrafficSplit', object: 'demo/web', field: 'spec.backends[0].service', reason: 'InvalidValue', line: 9,
  },
  {
    name: 'invalid path regex',
    yaml: 'apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: routes, namespace: demo}\nspec:\n  matches:\n  - name: api\n    pathRegex: "/api/("\n',
    kind: 'HTTPRouteGroup', object: 'demo/routes', field: 'spec.matches[0].pathRegex', reason: 'InvalidRegex', line: 7,
  },
  {
    name: 'regex JavaScript accepts but RE2 (Envoy) does not',
    yaml: 'apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: routes, namespace: demo}\nspec:\n  matches:\n  - name: not-admin\n    pathRegex: "/(?!admin).*"\n',
    kind: 'HTTPRouteGroup', object: 'demo/routes', field: 'spec.matches[0].pathRegex', reason: 'InvalidRegex', line: 7, mentions: 'RE2',
  },
  {
    name: 'unquoted boolean header value',
    yaml: 'apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: canary, namespace: demo}\nspec:\n  matches:\n  - name: canary\n    headers:\n    - x-canary: true\n',
    kind: 'HTTPRouteGroup', object: 'demo/canary', field: 'spec.matches[0].headers[0].x-canary', reason: 'InvalidType', line: 8, mentions: 'quote',
  },
  {
    name: 'unknown HTTP method',
    yaml: 'apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: routes, namespace: demo}\nspec:\n  matches:\n  - name: api\n    methods: [GET, FETCH]\n',
    kind: 'HTTPRouteGroup', object: 'demo/routes', field: 'spec.matches[0].methods[1]', reason: 'InvalidValue', line: 7,
  },
  {
    name: 'duration without a unit',
    yaml: policy('  timeouts:\n    request: 10\n'),
    kind: 'TrafficPolicy', object: 'demo/web', field: 'spec.timeouts.request', reason: 'InvalidDuration', line: 9,
  },
  {
    name: 'malformed duration',
    yaml: policy('  outlierDetection:\n    interval: 5 sec\n'),
    kind: 'TrafficPolicy', object: 'demo/web', field: 'spec.outlierDetection.interval', reason: 'InvalidDuration', line: 9,
  },
  {
    name: 'per-try timeout longer than the request timeout',
    yaml: policy('  timeouts:\n    request: 1s\n    perTry: 2s\n'),
    kind: 'TrafficPolicy', object: 'demo/web', field: 'spec.timeouts.perTry', reason: 'InvalidValue', line: 10,
  },
  {
    name: 'too many retry attempts',
    yaml: policy('  retries:\n    attempts: 50\n'),
    kind: 'TrafficPolicy', object: 'demo/web', field: 'spec.retries.attempts', reason: 'OutOfRange', line: 9,
  },
  {
    name: 'unknown retry-on condition',
    yaml: policy('  retries:\n    retryOn: [5xx, connection-failure]\n'),
    kind: 'TrafficPolicy', object: 'demo/web', field: 'spec.retries.retryOn[1]', reason: 'InvalidValue', line: 9, mentions: 'connect-failure',
  },
  {
    name: 'ring hash without a hash key',
    yaml: policy('  loadBalancer:\n    policy: RingHash\n'),
    kind: 'TrafficPolicy', object: 'demo/web', field: 'spec.loadBalancer.hashOn', reason: 'Required', line: 8,
  },
  {
    name: 'sticky cookie on round robin',
    yaml: policy('  loadBalancer:\n    policy: RoundRobin\n    hashOn: {cookie: {name: session}}\n'),
    kind: 'TrafficPolicy', object: 'demo/web', field: 'spec.loadBalancer.hashOn', reason: 'InvalidValue', line: 10,
  },
  {
    name: 'cluster-level setting on a route',
    yaml: policy('  routes:\n  - match: {kind: HTTPRouteGroup, name: routes}\n    circuitBreaker: {maxRequests: 10}\n'),
    kind: 'TrafficPolicy', object: 'demo/web', field: 'spec.routes[0].circuitBreaker', reason: 'InvalidValue', line: 10,
  },
  {
    name: 'enum value in the wrong case',
    yaml: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  authorization:\n    mode: strict\n',
    kind: 'MeshConfig', object: 'mesh', field: 'spec.authorization.mode', reason: 'InvalidValue', line: 6, mentions: 'Strict',
  },
  {
    name: 'certificate lifetime too short',
    yaml: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  certificates: {lifetime: 1m}\n',
    kind: 'MeshConfig', object: 'mesh', field: 'spec.certificates.lifetime', reason: 'OutOfRange', line: 5,
  },
  // issue 12: telemetry settings
  {
    name: 'tracing sampling rate over 100 %',
    yaml: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  tracing:\n    collector: otel:4317\n    samplingPercent: 150\n',
    kind: 'MeshConfig', object: 'mesh', field: 'spec.tracing.samplingPercent', reason: 'OutOfRange', line: 7, mentions: '0 to 100',
  },
  {
    name: 'tracing sampling rate below 0',
    yaml: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  tracing: {collector: "otel:4317", samplingPercent: -1}\n',
    kind: 'MeshConfig', object: 'mesh', field: 'spec.tracing.samplingPercent', reason: 'OutOfRange', line: 5,
  },
  {
    name: 'tracing collector without a port',
    yaml: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  tracing:\n    collector: otel-collector\n',
    kind: 'MeshConfig', object: 'mesh', field: 'spec.tracing.collector', reason: 'InvalidValue', line: 6, mentions: 'host:port',
  },
  {
    name: 'access log to a relative path',
    yaml: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  accessLog:\n    path: logs/access.log\n',
    kind: 'MeshConfig', object: 'mesh', field: 'spec.accessLog.path', reason: 'InvalidValue', line: 6, mentions: 'absolute',
  },
  {
    name: 'access log format misspelt',
    yaml: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  accessLog:\n    format: Json\n',
    kind: 'MeshConfig', object: 'mesh', field: 'spec.accessLog.format', reason: 'InvalidValue', line: 6, mentions: 'JSON',
  },
  {
    name: 'access log override without a namespace',
    yaml: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  accessLog:\n    overrides:\n    - format: JSON\n',
    kind: 'MeshConfig', object: 'mesh', field: 'spec.accessLog.overrides[0].namespace', reason: 'Required', line: 7,
  },
  {
    name: 'invalid object name',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata:\n  name: Web_Front\n  namespace: demo\nspec:\n  ports: [{port: 80}]\n',
    kind: 'Service', object: 'demo/Web_Front', field: 'metadata.name', reason: 'InvalidValue', line: 4,
  },
  {
    name: 'service port out of range',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: big, namespace: demo}\nspec:\n  ports:\n  - port: 70000\n',
    kind: 'Service', object: 'demo/big', field: 'spec.ports[0].port', reason: 'OutOfRange', line: 6,
  },
  {
    name: 'unnamed ports when a service has several',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: two, namespace: demo}\nspec:\n  ports:\n  - port: 80\n  - port: 81\n    name: b\n',
    kind: 'Service', object: 'demo/two', field: 'spec.ports[0].name', reason: 'Required', line: 6,
  },
  {
    name: 'pod IP that is not an address',
    yaml: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: demo}\nspec:\n  containers: [{name: app}]\nstatus:\n  podIP: 127.0.0.300\n',
    kind: 'Pod', object: 'demo/p', field: 'status.podIP', reason: 'InvalidValue', line: 7,
  },
  {
    name: 'endpoint address of the wrong family',
    yaml: 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, namespace: demo, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints:\n- addresses: ["::1"]\n',
    kind: 'EndpointSlice', object: 'demo/s', field: 'endpoints[0].addresses[0]', reason: 'InvalidValue', line: 6,
  },
  {
    name: 'misspelt kind',
    yaml: 'apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplt\nmetadata: {name: web, namespace: demo}\n',
    kind: 'TrafficSplt', object: 'demo/web', field: 'kind', reason: 'UnsupportedKind', line: 2, mentions: 'TrafficSplit',
  },
  {
    name: 'supported kind at an unsupported version',
    yaml: 'apiVersion: split.smi-spec.io/v1alpha2\nkind: TrafficSplit\nmetadata: {name: web, namespace: demo}\n',
    kind: 'TrafficSplit', object: 'demo/web', field: 'apiVersion', reason: 'UnsupportedKind', line: 1, mentions: 'v1alpha4',
  },
  {
    name: 'unrelated kind is a warning',
    yaml: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\n',
    kind: 'Deployment', object: 'demo/web', field: 'kind', reason: 'UnsupportedKind', line: 2, severity: 'warning',
  },
  {
    name: 'namespace on a cluster-scoped kind is a warning',
    yaml: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata:\n  name: mesh\n  namespace: demo\nspec: {}\n',
    kind: 'MeshConfig', object: 'mesh', field: 'metadata.namespace', reason: 'Ignored', line: 5, severity: 'warning',
  },
];

describe('schema checks', () => {
  it.each(cases)('$name', ({ yaml, kind, object, field, reason, line, severity, mentions }) => {
    const problems = problemsOf(buildWith(yaml)).filter((p) => p.file === 'intents.yaml');
    const [namespace, name] = object.includes('/') ? object.split('/') : ['', object];
    expect(problems.map(brief)).toContainEqual({ severity: severity ?? 'error', reason, kind, namespace, name, field, file: 'intents.yaml', line });
    if (mentions) expect(problems.find((p) => p.field === field)?.message).toContain(mentions);
  });

  it('accepts the base mesh without a problem', () => {
    expect(problemsOf(buildWith(''))).toEqual([]);
  });

  it('accepts what the API server accepts: empty label values, clusterIP "", ports by name', () => {
    const yaml = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: empty\n  namespace: demo\n  labels: {tier: ""}\nspec:\n  clusterIP: ""\n  ports: [{port: 80, targetPort: http-alt}]\n';
    expect(problemsOf(buildWith(yaml))).toEqual([]);
  });

  it('issue 10 (HTTPRouteServiceTypes): accepts an EndpointSlice without endpoints, as the API server does (httproute-service-types.yaml writes them so), and gives its service none', () => {
    const yaml = 'apiVersion: v1\nkind: Service\nmetadata: {name: manual, namespace: demo}\nspec:\n  ports: [{name: first-port, port: 8080, targetPort: 3000}]\n---\n'
      + 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: manual-ip6, namespace: demo, labels: {kubernetes.io/service-name: manual}}\naddressType: IPv6\nports: [{name: first-port, port: 3000}]\n---\n'
      + 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: manual-ip4, namespace: demo, labels: {kubernetes.io/service-name: manual}}\naddressType: IPv4\nports: [{name: first-port, port: 3000}]\nendpoints: null\n';
    const result = buildWith(yaml);
    expect(problemsOf(result)).toEqual([]);
    expect(result.model.services.get('demo/manual')!.ports[0]!.endpoints).toEqual([]);
  });

  it('rejects an invalid intent but builds the rest', () => {
    const result = buildWith(split('  - service: web-v1\n    weight: -1\n'));
    const status = result.statuses.find((s) => s.kind === 'TrafficSplit')!;
    expect(status.conditions.find((c) => c.type === 'Accepted')).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(result.model.splits.size).toBe(0);
    expect(result.model.services.size).toBe(4);
  });
});
