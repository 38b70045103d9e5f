/**
 * issue 15: RequestAuthentication → jwt_authn + claim RBAC on the destination
 * sidecar's inbound listeners, and the JWKS clusters. Envoy itself runs these
 * in test/e2e/authn-resilience.test.ts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NODE_METADATA } from './sidecar.ts';
import { proxyContext } from './proxy.ts';
import { deepFreeze, encodeAll, meshWith, STRICT, unknownEnums } from './testing.ts';
import { Translator } from './translate.ts';
import { TypeUrl } from '../xds/type-urls.ts';

type Json = any; // decoded config: tests walk it freely

const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
const JWKS = JSON.stringify({ keys: [{ ...jwk, kid: 'k1' }] });

const authn = (extra = '', target = '{kind: Service, name: web}') => `apiVersion: trellis.io/v1alpha1
kind: RequestAuthentication
metadata: {name: web-jwt, namespace: demo}
spec:
  targetRef: ${target}
  jwtRules:
  - issuer: https://auth.example.com
    audiences: [web]
    jwksUri: https://auth.example.com:8443/keys.json
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
  - issuer: local
    jwks: '${JWKS}'
    fromHeaders: [{name: x-token}]
${extra}---
`;
const RULES = `  rules:
  - claims: {scope: [orders.read]}
    sources: [{kind: ServiceAccount, name: client}]
`;
const TARGET = `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-web, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web}
  sources: [{kind: ServiceAccount, name: client}]
---
`;

function translate(intents: string, pod = 'demo/web-v1', mode: 'explicit' | 'transparent' = 'explicit') {
  const model = deepFreeze(meshWith(intents));
  return new Translator().translate(model, proxyContext({ id: pod, user_agent_name: 'envoy', metadata: { [NODE_METADATA.workload]: pod, [NODE_METADATA.mode]: mode } }, model));
}
const hcmOf = (chain: Json): Json => chain.filters[0].typed_config;
const filterNames = (chain: Json): string[] => hcmOf(chain).http_filters.map((f: Json) => f.name);

describe('issue 15: RequestAuthentication on the destination sidecar', () => {
  it('strict mode with claim rules: jwt_authn, then the TrafficTarget RBAC, then the claim RBAC, then the router', () => {
    const out = translate(STRICT + TARGET + authn(RULES));
    const l = out.listeners.find((x) => x.name === 'inbound:8080') as Json;
    expect(filterNames(l.filter_chains[0])).toEqual(['envoy.filters.http.jwt_authn', 'envoy.filters.http.rbac', 'trellis.claim_rbac', 'envoy.filters.http.router']);
    expect(() => encodeAll(out)).not.toThrow();
    for (const r of out.listeners) expect(unknownEnums(TypeUrl.Listener, r)).toEqual([]);
    for (const c of out.clusters) expect(unknownEnums(TypeUrl.Cluster, c)).toEqual([]);
  });

  it('jwt_authn: one provider per jwtRules entry, payload in metadata with scope as a list, a token required when there are rules', () => {
    const out = translate(authn(RULES));
    const jwt = hcmOf((out.listeners.find((x) => x.name === 'inbound:8080') as Json).filter_chains[0]).http_filters[0].typed_config;
    expect(Object.keys(jwt.providers)).toEqual(['demo/web-jwt#0', 'demo/web-jwt#1']);
    expect(jwt.providers['demo/web-jwt#0']).toMatchObject({
      issuer: 'https://auth.example.com', audiences: ['web'], forward: false, payload_in_metadata: 'payload',
      normalize_payload_in_metadata: { space_delimited_claims: ['scope', 'scp'] },
      from_headers: [{ name: 'authorization', value_prefix: 'Bearer ' }],
      claim_to_headers: [{ header_name: 'x-jwt-sub', claim_name: 'sub' }],
      remote_jwks: { http_uri: { uri: 'https://auth.example.com:8443/keys.json', cluster: 'jwks|https|auth.example.com|8443', timeout: '5s' }, cache_duration: '600s' },
    });
    expect(jwt.providers['demo/web-jwt#1']).toMatchObject({ local_jwks: { inline_string: JWKS }, from_headers: [{ name: 'x-token' }] });
    expect(jwt.rules).toEqual([{ match: { prefix: '/' }, requires: { requires_any: { requirements: [{ provider_name: 'demo/web-jwt#0' }, { provider_name: 'demo/web-jwt#1' }] } } }]);
  });

  it('without rules a token is optional (allow_missing) and there is no claim RBAC', () => {
    const out = translate(authn());
    const hcm = hcmOf((out.listeners.find((x) => x.name === 'inbound:8080') as Json).filter_chains[0]);
    expect(hcm.http_filters.map((f: Json) => f.name)).toEqual(['envoy.filters.http.jwt_authn', 'envoy.filters.http.router']);
    expect(hcm.http_filters[0].typed_config.rules[0].requires.requires_any.requirements.at(-1)).toEqual({ allow_missing: {} });
  });

  it('claim RBAC: each claim value as a string or a list member, AND the rule\'s sources', () => {
    const out = translate(authn(RULES));
    const rbac = hcmOf((out.listeners.find((x) => x.name === 'inbound:8080') as Json).filter_chains[0]).http_filters[1].typed_config;
    expect(rbac.rules.policies['demo/web-jwt#rule0'].principals).toEqual([{
      and_ids: {
        ids: [
          {
            metadata: {
              filter: 'envoy.filters.http.jwt_authn',
              path: [{ key: 'payload' }, { key: 'scope' }],
              value: { or_match: { value_matchers: [{ string_match: { exact: 'orders.read' } }, { list_match: { one_of: { string_match: { exact: 'orders.read' } } } }] } },
            },
          },
          { or_ids: { ids: [{ authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/demo/sa/client' } } }] } },
        ],
      },
    }]);
  });

  it('the JWKS host gets one cluster, TLS verified against the system bundle with its DNS name; inline keys need none', () => {
    const out = translate(authn());
    const jwks = out.clusters.filter((c) => c.name!.startsWith('jwks|'));
    expect(jwks).toHaveLength(1);
    expect(jwks[0]).toMatchObject({ name: 'jwks|https|auth.example.com|8443', type: 'STRICT_DNS', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'auth.example.com', port_value: 8443 } } } }] }] } });
    expect((jwks[0] as Json).transport_socket.typed_config).toMatchObject({ sni: 'auth.example.com', common_tls_context: { validation_context: { trusted_ca: { filename: '/etc/ssl/certs/ca-certificates.crt' } } } });
  });

  it('transparent mode: the port\'s filter chain carries the same filters; a port-specific RequestAuthentication covers only its port', () => {
    const out = translate(authn('', '{kind: Service, name: web, port: http}'), 'demo/web-v1', 'transparent');
    const inbound = out.listeners.find((x) => x.name === 'inbound') as Json;
    const chain = (port: number) => inbound.filter_chains.find((c: Json) => c.filter_chain_match?.destination_port === port);
    expect(filterNames(chain(8080))).toEqual(['envoy.filters.http.jwt_authn', 'envoy.filters.http.router']);
    expect(filterNames(chain(9090))).toEqual(['envoy.filters.http.router']);
    expect(out.clusters.map((c) => c.name)).toContain('jwks|https|auth.example.com|8443');
  });

  it('callers are untouched: a client proxy gets no jwt_authn and no JWKS cluster', () => {
    const out = translate(authn(RULES), 'demo/client');
    expect(JSON.stringify(out.listeners)).not.toContain('jwt_authn');
    expect(out.clusters.map((c) => c.name).filter((n) => n!.startsWith('jwks|'))).toEqual([]);
  });
});
