/**
 * Issue 11, TCP services in the model: TCPRoute (SMI specs v1alpha4) and the
 * TrafficTarget rules that name it, appProtocol declarations, and one service
 * per ClusterIP and port. Bad input is reported as `file:line: Kind ns/name:
 * field: message` data, and the rest of the mesh is kept.
 */
import { describe, expect, it } from 'vitest';
import { brief, buildWith, problemsOf } from '../testing.ts';

const DB = `apiVersion: v1
kind: Service
metadata: {name: db, namespace: demo}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports: [{name: pg, port: 5432, appProtocol: tcp}]
---
`;
const tcpRoute = (name: string, ports: string) => `apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: ${name}, namespace: demo}
spec:
  matches: {ports: ${ports}}
---
`;
const target = (name: string, rules: string) => `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: ${name}, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web}
  sources: [{kind: ServiceAccount, name: client}]
  rules:
${rules}---
`;

describe('issue 11: TCPRoute and TrafficTarget TCP rules', () => {
  it('a TrafficTarget with a TCPRoute rule allows that route\'s ports, and no HTTP route', () => {
    const r = buildWith(DB + tcpRoute('pg', '[5432]') + target('client-to-db', '  - {kind: TCPRoute, name: pg}\n'));
    expect(problemsOf(r).filter((p) => p.severity === 'error')).toEqual([]);
    const rule = r.model.accessRules.get('demo/client-to-db')!;
    expect(rule.tcpRoutes).toEqual([{ route: 'demo/pg', ports: [5432] }]);
    expect(rule.routes).toEqual([]);
  });

  it('HTTPRouteGroup and TCPRoute rules together; no rules leaves both open (undefined)', () => {
    const group = 'apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: api, namespace: demo}\nspec:\n  matches: [{name: all, pathRegex: "/.*"}]\n---\n';
    const r = buildWith(DB + group + tcpRoute('pg', '[]') + target('both', '  - {kind: HTTPRouteGroup, name: api}\n  - {kind: TCPRoute, name: pg}\n') + target('open', '  []\n').replace('  rules:\n  []\n', ''));
    expect(problemsOf(r).filter((p) => p.severity === 'error')).toEqual([]);
    expect(r.model.accessRules.get('demo/both')!.tcpRoutes).toEqual([{ route: 'demo/pg', ports: [] }]);
    expect(r.model.accessRules.get('demo/both')!.routes!.map((m) => m.name)).toEqual(['all']);
    expect(r.model.accessRules.get('demo/open')!.tcpRoutes).toBeUndefined();
  });

  it.each([
    {
      name: 'a TrafficTarget naming a missing TCPRoute: rejected at the rule\'s name (file:line), the rest kept',
      yaml: DB + target('client-to-db', '  - {kind: TCPRoute, name: pgg}\n'),
      want: { severity: 'error', reason: 'RefNotFound', kind: 'TrafficTarget', namespace: 'demo', name: 'client-to-db', field: 'spec.rules[0].name', file: 'intents.yaml', line: 16 },
      mentions: 'TCPRoute "pgg" does not exist',
    },
    {
      name: 'a TCPRoute rule with match names',
      yaml: tcpRoute('pg', '[5432]') + target('t', '  - {kind: TCPRoute, name: pg, matches: [x]}\n'),
      want: { severity: 'error', reason: 'InvalidValue', kind: 'TrafficTarget', namespace: 'demo', name: 't', field: 'spec.rules[0].matches', file: 'intents.yaml', line: 14 },
      mentions: 'no named matches',
    },
    {
      name: 'a TCPRoute port out of range',
      yaml: tcpRoute('pg', '[70000]'),
      want: { severity: 'error', reason: 'OutOfRange', kind: 'TCPRoute', namespace: 'demo', name: 'pg', field: 'spec.matches.ports[0]', file: 'intents.yaml', line: 5 },
      mentions: '',
    },
    {
      name: 'a TrafficSplit match naming a TCPRoute (splits route requests)',
      yaml: 'apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {name: web, namespace: demo}\nspec:\n  service: web\n  matches: [{kind: TCPRoute, name: pg}]\n  backends: [{service: web-v1, weight: 1}]\n',
      want: { severity: 'error', reason: 'InvalidValue', kind: 'TrafficSplit', namespace: 'demo', name: 'web', field: 'spec.matches[0].kind', file: 'intents.yaml', line: 6 },
      mentions: 'TrafficTarget rules take it',
    },
    {
      name: 'an unknown appProtocol: the Service is rejected at the field, with a suggestion',
      yaml: DB.replace('appProtocol: tcp', 'appProtocol: htttp'),
      want: { severity: 'error', reason: 'InvalidValue', kind: 'Service', namespace: 'demo', name: 'db', field: 'spec.ports[0].appProtocol', file: 'intents.yaml', line: 7 },
      mentions: '"http"',
    },
    {
      name: 'a TCP port claimed by two services (one ClusterIP and port): the second is rejected, naming the first',
      yaml: DB + DB.replace('name: db,', 'name: db2,').replace(/---\n$/, ''),
      want: { severity: 'error', reason: 'Conflict', kind: 'Service', namespace: 'demo', name: 'db2', field: 'spec.ports[0].port', file: 'intents.yaml', line: 15 },
      mentions: 'service "demo/db"',
    },
  ])('$name', ({ yaml, want, mentions }) => {
    const r = buildWith(yaml);
    const problems = problemsOf(r).filter((p) => p.severity === 'error');
    expect(problems.map(brief)).toEqual([want]);
    expect(problems[0]!.message).toContain(mentions);
    // Never a crash, and the rest of the mesh is still there.
    expect(r.model.services.has('demo/web')).toBe(true);
  });

  it('appProtocol and port-name declarations: opaque protocols are TCP; h2c is HTTP/2; an undeclared port is detected (auto)', () => {
    const svc = `apiVersion: v1
kind: Service
metadata: {name: multi, namespace: demo}
spec:
  selector: {app: web}
  ports:
  - {name: a, port: 1, appProtocol: mysql}
  - {name: b, port: 2, appProtocol: kubernetes.io/h2c}
  - {name: tcp-c, port: 3}
  - {name: redis, port: 4}
  - {name: d, port: 5, appProtocol: TLS}
  - {name: e, port: 6}
  - {name: http-f, port: 7}
`;
    const r = buildWith(svc);
    expect(problemsOf(r).filter((p) => p.severity === 'error')).toEqual([]);
    expect(r.model.services.get('demo/multi')!.ports.map((p) => p.protocol)).toEqual(['tcp', 'http2', 'tcp', 'tcp', 'tcp', 'auto', 'http']);
  });
});
