/**
 * Issue 11, egress in the model and the translator: an ExternalService gives
 * its hosts DNS-resolved clusters, virtual hosts (with TLS origination), SNI
 * and port chains in transparent mode, and refuses callers its sources leave
 * out; MeshConfig egress decides what happens to the undeclared. Bad input
 * (hostname, port, CA bundle, mode) is reported at its file, line and field.
 */
import { describe, expect, it } from 'vitest';
import { brief, buildWith, problemsOf } from '../../src/model/testing.ts';
import { proxyContext } from '../../src/translate/proxy.ts';
import { NODE_METADATA } from '../../src/translate/sidecar.ts';
import { encodeAll, meshWith, resourcesOf, unknownEnums } from '../../src/translate/testing.ts';
import { Translator } from '../../src/translate/translate.ts';
import { externalPki } from '../support/openssl-certs.ts';

type Json = Record<string, any>;
const pki = externalPki('api.payments.test');
const indent = (pem: string) => pem.trim().split('\n').map((l) => `      ${l}`).join('\n');

const external = (spec: string, name = 'payments') => `---
apiVersion: trellis.io/v1alpha1
kind: ExternalService
metadata: {name: ${name}, namespace: demo}
spec:
${spec}`;

const PAYMENTS = external(`  hosts: [api.payments.test]
  ports:
  - {port: 80, protocol: HTTP, targetPort: 443}
  - {port: 8443, protocol: TLS}
  tls:
    caBundle: |
${indent(pki.caPem)}
  timeouts: {request: 3s}
  circuitBreaker: {maxConnections: 10}
  sources: [{kind: ServiceAccount, name: client}]
`);
const DB = external(`  hosts: [db.example.test]
  ports: [{port: 5432, protocol: TCP}]
  addresses: [192.0.2.10]
`, 'db');
const REGISTRY_ONLY = 'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {egress: {mode: RegistryOnly}}\n';

function sidecar(intents: string, pod: string, mode: 'explicit' | 'transparent') {
  const model = meshWith(intents);
  const out = new Translator().translate(model, proxyContext({ id: pod, user_agent_name: 'envoy', metadata: { [NODE_METADATA.mode]: mode, [NODE_METADATA.workload]: pod } }, model));
  encodeAll(out);
  for (const [t, r] of resourcesOf(out)) expect(unknownEnums(t, r)).toEqual([]);
  const listener = out.listeners.find((l) => l.name === 'outbound') as Json;
  const vhosts = (out.routes[0]!.virtual_hosts ?? []) as Json[];
  return { out, listener, vhosts, cluster: (n: string) => out.clusters.find((c) => c.name === n) as Json | undefined };
}

