/**
 * Cross-object checks: references, conflicts and duplicates. Each case is a
 * set of intents on top of the base mesh (testing.ts), asserting the problem's
 * field, reason and line, and whether the object is still accepted.
 */
import { describe, expect, it } from 'vitest';
import { isAccepted, type ProblemReason, type Severity } from '../problem.ts';
import { brief, buildWith, problemsOf } from '../testing.ts';

interface Case {
  name: string;
  yaml: string;
  extra?: Record<string, string>;
  kind: string;
  object: string;
  field: string;
  reason: ProblemReason;
  line: number;
  file?: string;
  severity?: Severity;
  /** Whether the object is still in the model. */
  accepted: boolean;
}

const meta = (kind: string, api: string, name: string, ns = 'demo') => `apiVersion: ${api}\nkind: ${kind}\nmetadata: {name: ${name}, namespace: ${ns}}\n`;
const SPLIT = 'split.smi-spec.io/v1alpha4';
const TARGET = 'access.smi-spec.io/v1alpha3';
const POLICY = 'trellis.io/v1alpha1';
const ROUTES = `${meta('HTTPRouteGroup', 'specs.smi-spec.io/v1alpha4', 'routes')}spec:\n  matches:\n  - {name: api, pathRegex: "/api/.*"}\n  - {name: canary, headers: [{x-canary: "true"}]}\n---\n`; // 8 lines, the last one `---`

const cases: Case[] = [
  {
    name: 'split of a service that does not exist',
    yaml: `${meta('TrafficSplit', SPLIT, 'shop')}spec:\n  service: shop\n  backends: [{service: web-v1, weight: 1}]\n`,
    kind: 'TrafficSplit', object: 'demo/shop', field: 'spec.service', reason: 'RefNotFound', line: 5, accepted: false,
  },
  {
    name: 'backend that does not exist, with weight',
    yaml: `${meta('TrafficSplit', SPLIT, 'web')}spec:\n  service: web\n  backends:\n  - {service: web-v1, weight: 90}\n  - {service: web-v3, weight: 10}\n`,
    kind: 'TrafficSplit', object: 'demo/web', field: 'spec.backends[1].service', reason: 'RefNotFound', line: 8, accepted: false,
  },
  {
    name: 'backend that does not exist yet, at weight 0 (SMI rollout step)',
    yaml: `${meta('TrafficSplit', SPLIT, 'web')}spec:\n  service: web\n  backends:\n  - {service: web-v1, weight: 100}\n  - {service: web-v3, weight: 0}\n`,
    kind: 'TrafficSplit', object: 'demo/web', field: 'spec.backends[1].service', reason: 'RefNotFound', line: 8, severity: 'warning', accepted: true,
  },
  {
    name: 'two splits for one service',
    yaml: `${meta('TrafficSplit', SPLIT, 'a')}spec:\n  service: web\n  backends: [{service: web-v1, weight: 1}]\n---\n${meta('TrafficSplit', SPLIT, 'b')}spec:\n  service: web\n  backends: [{service: web-v2, weight: 1}]\n`,
    kind: 'TrafficSplit', object: 'demo/b', field: 'spec.service', reason: 'Conflict', line: 12, accepted: false,
  },
  {
    name: 'split matching a route group that does not exist',
    yaml: `${meta('TrafficSplit', SPLIT, 'canary')}spec:\n  service: web\n  matches:\n  - kind: HTTPRouteGroup\n    name: canray\n  backends: [{service: web-v2, weight: 1}]\n`,
    kind: 'TrafficSplit', object: 'demo/canary', field: 'spec.matches[0].name', reason: 'RefNotFound', line: 8, accepted: false,
  },
  {
    name: 'split matching a route group in another namespace',
    yaml: `${meta('TrafficSplit', SPLIT, 'canary')}spec:\n  service: web\n  matches: [{kind: HTTPRouteGroup, name: routes}]\n  backends: [{service: web-v2, weight: 1}]\n`,
    extra: { 'other.yaml': ROUTES.replace('namespace: demo', 'namespace: other') },
    kind: 'TrafficSplit', object: 'demo/canary', field: 'spec.matches[0].name', reason: 'RefNotFound', line: 6, accepted: false,
  },
  {
    name: 'access rule naming a route that does not exist',
    yaml: `${ROUTES}${meta('TrafficTarget', TARGET, 'web')}spec:\n  destination: {kind: ServiceAccount, name: web}\n  sources: [{kind: ServiceAccount, name: client}]\n  rules:\n  - kind: HTTPRouteGroup\n    name: routes\n    matches: [api, admin]\n`,
    kind: 'TrafficTarget', object: 'demo/web', field: 'spec.rules[0].matches[1]', reason: 'RefNotFound', line: 18, accepted: false,
  },
  {
    name: 'access rule whose destination is in another namespace',
    yaml: `${meta('TrafficTarget', TARGET, 'web')}spec:\n  destination:\n    kind: ServiceAccount\n    name: web\n    namespace: prod\n  sources: [{kind: ServiceAccount, name: client}]\n`,
    kind: 'TrafficTarget', object: 'demo/web', field: 'spec.destination.namespace', reason: 'CrossNamespace', line: 8, accepted: false,
  },
  {
    name: 'access rule from an unknown service account',
    yaml: `${meta('TrafficTarget', TARGET, 'web')}spec:\n  destination: {kind: ServiceAccount, name: web}\n  sources:\n  - {kind: ServiceAccount, name: client}\n  - {kind: ServiceAccount, name: robot, namespace: ops}\n`,
    kind: 'TrafficTarget', object: 'demo/web', field: 'spec.sources[1].name', reason: 'RefNotFound', line: 8, severity: 'warning', accepted: true,
  },
  {
    name: 'policy for a service that does not exist',
    yaml: `${meta('TrafficPolicy', POLICY, 'p')}spec:\n  targetRef:\n    kind: Service\n    name: webb\n  timeouts: {request: 1s}\n`,
    kind: 'TrafficPolicy', object: 'demo/p', field: 'spec.targetRef.name', reason: 'RefNotFound', line: 7, accepted: false,
  },
  {
    name: 'policy for a port the service does not have',
    yaml: `${meta('TrafficPolicy', POLICY, 'p')}spec:\n  targetRef: {kind: Service, name: web, port: 8081}\n  timeouts: {request: 1s}\n`,
    kind: 'TrafficPolicy', object: 'demo/p', field: 'spec.targetRef.port', reason: 'RefNotFound', line: 5, accepted: false,
  },
  {
    name: 'policy route naming a match that does not exist',
    yaml: `${ROUTES}${meta('TrafficPolicy', POLICY, 'p')}spec:\n  targetRef: {kind: Service, name: web}\n  routes:\n  - match: {kind: HTTPRouteGroup, name: routes, matches: [apii]}\n    timeouts: {request: 1s}\n`,
    kind: 'TrafficPolicy', object: 'demo/p', field: 'spec.routes[0].match.matches[0]', reason: 'RefNotFound', line: 15, accepted: false,
  },
  {
    name: 'two policies for the same port',
    yaml: `${meta('TrafficPolicy', POLICY, 'a')}spec:\n  targetRef: {kind: Service, name: web, port: http}\n  timeouts: {request: 1s}\n---\n${meta('TrafficPolicy', POLICY, 'b')}spec:\n  targetRef: {kind: Service, name: web, port: 8080}\n  timeouts: {request: 2s}\n`,
    kind: 'TrafficPolicy', object: 'demo/b', field: 'spec.targetRef.port', reason: 'Conflict', line: 12, accepted: false,
  },
  {
    name: 'two mesh configs',
    yaml: 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: a}\nspec: {}\n---\napiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: b}\nspec: {}\n',
    kind: 'MeshConfig', object: 'b', field: 'metadata.name', reason: 'Conflict', line: 8, accepted: false,
  },
  {
    name: 'the same object defined in two files',
    yaml: 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n  namespace: demo\n',
    kind: 'ServiceAccount', object: 'demo/web', field: 'metadata.name', reason: 'Duplicate', line: 4, accepted: false,
  },
  {
    name: 'same name without a namespace means default, not a duplicate of demo',
    yaml: 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n  namespace: default\n',
    kind: 'ServiceAccount', object: 'default/web', field: 'metadata.name', reason: 'Duplicate', line: 9, accepted: false,
  },
  {
    name: 'endpoints for a service that does not exist',
    yaml: 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: x\n  namespace: demo\n  labels:\n    kubernetes.io/service-name: nope\naddressType: IPv4\nendpoints: []\n',
    kind: 'EndpointSlice', object: 'demo/x', field: 'metadata.labels["kubernetes.io/service-name"]', reason: 'RefNotFound', line: 7, severity: 'warning', accepted: true,
  },
];

