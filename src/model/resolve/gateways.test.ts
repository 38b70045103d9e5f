/**
 * issue 10 (north-south): Gateways of Trellis's GatewayClass in the model:
 * listeners, certificates, attached routes, and the status the spec defines
 * for the GatewayClass, the Gateway, each listener and each route parent.
 */
import { describe, expect, it } from 'vitest';
import { buildWith, problemsOf } from '../testing.ts';
import { tlsPair, tlsSecretYaml, TRELLIS_GATEWAY_CLASS_YAML } from '../gateway-testing.ts';
import { intersectHostnames } from './hostnames.ts';

const CLASS = `${TRELLIS_GATEWAY_CLASS_YAML}
---
`;

const pair = tlsPair(['web.example.com']);

const gateway = (listeners: string, ns = 'demo', extraMeta = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: ${ns}${extraMeta}}
spec:
  gatewayClassName: trellis
  listeners:
${listeners.trim().split('\n').map((l) => `  ${l}`).join('\n')}
---
`;

const HTTP_AND_HTTPS = gateway(`
- {name: http, port: 8080, protocol: HTTP}
- name: https
  port: 8443
  protocol: HTTPS
  hostname: web.example.com
  tls: {mode: Terminate, certificateRefs: [{name: web-cert}]}
`);

const route = (name: string, spec: string, ns = 'demo') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec.trim().split('\n').map((l) => `  ${l}`).join('\n')}
---
`;

const statusOf = (r: ReturnType<typeof buildWith>, kind: string, name: string) => r.statuses.find((s) => s.kind === kind && s.name === name)!;
const conditions = (cs: readonly { type: string; status: string; reason: string }[]) => cs.map((c) => `${c.type}=${c.status}/${c.reason}`);

