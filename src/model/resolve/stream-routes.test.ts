/**
 * issue 10/11: Gateway API TCPRoutes attached to a Service (GAMMA): what the
 * model keeps on the service's TCP port, and the status per parent with the
 * spec's reasons for the bad input the issues name.
 */
import { describe, expect, it } from 'vitest';
import { brief, buildWith, problemsOf } from '../testing.ts';
import { TRELLIS_GATEWAY_CLASS_YAML } from '../gateway-testing.ts';

/** db: a TCP port 5432 and an HTTP port 8080; db-v1 and db-v2 its TCP backends; web-admin an HTTP service. */
const DB = ['db', 'db-v1', 'db-v2'].map((name) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  selector: {app: ${name}}
  ports:
  - {name: pg, port: 5432, appProtocol: tcp}
  - {name: http, port: 8080, appProtocol: http}
---
`).join('');

const tcpRoute = (name: string, spec: string, o: { ns?: string; created?: string } = {}) => `apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: ${name}, namespace: ${o.ns ?? 'demo'}${o.created ? `, creationTimestamp: "${o.created}"` : ''}}
spec:
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
---
`;

const SPLIT = (name: string, weights: [number, number], o: { created?: string } = {}) => tcpRoute(name, `
parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
rules:
- backendRefs: [{name: db-v1, port: 5432, weight: ${weights[0]}}, {name: db-v2, port: 5432, weight: ${weights[1]}}]
`, o);

const build = (intents: string) => buildWith(intents, { 'db.yaml': DB });
const statusOf = (r: ReturnType<typeof buildWith>, kind: string, name: string) => r.statuses.find((s) => s.kind === kind && s.name === name)!;
const conditions = (r: ReturnType<typeof buildWith>, kind: string, name: string, parent = 0) =>
  statusOf(r, kind, name).parents![parent]!.conditions.map((c) => [c.type, c.status, c.reason]);
const portOf = (r: ReturnType<typeof buildWith>, service: string, port: number) => r.model.services.get(service)!.ports.find((p) => p.port === port)!;

describe('issue 10/11: mesh TCPRoute in the model', () => {
  it('a producer TCPRoute attaches to the service\'s TCP port with its weighted backends; Accepted and ResolvedRefs', () => {
    const r = build(SPLIT('db', [90, 10]));
    expect(problemsOf(r)).toEqual([]);
    expect(portOf(r, 'demo/db', 5432).tcpRoute).toEqual({
      namespace: 'demo', name: 'db',
      backends: [{ namespace: 'demo', name: 'db-v1', port: 5432, weight: 90, found: true }, { namespace: 'demo', name: 'db-v2', port: 5432, weight: 10, found: true }],
    });
    expect(portOf(r, 'demo/db', 8080).tcpRoute).toBeUndefined();
    expect(statusOf(r, 'TCPRoute', 'db').parents).toEqual([{
      parentRef: { group: '', kind: 'Service', namespace: 'demo', name: 'db', port: 5432 }, ours: true,
      conditions: [expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted' }), expect.objectContaining({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs' })],
    }]);
  });

  it('a parentRef without a port takes the TCP ports only; a weight of 0 is dropped; weight defaults to 1', () => {
    const r = build(tcpRoute('db', `
parentRefs: [{group: "", kind: Service, name: db}]
rules:
- backendRefs: [{name: db-v1, port: 5432, weight: 0}, {name: db-v2, port: 5432}]
`));
    expect(problemsOf(r)).toEqual([]);
    expect(portOf(r, 'demo/db', 5432).tcpRoute!.backends).toEqual([{ namespace: 'demo', name: 'db-v2', port: 5432, weight: 1, found: true }]);
    expect(portOf(r, 'demo/db', 8080).tcpRoute).toBeUndefined();
  });

  it('a backendRef to a missing Service: accepted, ResolvedRefs=False BackendNotFound, its share kept as not found', () => {
    const r = build(tcpRoute('db', `
parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
rules:
- backendRefs: [{name: db-v1, port: 5432, weight: 50}, {name: db-v9, port: 5432, weight: 50}]
`));
    expect(problemsOf(r).map(brief)).toEqual([
      { severity: 'warning', reason: 'BackendNotFound', kind: 'TCPRoute', namespace: 'demo', name: 'db', field: 'spec.rules[0].backendRefs[1].name', file: 'intents.yaml', line: 7 },
    ]);
    expect(problemsOf(r)[0]!.message).toContain('connections is refused');
    expect(portOf(r, 'demo/db', 5432).tcpRoute!.backends.map((b) => [b.name, b.found])).toEqual([['db-v1', true], ['db-v9', false]]);
    expect(conditions(r, 'TCPRoute', 'db')).toEqual([['Accepted', 'True', 'Accepted'], ['ResolvedRefs', 'False', 'BackendNotFound']]);
  });

  it('a backendRef to an HTTP port: BackendNotFound (a byte stream cannot be sent to an HTTP connection manager)', () => {
    const r = build(tcpRoute('db', `
parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
rules:
- backendRefs: [{name: db-v1, port: 8080}]
`));
    expect(problemsOf(r).map((p) => [p.severity, p.reason, p.field])).toEqual([['warning', 'BackendNotFound', 'spec.rules[0].backendRefs[0].port']]);
    expect(portOf(r, 'demo/db', 5432).tcpRoute!.backends[0]!.found).toBe(false);
  });

  it('a route on an HTTP port: not accepted (UnsupportedValue), nothing attached', () => {
    const r = build(tcpRoute('db', `
parentRefs: [{group: "", kind: Service, name: db, port: 8080}]
rules:
- backendRefs: [{name: db-v1, port: 5432}]
`));
    const [p] = problemsOf(r);
    expect([p!.severity, p!.reason, p!.field]).toEqual(['error', 'UnsupportedValue', 'spec.parentRefs[0]']);
    expect(p!.message).toMatch(/not declared TCP/);
    expect(conditions(r, 'TCPRoute', 'db')[0]).toEqual(['Accepted', 'False', 'UnsupportedValue']);
    expect([...r.model.services.values()].flatMap((s) => s.ports).filter((x) => x.tcpRoute)).toEqual([]);
  });

  it('two TCPRoutes on one port: the oldest wins whatever its name, the other is Conflicted for that parent', () => {
    const r = build(SPLIT('a-newer', [0, 100], { created: '2026-12-05T10:00:00Z' }) + SPLIT('z-older', [100, 0], { created: '2026-12-01T10:00:00Z' }));
    expect(portOf(r, 'demo/db', 5432).tcpRoute!.name).toBe('z-older');
    expect(problemsOf(r).map((p) => [p.severity, p.reason, p.name, p.field])).toEqual([['warning', 'Conflict', 'a-newer', 'spec.parentRefs[0]']]);
    expect(conditions(r, 'TCPRoute', 'a-newer')[0]).toEqual(['Accepted', 'False', 'Conflicted']);
    expect(conditions(r, 'TCPRoute', 'z-older')[0]).toEqual(['Accepted', 'True', 'Accepted']);
  });

  it('a TCPRoute in another namespace (a consumer route): not accepted for that parent', () => {
    const r = build(`apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
${tcpRoute('mine', `
parentRefs: [{group: "", kind: Service, name: db, namespace: demo, port: 5432}]
rules:
- backendRefs: [{name: db-v1, namespace: demo, port: 5432}]
`, { ns: 'shop' })}`);
    expect(problemsOf(r).map((p) => [p.severity, p.reason, p.field])).toEqual([['error', 'UnsupportedValue', 'spec.parentRefs[0]']]);
    expect(portOf(r, 'demo/db', 5432).tcpRoute).toBeUndefined();
  });

  it('a TCPRoute with two rules: OutOfRange at spec.rules (the v1 CRD allows one)', () => {
    const r = build(tcpRoute('db', `
parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
rules:
- backendRefs: [{name: db-v1, port: 5432}]
- backendRefs: [{name: db-v2, port: 5432}]
`));
    expect(problemsOf(r).map((p) => [p.severity, p.reason, p.field])).toEqual([['error', 'OutOfRange', 'spec.rules']]);
  });

  it('an SMI TCPRoute and a Gateway API TCPRoute may share a name: different API groups, different objects (no Duplicate)', () => {
    const r = build(`apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: db, namespace: demo}
spec: {matches: {ports: [5432]}}
---
${SPLIT('db', [90, 10])}`);
    expect(problemsOf(r)).toEqual([]);
    expect(portOf(r, 'demo/db', 5432).tcpRoute!.name).toBe('db');
    expect(r.statuses.filter((x) => x.kind === 'TCPRoute').map((x) => x.apiVersion).toSorted()).toEqual(['gateway.networking.k8s.io/v1', 'specs.smi-spec.io/v1alpha4']);
  });

  it('a TLSRoute on a Service stays not accepted, and says a TCPRoute splits a TLS port', () => {
    const r = build(`apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: db, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
  hostnames: [db.example.com]
  rules: [{backendRefs: [{name: db-v1, port: 5432}]}]
`);
    const [p] = problemsOf(r);
    expect([p!.reason, p!.field]).toEqual(['UnsupportedValue', 'spec.parentRefs[0]']);
    expect(p!.message).toMatch(/no mesh TLSRoute in its conformance.*attach a TCPRoute/);
    // The spec's condition for that parent, and nothing programmed on the service's port.
    expect(conditions(r, 'TLSRoute', 'db')[0]).toEqual(['Accepted', 'False', 'UnsupportedValue']);
    expect(portOf(r, 'demo/db', 5432).tcpRoute).toBeUndefined();
  });

  it('a TLSRoute naming a Service and a Trellis Gateway: the Gateway serves it, the Service parent alone is not accepted (a warning, not a rejection)', () => {
    const r = build(CLASS + EDGE() + tlsRoute('db', 'db.example.com', '{name: db-v1, port: 5432}', { parent: '{group: "", kind: Service, name: db, port: 5432}, {name: edge, sectionName: tls}' }));
    expect(problemsOf(r).map((p) => [p.severity, p.reason, p.field])).toEqual([['warning', 'UnsupportedValue', 'spec.parentRefs[0]']]);
    expect([conditions(r, 'TLSRoute', 'db', 0)[0], conditions(r, 'TLSRoute', 'db', 1)[0]]).toEqual([['Accepted', 'False', 'UnsupportedValue'], ['Accepted', 'True', 'Accepted']]);
    expect(edgeOf(r).ports.find((p) => p.protocol === 'TLS')!.listeners[0]!.streams.map((x) => x.name)).toEqual(['db']);
  });
});

const CLASS = `${TRELLIS_GATEWAY_CLASS_YAML}
---
`;

/** edge: a TLS passthrough listener for *.example.com on 8443, a TCP listener on 5432, an HTTP one on 8080. */
const EDGE = (tlsMode = 'Passthrough', tcpKinds = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: demo}
spec:
  gatewayClassName: trellis
  listeners:
  - {name: tls, port: 8443, protocol: TLS, hostname: "*.example.com", tls: {mode: ${tlsMode}${tlsMode === 'Terminate' ? ', certificateRefs: [{name: cert}]' : ''}}}
  - {name: tcp, port: 5432, protocol: TCP${tcpKinds}}
  - {name: http, port: 8080, protocol: HTTP}
---
`;

