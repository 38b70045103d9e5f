/**
 * End-user token validation (RequestAuthentication) as Envoy's jwt_authn
 * HTTP filter, and the clusters its providers fetch their JWKS through. Pure.
 * Takes the resolved RequestAuthentication only, not a workload: the ingress
 * gateway (issue 10) puts the same filter on its listeners.
 *
 * - Without `rules` a token is optional (`allow_missing`), as in Istio: a
 *   request without one passes, one with an invalid token (bad signature,
 *   expired, wrong issuer or audience, unsigned `alg: none`) gets 401.
 * - With `rules` a valid token is required (401 without one), and
 *   claim-rbac.ts decides from its claims (403).
 * - Every provider writes the verified payload into dynamic metadata under
 *   one key (`JWT_PAYLOAD_KEY`), which claim-rbac.ts matches on; `scope`
 *   (RFC 8693 §4.2, space-delimited) is turned into a list there, so "scope
 *   contains X" is a list match.
 * - A JWKS URL is fetched by Envoy on the main thread (async_fetch) and cached
 *   for `jwksCacheDuration`; a failed fetch is retried every second and, until
 *   one succeeds, tokens cannot be verified and are refused with 401
 *   ("Jwks remote fetch is failed"). The listener does not wait for the fetch
 *   (fast_listener): requests that need no token keep being served.
 */
import type { JwtRule, RequestAuthn } from '../model/types.ts';
import type { Cluster, HttpFilter, JwtProvider } from '../xds/envoy-types.ts';
import { Extension, extension } from '../xds/extensions.ts';
import { durationOf } from './cluster.ts';
import { singleAddress } from './fragments.ts';
import { jwksClusterName, jwtProviderName } from './names.ts';

/** Dynamic metadata key (under the jwt_authn filter's name) of a verified token's payload. */
export const JWT_PAYLOAD_KEY = 'payload';
/** The namespace of that metadata: the filter's own name, as Envoy writes it. */
export const JWT_METADATA_NAMESPACE = Extension.JwtAuthn.name;
/** Claims whose string value is a space-delimited list (RFC 8693 §4.2 `scope`, and Azure AD's `scp`). */
export const SPACE_DELIMITED_CLAIMS = ['scope', 'scp'] as const;

/**
 * Where https JWKS hosts are verified against: the Debian/Alpine system
 * bundle, present in the Envoy images Trellis documents. Envoy has no trust
 * store of its own.
 */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

function provider(rule: JwtRule): JwtProvider {
  const p: JwtProvider = {
    issuer: rule.issuer,
    ...(rule.audiences.length > 0 ? { audiences: [...rule.audiences] } : {}),
    forward: rule.forwardOriginalToken,
    payload_in_metadata: JWT_PAYLOAD_KEY,
    normalize_payload_in_metadata: { space_delimited_claims: [...SPACE_DELIMITED_CLAIMS] },
  };
  const headers = rule.from.flatMap((l) => (l.header ? [{ name: l.header.name, ...(l.header.prefix ? { value_prefix: l.header.prefix } : {}) }] : []));
  const params = rule.from.flatMap((l) => (l.param ? [l.param] : []));
  if (headers.length > 0) p.from_headers = headers;
  if (params.length > 0) p.from_params = params;
  if (rule.claimToHeaders.length > 0) p.claim_to_headers = rule.claimToHeaders.map((c) => ({ header_name: c.header, claim_name: c.claim }));
  const j = rule.jwks;
  if ('inline' in j) p.local_jwks = { inline_string: j.inline };
  else {
    p.remote_jwks = {
      http_uri: { uri: j.uri, cluster: jwksClusterName(j.scheme, j.host, j.port), timeout: durationOf(j.timeoutMs) },
      cache_duration: durationOf(j.cacheDurationMs),
      async_fetch: { fast_listener: true, failed_refetch_duration: '1s' },
    };
  }
  return p;
}

export function jwtAuthnFilter(authn: RequestAuthn): HttpFilter {
  const names = authn.jwtRules.map((_, i) => jwtProviderName(authn.namespace, authn.name, i));
  const providers: Record<string, JwtProvider> = {};
  authn.jwtRules.forEach((r, i) => (providers[names[i]!] = provider(r)));
  const any = names.map((provider_name) => ({ provider_name }));
  // No rules: a token is optional, but checked when present. Rules: required.
  const requirements = authn.rules === undefined ? [...any, { allow_missing: {} }] : any;
  return extension('JwtAuthn', {
    providers,
    rules: [{ match: { prefix: '/' }, requires: requirements.length === 1 ? requirements[0]! : { requires_any: { requirements } } }],
  });
}

/** The clusters a RequestAuthentication's providers fetch keys through, one per scheme/host/port, sorted by name. */
export function jwksClusters(authn: RequestAuthn): Cluster[] {
  const out = new Map<string, Cluster>();
  for (const r of authn.jwtRules) {
    const j = r.jwks;
    if ('inline' in j) continue;
    const name = jwksClusterName(j.scheme, j.host, j.port);
    if (!out.has(name)) out.set(name, jwksCluster(name, j.scheme, j.host, j.port));
  }
  return [...out.values()].sort((a, b) => (a.name! < b.name! ? -1 : 1));
}

const IP = /^(\d{1,3}\.){3}\d{1,3}$|:/;

function jwksCluster(name: string, scheme: 'http' | 'https', host: string, port: number): Cluster {
  const ip = IP.test(host);
  const cluster: Cluster = {
    name,
    // The key host is outside the mesh: resolved by DNS (an IP literal as is), plain HTTP or TLS.
    type: ip ? 'STATIC' : 'STRICT_DNS',
    ...(ip ? {} : { dns_lookup_family: 'V4_PREFERRED' as const }),
    connect_timeout: '5s',
    load_assignment: singleAddress(name, host, port),
  };
  if (scheme === 'https') {
    cluster.transport_socket = extension('UpstreamTls', {
      ...(ip ? {} : { sni: host }),
      common_tls_context: {
        validation_context: {
          trusted_ca: { filename: SYSTEM_CA_BUNDLE },
          match_typed_subject_alt_names: [{ san_type: ip ? 'IP_ADDRESS' : 'DNS', matcher: { exact: host } }],
        },
      },
    });
  }
  return cluster;
}
