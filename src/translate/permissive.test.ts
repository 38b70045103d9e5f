/**
 * Incremental adoption in the translator (issue 11): a Permissive workload's
 * inbound ports take mTLS and plaintext (tls_inspector, a `tls` chain and a
 * `raw_buffer` twin with the same RBAC); a Strict one's do not change; a
 * meshed client calls destinations without a sidecar in plaintext, per
 * endpoint, visible in its clusters and EDS.
 */
import { describe, expect, it } from 'vitest';
import { clusterLoadAssignment } from './endpoints.ts';
import { proxyContext } from './proxy.ts';
import { NODE_METADATA } from './sidecar.ts';
import { encodeAll, meshWith, resourcesOf, STRICT, unknownEnums } from './testing.ts';
import { Translator } from './translate.ts';

type Json = Record<string, any>;

const PERMISSIVE_WEB = `apiVersion: trellis.io/v1alpha1
kind: MTLSPolicy
metadata: {name: web, namespace: demo}
spec: {mode: Permissive, targetRef: {kind: Pod, name: web-v1}}
---
`;

const LEGACY = `apiVersion: v1
kind: Pod
metadata: {name: legacy, namespace: demo, labels: {app: api}, annotations: {trellis.io/inject: disabled}}
spec:
  containers: [{name: app}]
status: {podIP: 127.0.0.9}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-1, namespace: demo, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [127.0.0.9]}, {addresses: [127.0.0.3]}]
---
apiVersion: v1
kind: Service
metadata: {name: vm, namespace: demo, annotations: {trellis.io/unmeshed-endpoints: plaintext}}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: vm, namespace: demo, labels: {kubernetes.io/service-name: vm}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints: [{addresses: [10.9.9.9]}]
---
`;

function translate(intents: string, pod: string, mode: 'explicit' | 'transparent') {
  const model = meshWith(intents);
  const out = new Translator().translate(model, proxyContext({ id: pod, user_agent_name: 'envoy', metadata: { [NODE_METADATA.mode]: mode, [NODE_METADATA.workload]: pod } }, model));
  encodeAll(out);
  for (const [t, r] of resourcesOf(out)) expect(unknownEnums(t, r)).toEqual([]);
  return { model, out };
}

const chainsOf = (l: Json) => (l.filter_chains as Json[]).map((c) => [c.name ?? null, c.filter_chain_match?.transport_protocol ?? null, c.transport_socket ? 'tls' : 'plain', c.filters[0].typed_config.stat_prefix]);
const filtersOf = (l: Json) => (l.listener_filters ?? []).map((f: Json) => f.name);

describe('issue 11: a Permissive workload takes mTLS and plaintext on the same port', () => {
  it('explicit: tls_inspector, the mTLS chain and its plaintext twin, both with the same RBAC', () => {
    const { out } = translate(STRICT + PERMISSIVE_WEB, 'demo/web-v1', 'explicit');
    const l = out.listeners.find((x) => x.name === 'inbound:8080') as Json;
    expect(filtersOf(l)).toEqual(['envoy.filters.listener.tls_inspector']);
    expect(chainsOf(l)).toEqual([
      ['inbound:8080', 'tls', 'tls', 'inbound_8080'],
      ['inbound:8080/plaintext', 'raw_buffer', 'plain', 'inbound_8080_plaintext'],
    ]);
    const rbac = (c: Json) => c.filters[0].typed_config.http_filters[0];
    expect(rbac(l.filter_chains[1])).toEqual(rbac(l.filter_chains[0]));
    expect(rbac(l.filter_chains[0]).name).toBe('envoy.filters.http.rbac');
  });

  it('transparent: each port of `inbound` gets both chains; passthrough and the refusal of 15006 stay', () => {
    const { out } = translate(PERMISSIVE_WEB, 'demo/web-v1', 'transparent');
    const l = out.listeners.find((x) => x.name === 'inbound') as Json;
    expect(filtersOf(l)).toEqual(['envoy.filters.listener.original_dst', 'envoy.filters.listener.tls_inspector']);
    expect(chainsOf(l).map((c) => c.slice(0, 3))).toEqual([
      ['inbound:8080', 'tls', 'tls'],
      ['inbound:8080/plaintext', 'raw_buffer', 'plain'],
      ['inbound:9090', 'tls', 'tls'],
      ['inbound:9090/plaintext', 'raw_buffer', 'plain'],
      ['inbound-direct', null, 'plain'],
    ]);
    expect(l.filter_chains[1].filter_chain_match.destination_port).toBe(8080);
  });

  it.each(['explicit', 'transparent'] as const)('a Strict workload (%s) is as before: no inspector, mTLS chains only', (mode) => {
    const { out } = translate(PERMISSIVE_WEB, 'demo/web-v2', mode);
    for (const l of out.listeners.filter((x) => (x.name ?? '').startsWith('inbound')) as Json[]) {
      expect(filtersOf(l)).not.toContain('envoy.filters.listener.tls_inspector');
      expect(chainsOf(l).every(([, tp]) => tp === null)).toBe(true);
    }
  });
});

describe('issue 11: a meshed client calls a destination without a sidecar in plaintext', () => {
  it('all endpoints without a sidecar: the cluster has no TLS; some: mTLS by default, plaintext for the marked endpoints', () => {
    const { model, out } = translate(LEGACY, 'demo/client', 'explicit');
    const cluster = (name: string) => out.clusters.find((c) => c.name === name) as Json;
    expect(cluster('vm.demo:80').transport_socket).toBeUndefined();
    expect(cluster('vm.demo:80').transport_socket_matches).toBeUndefined();
    const api = cluster('api.demo:8080');
    expect(api.transport_socket.name).toBe('envoy.transport_sockets.tls');
    expect(api.transport_socket_matches).toEqual([
      { name: 'plaintext', match: { plaintext: true }, transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } },
    ]);
    // A destination with sidecars everywhere is unchanged.
    expect(cluster('web.demo:8080').transport_socket_matches).toBeUndefined();
    // EDS marks the endpoint without a sidecar, and only it.
    const cla = clusterLoadAssignment('api.demo:8080', model.services.get('demo/api')!.ports[0]!.endpoints) as Json;
    const marks = cla.endpoints.flatMap((l: Json) => l.lb_endpoints.map((e: Json) => [e.endpoint.address.socket_address.address, e.metadata?.filter_metadata ?? null]));
    expect(marks).toEqual([['127.0.0.3', null], ['127.0.0.9', { 'envoy.transport_socket_match': { plaintext: true } }]]);
  });
});