describe('issue 11: ExternalService and egress in what sidecars receive', () => {
  it('a declared HTTP host: a LOGICAL_DNS cluster to its targetPort, TLS origination checked against the CA bundle, policy applied', () => {
    const { cluster, vhosts } = sidecar(PAYMENTS, 'demo/client', 'explicit');
    const c = cluster('external/api.payments.test:80')!;
    expect(c).toMatchObject({ type: 'LOGICAL_DNS', circuit_breakers: { thresholds: [{ max_connections: 10 }] } });
    expect(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: 'api.payments.test', port_value: 443 });
    const tls = c.transport_socket.typed_config;
    expect(tls.sni).toBe('api.payments.test');
    expect(tls.common_tls_context.validation_context.trusted_ca.inline_string).toBe(pki.caPem.replace(/\n$/, '\n'));
    expect(tls.common_tls_context.validation_context.match_typed_subject_alt_names).toEqual([{ san_type: 'DNS', matcher: { exact: 'api.payments.test' } }]);
    const v = vhosts.find((x) => x.name === 'external/api.payments.test:80')!;
    expect(v.domains).toEqual(['api.payments.test', 'api.payments.test:80']);
    expect(v.routes[0].route).toMatchObject({ cluster: 'external/api.payments.test:80', timeout: '3s' });
    // Explicit mode: no catch-all, no passthrough.
    expect(vhosts.some((x) => x.domains.includes('*'))).toBe(false);
  });

  it('brief conn: a TCP port with tls gets TLS origination on its cluster (SNI the host, the CA bundle, the SAN); a TLS port of the same service does not', () => {
    const db = external(`  hosts: [db.example.test]
  ports: [{port: 5432, protocol: TCP, targetPort: 6432}, {port: 9443, protocol: TLS}]
  addresses: [192.0.2.10]
  tls:
    subjectAltName: pg.example.test
    caBundle: |
${indent(pki.caPem)}
`, 'db');
    const tcp = (mode: 'explicit' | 'transparent') => {
      const { cluster } = sidecar(db, 'demo/client', mode);
      return cluster('external/db.example.test:5432')!;
    };
    for (const mode of ['explicit', 'transparent'] as const) {
      const c = tcp(mode);
      expect(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: 'db.example.test', port_value: 6432 });
      const tls = c.transport_socket.typed_config;
      expect(tls.sni).toBe('db.example.test');
      expect(tls.common_tls_context.validation_context.trusted_ca.inline_string).toBe(pki.caPem);
      expect(tls.common_tls_context.validation_context.match_typed_subject_alt_names).toEqual([{ san_type: 'DNS', matcher: { exact: 'pg.example.test' } }]);
    }
    expect(sidecar(db, 'demo/client', 'transparent').cluster('external/db.example.test:9443')!.transport_socket).toBeUndefined();
    // Without subjectAltName the name checked is the SNI.
    const { cluster } = sidecar(db.replace('    subjectAltName: pg.example.test\n', '    sni: other.example.test\n'), 'demo/client', 'explicit');
    const tls = cluster('external/db.example.test:5432')!.transport_socket.typed_config;
    expect([tls.sni, tls.common_tls_context.validation_context.match_typed_subject_alt_names[0].matcher.exact]).toEqual(['other.example.test', 'other.example.test']);
  });

  it('a caller its sources leave out: 403 from its own sidecar for HTTP, and no cluster', () => {
    const { cluster, vhosts } = sidecar(PAYMENTS, 'demo/web-v1', 'explicit');
    expect(cluster('external/api.payments.test:80')).toBeUndefined();
    const v = vhosts.find((x) => x.name === 'external/api.payments.test:80')!;
    expect(v.routes[0].direct_response.status).toBe(403);
    expect(v.routes[0].direct_response.body.inline_string).toContain('demo/payments');
  });

  it('transparent: TLS by SNI and port, TCP by port and addresses, HTTP by http_inspector; undeclared passes through', () => {
    const { listener, vhosts, cluster } = sidecar(PAYMENTS + DB, 'demo/client', 'transparent');
    expect(listener.listener_filters.map((f: Json) => f.name)).toEqual(['envoy.filters.listener.original_dst', 'envoy.filters.listener.tls_inspector', 'envoy.filters.listener.http_inspector']);
    // The HTTP ports' chains by address (src/translate/http-destinations.test.ts) left aside.
    listener.filter_chains = listener.filter_chains.filter((c: Json) => !String(c.name).startsWith('http:'));
    expect(listener.filter_chains.map((c: Json) => [c.name, c.filter_chain_match, c.filters[0].typed_config.cluster ?? 'hcm'])).toEqual([
      ['external/db.example.test:5432', { destination_port: 5432, prefix_ranges: [{ address_prefix: '192.0.2.10', prefix_len: 32 }] }, 'external/db.example.test:5432'],
      ['external/api.payments.test:8443', { destination_port: 8443, server_names: ['api.payments.test'], transport_protocol: 'tls' }, 'external/api.payments.test:8443'],
      ['outbound-http', { application_protocols: ['http/1.0', 'http/1.1', 'h2c'] }, 'hcm'],
    ]);
    // TLS egress is not terminated: no transport socket on its chain or cluster.
    expect(listener.filter_chains[1].transport_socket).toBeUndefined();
    expect(cluster('external/api.payments.test:8443')!.transport_socket).toBeUndefined();
    expect(listener.default_filter_chain.name).toBe('egress-passthrough');
    expect(listener.default_filter_chain.filters[0].typed_config.cluster).toBe('passthrough');
    expect(vhosts.at(-1)).toMatchObject({ name: 'egress-passthrough', domains: ['*'], routes: [{ route: { cluster: 'passthrough' } }] });
  });

  const byName = (out: { listeners: readonly object[] }, name: string) => out.listeners.find((l) => (l as Json).name === name) as Json | undefined;
  const chainsOf = (l: Json) => (l.filter_chains as Json[]).map((c) => [c.name, c.filter_chain_match, c.filters[0].typed_config.cluster]);

  it('explicit: TLS and TCP ports get local listeners on the outbound address (TLS by SNI, not terminated; TCP by port); HTTP stays on `outbound`', () => {
    const { out } = sidecar(PAYMENTS + DB, 'demo/client', 'explicit');
    const outbound = byName(out, 'outbound')!;
    const tls = byName(out, 'outbound-external:8443')!;
    expect(tls.address.socket_address).toEqual({ ...outbound.address.socket_address, port_value: 8443 });
    expect(tls.listener_filters.map((f: Json) => f.name)).toEqual(['envoy.filters.listener.tls_inspector']);
    expect(chainsOf(tls)).toEqual([['external/api.payments.test:8443', { destination_port: 8443, server_names: ['api.payments.test'], transport_protocol: 'tls' }, 'external/api.payments.test:8443']]);
    expect(tls.filter_chains[0].transport_socket).toBeUndefined();
    // TCP: the port alone (the application dials this listener, so `addresses` cannot tell anything); no inspector.
    const tcp = byName(out, 'outbound-external:5432')!;
    expect(tcp.listener_filters).toBeUndefined();
    expect(chainsOf(tcp)).toEqual([['external/db.example.test:5432', { destination_port: 5432 }, 'external/db.example.test:5432']]);
    expect(byName(out, 'outbound-external:80')).toBeUndefined();
    expect(out.clusters.map((c) => c.name)).not.toContain('egress-blocked');
  });

  it('explicit: a caller the sources leave out gets a chain that closes and logs; a port the sidecar already holds gets no listener', () => {
    const held = external(`  hosts: [q.example.test]\n  ports: [{port: 15001, protocol: TCP}]\n`, 'queue');
    const { out, cluster } = sidecar(PAYMENTS + DB + held, 'demo/web-v1', 'explicit');
    const tls = byName(out, 'outbound-external:8443')!;
    expect(chainsOf(tls)).toEqual([['external/api.payments.test:8443', { destination_port: 8443, server_names: ['api.payments.test'], transport_protocol: 'tls' }, 'egress-blocked']]);
    expect(JSON.stringify(tls.filter_chains[0].filters[0].typed_config.access_log)).toContain('ExternalService demo/payments does not admit this workload');
    expect(cluster('egress-blocked')).toMatchObject({ load_assignment: { endpoints: [] } });
    expect(chainsOf(byName(out, 'outbound-external:5432')!)[0]![2]).toBe('external/db.example.test:5432');
    expect(byName(out, 'outbound-external:15001')).toBeUndefined();
  });

  it('registry-only: undeclared HTTP gets a 502 naming why; other connections are closed and logged with their destination', () => {
    const { listener, vhosts, cluster } = sidecar(REGISTRY_ONLY + PAYMENTS, 'demo/client', 'transparent');
    const blocked = vhosts.at(-1)!;
    expect(blocked.name).toBe('egress-blocked');
    expect(blocked.routes[0].direct_response.status).toBe(502);
    expect(blocked.routes[0].direct_response.body.inline_string).toContain('registry-only');
    const d = listener.default_filter_chain;
    expect(d.name).toBe('egress-blocked');
    expect(d.filters[0].typed_config.cluster).toBe('egress-blocked');
    expect(d.filters[0].typed_config.access_log[0].typed_config.log_format.text_format_source.inline_string).toContain('destination=%DOWNSTREAM_LOCAL_ADDRESS%');
    expect(cluster('egress-blocked')!.load_assignment.endpoints).toEqual([]);
  });
});