describe('issue 10: Trellis Gateways in the model', () => {
  it('a GatewayClass of Trellis is Accepted with SupportedFeatures; its Gateway is Accepted and Programmed, each listener with its conditions and attachedRoutes', () => {
    const r = buildWith(CLASS + tlsSecretYaml('demo', 'web-cert', pair) + HTTP_AND_HTTPS + route('web', `
parentRefs: [{name: edge}]
rules: [{matches: [{path: {type: PathPrefix, value: /api}}], backendRefs: [{name: web-v1, port: 8080}]}]
`));
    expect(problemsOf(r)).toEqual([]);
    expect(statusOf(r, 'GatewayClass', 'trellis').supportedFeatures).toEqual(expect.arrayContaining(['Gateway', 'HTTPRoute', 'GRPCRoute', 'ReferenceGrant']));
    const g = statusOf(r, 'Gateway', 'edge');
    expect(conditions(g.conditions)).toEqual(['Accepted=True/Accepted', 'Programmed=True/Programmed']);
    expect(g.listeners!.map((l) => [l.name, l.attachedRoutes, conditions(l.conditions)])).toEqual([
      ['http', 1, ['Accepted=True/Accepted', 'Conflicted=False/NoConflicts', 'ResolvedRefs=True/ResolvedRefs', 'Programmed=True/Programmed']],
      ['https', 1, ['Accepted=True/Accepted', 'Conflicted=False/NoConflicts', 'ResolvedRefs=True/ResolvedRefs', 'Programmed=True/Programmed']],
    ]);
    expect(g.listeners![0]!.supportedKinds).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }, { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute' }]);
    const gw = r.model.gateways.get('demo/edge')!;
    expect(gw).toMatchObject({ serviceAccount: 'edge', identity: 'spiffe://cluster.local/ns/demo/sa/edge' });
    expect(gw.ports.map((p) => [p.port, p.protocol, p.listeners.map((l) => [l.name, l.hostname, l.certificates.map((c) => c.secret), l.routes.map((x) => [x.name, x.hostnames])])])).toEqual([
      [8080, 'HTTP', [['http', undefined, [], [['web', []]]]]],
      [8443, 'HTTPS', [['https', 'web.example.com', ['demo/web-cert'], [['web', ['web.example.com']]]]]],
    ]);
    const parent = statusOf(r, 'HTTPRoute', 'web').parents![0]!;
    expect(parent.ours).toBe(true);
    expect(conditions(parent.conditions)).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=True/ResolvedRefs']);
  });

  it('the service account annotation names the gateway identity', () => {
    const r = buildWith(CLASS + gateway('- {name: http, port: 8080, protocol: HTTP}', 'demo', ', annotations: {trellis.io/service-account: ingress}'));
    expect(r.model.gateways.get('demo/edge')!.identity).toBe('spiffe://cluster.local/ns/demo/sa/ingress');
  });

  it('how it runs in a cluster (annotations trellis.io/gateway-service-type, -replicas): a value Trellis cannot read is a warning naming the annotation; the Gateway is still programmed', () => {
    const ok = buildWith(CLASS + gateway('- {name: http, port: 8080, protocol: HTTP}', 'demo', ', annotations: {trellis.io/gateway-service-type: NodePort, trellis.io/gateway-replicas: "2"}'));
    expect(problemsOf(ok)).toEqual([]);
    const r = buildWith(CLASS + gateway('- {name: http, port: 8080, protocol: HTTP}', 'demo', ', annotations: {trellis.io/gateway-service-type: External, trellis.io/gateway-replicas: two}'));
    expect(problemsOf(r).map((p) => [p.severity, p.reason, p.field])).toEqual([
      ['warning', 'InvalidValue', 'metadata.annotations.trellis.io/gateway-service-type'],
      ['warning', 'InvalidValue', 'metadata.annotations.trellis.io/gateway-replicas'],
    ]);
    expect(problemsOf(r)[1]!.message).toMatch(/"two" is not a number of replicas.*leaves this Gateway's Deployment and Service as they are/);
    expect(r.model.gateways.has('demo/edge')).toBe(true);
  });

  it('route parents: sectionName and port select listeners; NoMatchingParent, NotAllowedByListeners and NoMatchingListenerHostname as the spec says', () => {
    const r = buildWith(CLASS + tlsSecretYaml('demo', 'web-cert', pair) + HTTP_AND_HTTPS + `apiVersion: v1
kind: Namespace
metadata: {name: other}
---
` + route('https-only', `
parentRefs: [{name: edge, sectionName: https}]
hostnames: ["*.example.com", other.org]
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`) + route('no-listener', `
parentRefs: [{name: edge, sectionName: grpc}]
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`) + route('wrong-port', `
parentRefs: [{name: edge, port: 9999}]
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`) + route('elsewhere', `
parentRefs: [{name: edge, namespace: demo}]
rules: [{backendRefs: [{name: web-v1, port: 8080, namespace: demo}]}]
`, 'other') + route('other-host', `
parentRefs: [{name: edge, sectionName: https}]
hostnames: [api.example.org]
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`));
    const reason = (name: string) => conditions(statusOf(r, 'HTTPRoute', name).parents![0]!.conditions)[0];
    expect(reason('https-only')).toBe('Accepted=True/Accepted');
    expect(r.model.gateways.get('demo/edge')!.ports[1]!.listeners[0]!.routes.map((x) => [x.name, x.hostnames])).toEqual([['https-only', ['web.example.com']]]);
    expect(reason('no-listener')).toBe('Accepted=False/NoMatchingParent');
    expect(reason('wrong-port')).toBe('Accepted=False/NoMatchingParent');
    expect(reason('elsewhere')).toBe('Accepted=False/NotAllowedByListeners');
    expect(reason('other-host')).toBe('Accepted=False/NoMatchingListenerHostname');
    const p = problemsOf(r).find((x) => x.name === 'no-listener')!;
    expect([p.field, p.message]).toEqual(['spec.parentRefs[0].sectionName', expect.stringContaining('has no listener named "grpc"')]);
    expect(statusOf(r, 'Gateway', 'edge').listeners!.map((l) => l.attachedRoutes)).toEqual([0, 1]);
  });

  it('allowedRoutes: All and a namespace Selector take routes from other namespaces; kinds it cannot carry are InvalidRouteKinds', () => {
    const r = buildWith(CLASS + `apiVersion: v1
kind: Namespace
metadata: {name: team, labels: {gateway-access: "yes"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: stranger}
---
` + gateway(`
- name: shared
  port: 8080
  protocol: HTTP
  allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {gateway-access: "yes"}}}}
- name: open
  port: 8081
  protocol: HTTP
  allowedRoutes: {namespaces: {from: All}, kinds: [{kind: HTTPRoute}, {kind: TCPRoute}]}
`) + route('team', `
parentRefs: [{name: edge, namespace: demo, sectionName: shared}]
rules: [{backendRefs: [{name: web-v1, port: 8080, namespace: demo}]}]
`, 'team') + route('stranger', `
parentRefs: [{name: edge, namespace: demo, sectionName: shared}]
rules: [{backendRefs: [{name: web-v1, port: 8080, namespace: demo}]}]
`, 'stranger') + route('anyone', `
parentRefs: [{name: edge, namespace: demo, sectionName: open}]
rules: [{backendRefs: [{name: x, port: 80}]}]
`, 'stranger'));
    const reason = (name: string) => conditions(statusOf(r, 'HTTPRoute', name).parents![0]!.conditions)[0];
    expect([reason('team'), reason('stranger'), reason('anyone')]).toEqual(['Accepted=True/Accepted', 'Accepted=False/NotAllowedByListeners', 'Accepted=True/Accepted']);
    const open = statusOf(r, 'Gateway', 'edge').listeners![1]!;
    expect(open.supportedKinds).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
    expect(conditions(open.conditions)).toContain('ResolvedRefs=False/InvalidRouteKinds');
  });

  it('a backend in another namespace needs a ReferenceGrant (RefNotPermitted: its share gets 500); the grant lets it through', () => {
    const base = CLASS + gateway('- {name: http, port: 8080, protocol: HTTP}', 'edge-ns') + `apiVersion: v1
kind: Namespace
metadata: {name: edge-ns}
---
` + route('web', `
parentRefs: [{name: edge}]
rules: [{backendRefs: [{name: web-v1, namespace: demo, port: 8080}]}]
`, 'edge-ns');
    const refused = buildWith(base);
    const parent = statusOf(refused, 'HTTPRoute', 'web').parents![0]!;
    expect(conditions(parent.conditions)).toEqual(['Accepted=True/Accepted', 'ResolvedRefs=False/RefNotPermitted']);
    expect(refused.model.gateways.get('edge-ns/edge')!.ports[0]!.listeners[0]!.routes[0]!.rules[0]!.backends[0]!.found).toBe(false);
    const granted = buildWith(base + `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: edge-to-web, namespace: demo}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: edge-ns}]
  to: [{group: "", kind: Service}]
`);
    expect(conditions(statusOf(granted, 'HTTPRoute', 'web').parents![0]!.conditions)[1]).toBe('ResolvedRefs=True/ResolvedRefs');
    expect(granted.model.gateways.get('edge-ns/edge')!.ports[0]!.listeners[0]!.routes[0]!.rules[0]!.backends[0]!.found).toBe(true);
  });

  it('listener conflicts and protocols: a second protocol on a port is ProtocolConflict, a taken hostname HostnameConflict, UDP UnsupportedProtocol (TLS and TCP: stream-routes.test.ts); the others keep serving', () => {
    const r = buildWith(CLASS + tlsSecretYaml('demo', 'web-cert', pair) + gateway(`
- {name: http, port: 8080, protocol: HTTP}
- {name: again, port: 8080, protocol: HTTP}
- name: https
  port: 8080
  protocol: HTTPS
  hostname: web.example.com
  tls: {certificateRefs: [{name: web-cert}]}
- {name: udp, port: 8443, protocol: UDP}
`));
    const ls = statusOf(r, 'Gateway', 'edge').listeners!;
    expect(ls.map((l) => conditions(l.conditions).filter((c) => !c.endsWith('/Accepted') && !c.endsWith('NoConflicts') && !c.endsWith('/ResolvedRefs')))).toEqual([
      ['Programmed=True/Programmed'],
      ['Conflicted=True/HostnameConflict', 'Programmed=False/Invalid'],
      ['Conflicted=True/ProtocolConflict', 'Programmed=False/Invalid'],
      ['Accepted=False/UnsupportedProtocol', 'Programmed=False/Invalid'],
    ]);
    expect(problemsOf(r).map((p) => [p.severity, p.reason, p.field])).toEqual([
      ['warning', 'HostnameConflict', 'spec.listeners[1].hostname'],
      ['warning', 'ProtocolConflict', 'spec.listeners[2].protocol'],
      ['warning', 'UnsupportedProtocol', 'spec.listeners[3].protocol'],
    ]);
    expect(r.model.gateways.get('demo/edge')!.ports.map((p) => p.listeners.map((l) => l.name))).toEqual([['http']]);
  });

  it('ListenersNotValid (GatewayListenerUnsupportedProtocol, GatewayInvalidTLSConfiguration): a Gateway with no servable listener is not accepted yet says each listener\'s conditions; one with some says ListenersNotValid while accepted', () => {
    const only = buildWith(CLASS + gateway('- {name: invalid, port: 1111, protocol: INVALID}'));
    const g = statusOf(only, 'Gateway', 'edge');
    expect(conditions(g.conditions)).toEqual(['Accepted=False/ListenersNotValid', 'Programmed=False/Invalid']);
    expect(g.listeners!.map((l) => [l.name, l.supportedKinds, l.attachedRoutes, conditions(l.conditions)])).toEqual([
      ['invalid', [], 0, ['Accepted=False/UnsupportedProtocol', 'Conflicted=False/NoConflicts', 'ResolvedRefs=True/ResolvedRefs', 'Programmed=False/Invalid']],
    ]);
    expect(only.model.gateways.size).toBe(0);
    const some = statusOf(buildWith(CLASS + gateway('- {name: http, port: 8080, protocol: HTTP}\n- {name: invalid, port: 1111, protocol: INVALID}')), 'Gateway', 'edge');
    expect(conditions(some.conditions)).toEqual(['Accepted=True/ListenersNotValid', 'Programmed=True/Programmed']);
    expect(some.listeners!.map((l) => conditions(l.conditions)[0])).toEqual(['Accepted=True/Accepted', 'Accepted=False/UnsupportedProtocol']);
    const noCert = statusOf(buildWith(CLASS + gateway('- {name: https, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: nonexistent}]}}')), 'Gateway', 'edge');
    expect(conditions(noCert.conditions)).toEqual(['Accepted=False/ListenersNotValid', 'Programmed=False/Invalid']);
    expect(noCert.listeners!.map((l) => [l.supportedKinds.map((k) => k.kind), conditions(l.conditions)])).toEqual([
      [['HTTPRoute', 'GRPCRoute'], ['Accepted=True/Accepted', 'Conflicted=False/NoConflicts', 'ResolvedRefs=False/InvalidCertificateRef', 'Programmed=False/Invalid']],
    ]);
  });

  it('attachedRoutes (GatewayWithAttachedRoutes): a route attached by parentRefs, allowedRoutes and hostname counts on a listener that is not served, and a namespace selector may use kubernetes.io/metadata.name, which every namespace carries', () => {
    const selector = 'allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {kubernetes.io/metadata.name: demo}}}}';
    const r = buildWith(CLASS + gateway(`
- name: http
  port: 8080
  protocol: HTTP
  hostname: foo.example.com
  ${selector}
- name: tls
  port: 8443
  protocol: HTTPS
  ${selector}
  tls: {certificateRefs: [{name: does-not-exist}]}
`) + route('one', `
parentRefs: [{name: edge, sectionName: http}]
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`) + route('other-host', `
parentRefs: [{name: edge, sectionName: http}]
hostnames: [not-accepted.test.com]
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`) + route('unresolved', `
parentRefs: [{name: edge, sectionName: tls}]
rules: [{backendRefs: [{name: does-not-exist, port: 8080}]}]
`) + route('elsewhere', `
parentRefs: [{name: edge, namespace: demo}]
rules: [{backendRefs: [{name: web-v1, port: 8080, namespace: demo}]}]
`, 'team'));
    const g = statusOf(r, 'Gateway', 'edge');
    expect(g.listeners!.map((l) => [l.name, l.attachedRoutes, conditions(l.conditions).filter((c) => c.startsWith('Programmed') || c.startsWith('ResolvedRefs'))])).toEqual([
      ['http', 1, ['ResolvedRefs=True/ResolvedRefs', 'Programmed=True/Programmed']],
      ['tls', 1, ['ResolvedRefs=False/InvalidCertificateRef', 'Programmed=False/Invalid']],
    ]);
    expect(conditions(statusOf(r, 'HTTPRoute', 'other-host').parents![0]!.conditions)).toEqual(['Accepted=False/NoMatchingListenerHostname', 'ResolvedRefs=True/ResolvedRefs']);
    expect(conditions(statusOf(r, 'HTTPRoute', 'unresolved').parents![0]!.conditions)[1]).toBe('ResolvedRefs=False/BackendNotFound');
    expect(conditions(statusOf(r, 'HTTPRoute', 'elsewhere').parents![0]!.conditions)[0]).toBe('Accepted=False/NotAllowedByListeners');
    // The Gateway whose only listener is not served is not accepted; the route on it still counts.
    const alone = statusOf(buildWith(CLASS + gateway(`- {name: tls, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: none}]}}`) + route('unresolved', `
parentRefs: [{name: edge, sectionName: tls}]
rules: [{backendRefs: [{name: web-v1, port: 8080}]}]
`)), 'Gateway', 'edge');
    expect(alone.listeners!.map((l) => l.attachedRoutes)).toEqual([1]);
  });

  it('certificateRefs: a missing or non-TLS Secret is InvalidCertificateRef, another namespace without a ReferenceGrant RefNotPermitted, and the listener is not programmed', () => {
    const https = (ref: string) => gateway(`
- name: https
  port: 8443
  protocol: HTTPS
  tls: {certificateRefs: [${ref}]}
- {name: http, port: 8080, protocol: HTTP}
`);
    const listenerOf = (r: ReturnType<typeof buildWith>) => conditions(statusOf(r, 'Gateway', 'edge').listeners![0]!.conditions);
    expect(listenerOf(buildWith(CLASS + https('{name: nothing}')))).toEqual(expect.arrayContaining(['ResolvedRefs=False/InvalidCertificateRef', 'Programmed=False/Invalid']));
    const opaque = `apiVersion: v1\nkind: Secret\nmetadata: {name: opaque, namespace: demo}\nstringData: {password: x}\n---\n`;
    expect(listenerOf(buildWith(CLASS + opaque + https('{name: opaque}')))).toContain('ResolvedRefs=False/InvalidCertificateRef');
    const elsewhere = CLASS + tlsSecretYaml('certs', 'web-cert', pair) + https('{name: web-cert, namespace: certs}');
    expect(listenerOf(buildWith(elsewhere))).toContain('ResolvedRefs=False/RefNotPermitted');
    const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: gw, namespace: certs}
spec: {from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: demo}], to: [{group: "", kind: Secret, name: web-cert}]}
---
`;
    expect(listenerOf(buildWith(elsewhere + grant))).toEqual(expect.arrayContaining(['ResolvedRefs=True/ResolvedRefs', 'Programmed=True/Programmed']));
  });

  it('a kubernetes.io/tls Secret whose key is not its certificate\'s is rejected at tls.key, and no message quotes a value', () => {
    const other = tlsPair(['other.example.com']);
    const r = buildWith(tlsSecretYaml('demo', 'mixed', { certificatePem: pair.certificatePem, privateKeyPem: other.privateKeyPem }));
    expect(problemsOf(r).map((p) => [p.reason, p.field])).toEqual([['InvalidValue', 'data["tls.key"]']]);
    const bad = buildWith(`apiVersion: v1\nkind: Secret\nmetadata: {name: bad, namespace: demo}\ntype: kubernetes.io/tls\nstringData: {tls.crt: "-----BEGIN CERTIFICATE----- secret-ish", tls.key: 12}\n---\n`);
    expect(problemsOf(bad).map((p) => [p.reason, p.field])).toEqual([['InvalidType', 'stringData["tls.key"]'], ['Required', 'data']]);
    expect(JSON.stringify(bad.statuses)).not.toContain('secret-ish');
  });

  it('the private key appears in no status', () => {
    const r = buildWith(CLASS + tlsSecretYaml('demo', 'web-cert', pair) + HTTP_AND_HTTPS);
    const body = pair.privateKeyPem.split('\n')[1]!;
    expect(JSON.stringify(r.statuses)).not.toContain(body);
    expect(JSON.stringify(r.statuses)).not.toContain(Buffer.from(pair.privateKeyPem).toString('base64').slice(0, 40));
  });
});

describe('issue 10: hostname intersection (HTTPRouteSpec.hostnames)', () => {
  const cases: [string | undefined, string[], string[] | undefined][] = [
    [undefined, [], []],
    [undefined, ['a.example.com'], ['a.example.com']],
    ['a.example.com', [], ['a.example.com']],
    ['a.example.com', ['a.example.com', 'b.example.com'], ['a.example.com']],
    ['*.example.com', ['a.example.com', 'a.b.example.com', 'example.com', 'other.org'], ['a.example.com', 'a.b.example.com']],
    ['a.example.com', ['*.example.com'], ['a.example.com']],
    ['*.example.com', ['*.a.example.com'], ['*.a.example.com']],
    ['a.example.com', ['b.example.com'], undefined],
  ];
  it.each(cases)('listener %s, route %j -> %j', (listener, route, want) => {
    expect(intersectHostnames(listener, route)).toEqual(want);
  });
});

describe('issue 10: what a Trellis gateway does not do is said', () => {
  it('client certificate validation (spec.tls) is refused, so the Gateway is not served; addresses and TLS options are ignored with a warning', () => {
    const withTls = buildWith(CLASS + gateway('- {name: http, port: 8080, protocol: HTTP}').replace('  gatewayClassName: trellis\n', '  gatewayClassName: trellis\n  tls: {frontend: {default: {validation: {caCertificateRefs: [{name: ca}]}}}}\n'));
    expect(problemsOf(withTls).map((p) => [p.severity, p.reason, p.field])).toContainEqual(['error', 'UnsupportedValue', 'spec.tls']);
    expect(withTls.model.gateways.size).toBe(0);
    const withAddresses = buildWith(CLASS + gateway('- {name: http, port: 8080, protocol: HTTP}').replace('  gatewayClassName: trellis\n', '  gatewayClassName: trellis\n  addresses: [{value: 10.0.0.1}]\n'));
    expect(problemsOf(withAddresses).map((p) => [p.severity, p.reason, p.field])).toEqual([['warning', 'Ignored', 'spec.addresses']]);
    expect(withAddresses.model.gateways.size).toBe(1);
  });
});
