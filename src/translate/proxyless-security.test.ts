/**
 * Proxyless gRPC security (issue 11, gRFC A29/A36/A41): a proxyless node that
 * declares the certificate provider instance gets clusters whose mTLS names
 * it, and, for each gRPC port its workload serves, the server Listener its
 * xDS-enabled server asks for, with mTLS required and the RBAC filter of
 * the same TrafficTargets; a node without it gets what it always got.
 */
import { describe, expect, it } from 'vitest';
import { proxyContext } from './proxy.ts';
import { CERTIFICATE_PROVIDER_METADATA } from './proxyless-security.ts';
import { NODE_METADATA } from './sidecar.ts';
import { encodeAll, meshWith, resourcesOf, STRICT, unknownEnums } from './testing.ts';
import { Translator } from './translate.ts';

type Json = Record<string, any>;
const TARGET = `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-web, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: demo}
  sources: [{kind: ServiceAccount, name: client}]
---
`;

function proxyless(pod: string, secure: boolean, intents = STRICT + TARGET) {
  const model = meshWith(intents);
  const metadata = { [NODE_METADATA.workload]: pod, ...(secure ? { [CERTIFICATE_PROVIDER_METADATA]: 'trellis' } : {}) };
  const out = new Translator().translate(model, proxyContext({ id: pod, user_agent_name: 'grpc-python', metadata }, model));
  encodeAll(out);
  for (const [t, r] of resourcesOf(out)) expect(unknownEnums(t, r)).toEqual([]);
  return out;
}

describe('issue 11: proxyless gRPC mTLS and RBAC', () => {
  it('client (A29): the cluster presents and checks certificates from the provider instance, with the destination’s SPIFFE IDs', () => {
    const c = proxyless('demo/client', true).clusters.find((x) => x.name === 'web.demo:9090') as Json;
    expect(c.transport_socket.typed_config.common_tls_context).toEqual({
      tls_certificate_provider_instance: { instance_name: 'trellis', certificate_name: 'default' },
      validation_context: {
        ca_certificate_provider_instance: { instance_name: 'trellis', certificate_name: 'default' },
        match_subject_alt_names: [{ exact: 'spiffe://cluster.local/ns/demo/sa/web' }],
      },
    });
  });

  it('server (A36 + A29 + A41): a listener per address of each gRPC port, mTLS required, RBAC from the TrafficTargets', () => {
    const out = proxyless('demo/web-v1', true);
    const servers = out.listeners.filter((l) => l.name?.startsWith('trellis/server')) as Json[];
    expect(servers.map((l) => [l.name, l.address.socket_address.address, l.address.socket_address.port_value])).toEqual([
      ['trellis/server?address=127.0.0.3:9090', '127.0.0.3', 9090],
      ['trellis/server?address=0.0.0.0:9090', '0.0.0.0', 9090],
      ['trellis/server?address=[::]:9090', '::', 9090],
    ]);
    const chain = servers[0]!.filter_chains[0];
    expect(chain.transport_socket.typed_config.require_client_certificate).toBe(true);
    const hcm = chain.filters[0].typed_config;
    expect(hcm.http_filters.map((f: Json) => f.name)).toEqual(['envoy.filters.http.rbac', 'envoy.filters.http.router']);
    expect(hcm.http_filters[0].typed_config.rules.policies['demo/client-to-web'].principals).toEqual([{ authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/demo/sa/client' } } }]);
    expect(hcm.route_config.virtual_hosts[0].routes[0]).toEqual({ match: { prefix: '/' }, non_forwarding_action: {} });
  });

  it('permissive authorization: the server listener has no RBAC filter, mTLS still required', () => {
    const out = proxyless('demo/web-v1', true, '');
    const hcm = (out.listeners.find((l) => l.name === 'trellis/server?address=0.0.0.0:9090') as Json).filter_chains[0].filters[0].typed_config;
    expect(hcm.http_filters.map((f: Json) => f.name)).toEqual(['envoy.filters.http.router']);
  });

  it('a proxyless node without the certificate provider gets plaintext config and no server listeners, as before', () => {
    const out = proxyless('demo/web-v1', false);
    expect(out.listeners.some((l) => l.name?.startsWith('trellis/server'))).toBe(false);
    expect(out.clusters.every((c) => c.transport_socket === undefined)).toBe(true);
  });
});