describe('reference and conflict checks', () => {
  it.each(cases)('$name', ({ yaml, extra, kind, object, field, reason, line, file, severity, accepted }) => {
    const result = buildWith(yaml, extra);
    const [namespace, name] = object.includes('/') ? object.split('/') : ['', object];
    const problems = problemsOf(result).filter((p) => p.file === (file ?? 'intents.yaml'));
    expect(problems.map(brief)).toContainEqual({ severity: severity ?? 'error', reason, kind, namespace, name, field, file: file ?? 'intents.yaml', line });
    const status = result.statuses.find((s) => s.kind === kind && s.namespace === namespace && s.name === name && s.origin?.file === 'intents.yaml');
    expect(status && isAccepted(status)).toBe(accepted);
  });

  it('marks unresolved references on ResolvedRefs and the reason on Accepted', () => {
    const result = buildWith(cases[0]!.yaml);
    const status = result.statuses.find((s) => s.kind === 'TrafficSplit')!;
    expect(status.conditions).toEqual([
      expect.objectContaining({ type: 'Accepted', status: 'False', reason: 'RefNotFound' }),
      expect.objectContaining({ type: 'ResolvedRefs', status: 'False', reason: 'RefNotFound' }),
    ]);
  });

  it('the older of two conflicting splits wins', () => {
    const result = buildWith(cases[3]!.yaml);
    expect([...result.model.splits.keys()]).toEqual(['demo/a']);
  });

  it('a split with matches and one without do not conflict', () => {
    const yaml = `${ROUTES}${meta('TrafficSplit', SPLIT, 'web')}spec:\n  service: web\n  backends: [{service: web-v1, weight: 9}, {service: web-v2, weight: 1}]\n---\n${meta('TrafficSplit', SPLIT, 'web-canary')}spec:\n  service: web\n  matches: [{kind: HTTPRouteGroup, name: routes}]\n  backends: [{service: web-v2, weight: 1}]\n`;
    const result = buildWith(yaml);
    expect(problemsOf(result)).toEqual([]);
    expect(result.model.services.get('demo/web')?.splits).toEqual(['demo/web-canary', 'demo/web']);
  });
});