const tlsRoute = (name: string, hostnames: string, backends: string, o: { created?: string; parent?: string } = {}) => `apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: ${name}, namespace: demo${o.created ? `, creationTimestamp: "${o.created}"` : ''}}
spec:
  parentRefs: [${o.parent ?? '{name: edge}'}]
  hostnames: [${hostnames}]
  rules: [{backendRefs: [${backends}]}]
---
`;
const gatewayTcpRoute = (name: string, backends: string, o: { created?: string; parent?: string } = {}) => tcpRoute(name, `
parentRefs: [${o.parent ?? '{name: edge, sectionName: tcp}'}]
rules: [{backendRefs: [${backends}]}]
`, o);

const edgeOf = (r: ReturnType<typeof buildWith>) => r.model.gateways.get('demo/edge')!;
const listenerStatus = (r: ReturnType<typeof buildWith>, name: string) => statusOf(r, 'Gateway', 'edge').listeners!.find((l) => l.name === name)!;

describe('issue 10: TLS passthrough and TCP listeners of a Trellis Gateway, in the model', () => {
  it('a TLSRoute on the TLS listener takes its SNI names, a TCPRoute the TCP listener with weighted backends; listeners say what they carry and how many routes', () => {
    const r = build(CLASS + EDGE() + tlsRoute('db-tls', 'db.example.com', '{name: db-v1, port: 5432}') + gatewayTcpRoute('db-tcp', '{name: db-v1, port: 5432, weight: 90}, {name: db-v2, port: 5432, weight: 10}'));
    expect(problemsOf(r)).toEqual([]);
    const ports = edgeOf(r).ports.map((p) => [p.port, p.protocol, p.listeners.map((l) => l.streams.map((s) => [s.kind, s.name, s.hostnames, s.backends.map((b) => `${b.name}:${b.weight}`)]))]);
    expect(ports).toEqual([
      [5432, 'TCP', [[['TCPRoute', 'db-tcp', [], ['db-v1:90', 'db-v2:10']]]]],
      [8080, 'HTTP', [[]]],
      [8443, 'TLS', [[['TLSRoute', 'db-tls', ['db.example.com'], ['db-v1:1']]]]],
    ]);
    expect([listenerStatus(r, 'tls'), listenerStatus(r, 'tcp')].map((l) => [l.supportedKinds.map((k) => k.kind), l.attachedRoutes])).toEqual([[['TLSRoute'], 1], [['TCPRoute'], 1]]);
    expect(conditions(r, 'TLSRoute', 'db-tls')).toEqual([['Accepted', 'True', 'Accepted'], ['ResolvedRefs', 'True', 'ResolvedRefs']]);
    expect(conditions(r, 'TCPRoute', 'db-tcp')).toEqual([['Accepted', 'True', 'Accepted'], ['ResolvedRefs', 'True', 'ResolvedRefs']]);
  });

  it('a TLS listener that would terminate TLS is not served (Accepted=False UnsupportedValue); the others are', () => {
    const r = build(CLASS + EDGE('Terminate'));
    expect(listenerStatus(r, 'tls').conditions.map((c) => [c.type, c.status, c.reason])).toContainEqual(['Accepted', 'False', 'UnsupportedValue']);
    expect(edgeOf(r).ports.map((p) => p.protocol)).toEqual(['TCP', 'HTTP']);
  });

  it('two TCPRoutes on one TCP listener: the older takes it, the newer is Conflicted for that parent', () => {
    const r = build(CLASS + EDGE() + gatewayTcpRoute('a-newer', '{name: db-v2, port: 5432}', { created: '2026-12-05T10:00:00Z' }) + gatewayTcpRoute('z-older', '{name: db-v1, port: 5432}', { created: '2026-12-01T10:00:00Z' }));
    expect(edgeOf(r).ports[0]!.listeners[0]!.streams.map((s) => s.name)).toEqual(['z-older']);
    expect(conditions(r, 'TCPRoute', 'a-newer')[0]).toEqual(['Accepted', 'False', 'Conflicted']);
    expect(listenerStatus(r, 'tcp').attachedRoutes).toBe(1);
  });

  it('two TLSRoutes naming one SNI name: the older keeps it, the newer takes only the names left (none left: Conflicted)', () => {
    const r = build(CLASS + EDGE()
      + tlsRoute('old', 'db.example.com', '{name: db-v1, port: 5432}', { created: '2026-12-01T10:00:00Z' })
      + tlsRoute('new', 'db.example.com, pg.example.com', '{name: db-v2, port: 5432}', { created: '2026-12-02T10:00:00Z' })
      + tlsRoute('newest', 'db.example.com', '{name: db-v2, port: 5432}', { created: '2026-12-03T10:00:00Z' }));
    const tls = edgeOf(r).ports.find((p) => p.protocol === 'TLS')!.listeners[0]!;
    expect(tls.streams.map((s) => [s.name, s.hostnames])).toEqual([['old', ['db.example.com']], ['new', ['pg.example.com']]]);
    expect(conditions(r, 'TLSRoute', 'newest')[0]).toEqual(['Accepted', 'False', 'Conflicted']);
  });

  it('kinds and hostnames: a TLSRoute on the HTTP listener and an HTTPRoute on the TLS one are NotAllowedByListeners; a TLSRoute outside the listener\'s hostname is NoMatchingListenerHostname', () => {
    const r = build(CLASS + EDGE()
      + tlsRoute('on-http', 'db.example.com', '{name: db-v1, port: 5432}', { parent: '{name: edge, sectionName: http}' })
      + tlsRoute('elsewhere', 'db.example.org', '{name: db-v1, port: 5432}', { parent: '{name: edge, sectionName: tls}' })
      + `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: demo}
spec:
  parentRefs: [{name: edge, sectionName: tls}]
  rules: [{backendRefs: [{name: db, port: 8080}]}]
---
`);
    expect(conditions(r, 'TLSRoute', 'on-http')[0]).toEqual(['Accepted', 'False', 'NotAllowedByListeners']);
    expect(conditions(r, 'HTTPRoute', 'web')[0]).toEqual(['Accepted', 'False', 'NotAllowedByListeners']);
    expect(conditions(r, 'TLSRoute', 'elsewhere')[0]).toEqual(['Accepted', 'False', 'NoMatchingListenerHostname']);
  });

  it('allowedRoutes.kinds naming HTTPRoute on a TCP listener: InvalidRouteKinds (it carries TCPRoutes only)', () => {
    const r = build(CLASS + EDGE('Passthrough', ', allowedRoutes: {kinds: [{kind: HTTPRoute}]}'));
    expect(problemsOf(r).map((p) => [p.reason, p.field])).toEqual([['InvalidRouteKinds', 'spec.listeners[1].allowedRoutes.kinds[0]']]);
    expect(listenerStatus(r, 'tcp').conditions.map((c) => [c.type, c.status, c.reason])).toContainEqual(['ResolvedRefs', 'False', 'InvalidRouteKinds']);
  });

  it('a gateway route\'s backend in another namespace needs a ReferenceGrant (RefNotPermitted: its share refused)', () => {
    const r = build(CLASS + EDGE() + `apiVersion: v1
kind: Namespace
metadata: {name: data}
---
apiVersion: v1
kind: Service
metadata: {name: pg, namespace: data}
spec: {ports: [{name: pg, port: 5432, appProtocol: tcp}]}
---
` + gatewayTcpRoute('db-tcp', '{name: pg, namespace: data, port: 5432}'));
    expect(problemsOf(r).map((p) => [p.severity, p.reason, p.field])).toEqual([['warning', 'RefNotPermitted', 'spec.rules[0].backendRefs[0].namespace']]);
    expect(edgeOf(r).ports[0]!.listeners[0]!.streams[0]!.backends).toEqual([{ namespace: 'data', name: 'pg', port: 5432, weight: 1, found: false }]);
  });
});
