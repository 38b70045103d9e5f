/**
 * Authorization on token claims (RequestAuthentication `rules`), as an Envoy
 * RBAC HTTP filter that reads the payload jwt_authn verified and wrote into
 * dynamic metadata (jwt-authn.ts). Pure; like jwt-authn.ts it takes the
 * resolved RequestAuthentication only, so the ingress gateway can reuse it.
 *
 * ALLOW, one policy per rule: a request passes if it matches one rule, and
 * matches a rule if every claim condition holds and (when the rule names
 * sources) the caller's certificate is one of them. A claim condition holds
 * when the claim equals one of the values, or is a list (a space-delimited
 * `scope` is made one) containing one. Anything else: 403.
 *
 * This filter runs after the TrafficTarget RBAC (http-filters.ts): both must
 * allow a request.
 */
import type { ClaimMatch, RequestAuthn } from '../model/types.ts';
import type { HttpFilter, RbacPolicy, RbacPrincipal } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { JWT_METADATA_NAMESPACE, JWT_PAYLOAD_KEY } from './jwt-authn.ts';
import { CLAIM_RBAC_FILTER, CLAIM_RBAC_STAT_PREFIX, claimPolicyName } from './names.ts';

function claimPrincipal(m: ClaimMatch): RbacPrincipal {
  // A nested claim is written `a.b`, as jwt_authn's claim_to_headers reads it.
  const path = [JWT_PAYLOAD_KEY, ...m.claim.split('.')].map((key) => ({ key }));
  const value_matchers = m.values.flatMap((v) => [{ string_match: { exact: v } }, { list_match: { one_of: { string_match: { exact: v } } } }]);
  return { metadata: { filter: JWT_METADATA_NAMESPACE, path, value: { or_match: { value_matchers } } } };
}

export function claimRbacFilter(authn: RequestAuthn): HttpFilter | undefined {
  if (authn.rules === undefined) return undefined;
  const policies: Record<string, RbacPolicy> = {};
  authn.rules.forEach((rule, i) => {
    const ids: RbacPrincipal[] = rule.claims.map(claimPrincipal);
    if (rule.sources.length > 0) ids.push({ or_ids: { ids: rule.sources.map((s) => ({ authenticated: { principal_name: { exact: s.spiffeId } } })) } });
    policies[claimPolicyName(authn.namespace, authn.name, i)] = {
      permissions: [{ any: true }],
      principals: [ids.length === 0 ? { any: true } : ids.length === 1 ? ids[0]! : { and_ids: { ids } }],
    };
  });
  return { ...extension('HttpRbac', { rules: { action: 'ALLOW', policies }, rules_stat_prefix: CLAIM_RBAC_STAT_PREFIX }), name: CLAIM_RBAC_FILTER };
}