describe('issue 11: bad ExternalService input, at its field; the rest is served', () => {
  it.each([
    { name: 'an upper-case hostname', spec: '  hosts: [Api.Example.com]\n  ports: [{port: 443, protocol: TLS}]\n', field: 'spec.hosts[0]' },
    { name: 'a wildcard host', spec: '  hosts: ["*.example.com"]\n  ports: [{port: 443, protocol: TLS}]\n', field: 'spec.hosts[0]' },
    { name: 'an IP as host', spec: '  hosts: [192.0.2.1]\n  ports: [{port: 443, protocol: TLS}]\n', field: 'spec.hosts[0]' },
    { name: 'a mesh service name as host', spec: '  hosts: [web.demo.svc.cluster.local]\n  ports: [{port: 80, protocol: HTTP}]\n', field: 'spec.hosts[0]' },
    { name: 'a host clients use for a mesh service', spec: '  hosts: [web.demo]\n  ports: [{port: 8080, protocol: HTTP}]\n', field: 'spec.hosts[0]', reason: 'Conflict' },
    { name: 'port 0', spec: '  hosts: [a.example.com]\n  ports: [{port: 0, protocol: TLS}]\n', field: 'spec.ports[0].port', reason: 'OutOfRange' },
    { name: 'port 70000', spec: '  hosts: [a.example.com]\n  ports: [{port: 70000, protocol: TLS}]\n', field: 'spec.ports[0].port', reason: 'OutOfRange' },
    { name: 'an unknown protocol', spec: '  hosts: [a.example.com]\n  ports: [{port: 53, protocol: UDP}]\n', field: 'spec.ports[0].protocol' },
    { name: 'a CA bundle that is no PEM', spec: '  hosts: [a.example.com]\n  ports: [{port: 80, protocol: HTTP}]\n  tls: {caBundle: "not a certificate"}\n', field: 'spec.tls.caBundle' },
    {
      name: 'a CA bundle with a broken certificate',
      spec: '  hosts: [a.example.com]\n  ports: [{port: 80, protocol: HTTP}]\n  tls:\n    caBundle: |\n      -----BEGIN CERTIFICATE-----\n      AAAA\n      -----END CERTIFICATE-----\n',
      field: 'spec.tls.caBundle',
    },
    { name: 'a server certificate given as CA bundle', spec: `  hosts: [a.example.com]\n  ports: [{port: 80, protocol: HTTP}]\n  tls:\n    caBundle: |\n${indent(pki.leafPem)}\n`, field: 'spec.tls.caBundle' },
    { name: 'brief conn: tls on a service of TLS ports only (nothing to originate)', spec: `  hosts: [a.example.com]\n  ports: [{port: 443, protocol: TLS}]\n  tls:\n    caBundle: |\n${indent(pki.caPem)}\n`, field: 'spec.tls' },
    { name: 'brief conn: a subjectAltName that is no DNS name', spec: `  hosts: [a.example.com]\n  ports: [{port: 5432, protocol: TCP}]\n  addresses: [192.0.2.1]\n  tls:\n    subjectAltName: "*.example.com"\n    caBundle: |\n${indent(pki.caPem)}\n`, field: 'spec.tls.subjectAltName' },
    { name: 'two hosts on a TCP port', spec: '  hosts: [a.example.com, b.example.com]\n  ports: [{port: 5432, protocol: TCP}]\n  addresses: [192.0.2.0/24]\n', field: 'spec.hosts' },
    { name: 'a bad address', spec: '  hosts: [a.example.com]\n  ports: [{port: 5432, protocol: TCP}]\n  addresses: [192.0.2.0/33]\n', field: 'spec.addresses[0]' },
  ])('$name: $field', ({ spec, field, reason }) => {
    const errors = problemsOf(buildWith(external(spec, 'bad'))).filter((p) => p.severity === 'error').map(brief);
    expect(errors).toEqual([expect.objectContaining({ kind: 'ExternalService', name: 'bad', field, file: 'intents.yaml', ...(reason ? { reason } : {}) })]);
    expect(errors[0]!.line).toBeGreaterThan(4);
  });

  it('a host and port declared twice: the older keeps it, the other is rejected (Conflict)', () => {
    const errors = problemsOf(buildWith(PAYMENTS + PAYMENTS.replace('name: payments', 'name: payments-2'))).filter((p) => p.severity === 'error').map(brief);
    expect(errors).toEqual([expect.objectContaining({ name: 'payments-2', field: 'spec.ports[0]', reason: 'Conflict' })]);
  });

  it('MeshConfig egress mode other than Passthrough/RegistryOnly', () => {
    const errors = problemsOf(buildWith(REGISTRY_ONLY.replace('RegistryOnly', 'Closed'))).filter((p) => p.severity === 'error').map(brief);
    expect(errors).toEqual([expect.objectContaining({ kind: 'MeshConfig', field: 'spec.egress.mode', reason: 'InvalidValue' })]);
  });
});
