/**
 * Envoy's HTTP RBAC filter (envoy.extensions.filters.http.rbac.v3.RBAC) on
 * one request from a caller whose certificate carries `principal` (its
 * SPIFFE ID): which policy decides, and how. Pure; the permission and
 * principal kinds Trellis writes are evaluated, anything else is reported as
 * not evaluated.
 */
import { all, any, headerMatch, stringMatch, type Headers, type Verdict } from './match.ts';

type Json = Record<string, unknown>;

export interface RbacRequest {
  path: string;
  headers: Headers;
  destinationPort: number;
  /** the caller's URI SAN (SPIFFE ID); undefined without mTLS */
  principal: string | undefined;
}

export interface RbacDecision {
  allowed: boolean;
  action: 'ALLOW' | 'DENY' | 'none';
  /** the policies that matched the request (RBAC policy names: `<namespace>/<TrafficTarget>`) */
  matchedPolicies: string[];
  /** matchers that could not be evaluated, if any */
  unknown: string[];
}

function permission(p: Json, req: RbacRequest): Verdict {
  if (p.any === true) return { matched: true };
  if (p.and_rules) return all(((p.and_rules as Json).rules as Json[]).map((r) => permission(r, req)));
  if (p.or_rules) return any(((p.or_rules as Json).rules as Json[]).map((r) => permission(r, req)));
  if (p.not_rule) return negate(permission(p.not_rule as Json, req));
  if (p.header) return headerMatch(p.header as Json, req.headers);
  if (p.url_path) return stringMatch((p.url_path as Json).path as Json, req.path);
  if (p.destination_port !== undefined) return { matched: Number(p.destination_port) === req.destinationPort };
  return { matched: false, unknown: `RBAC permission ${Object.keys(p).join(',')} not evaluated` };
}

function principal(p: Json, req: RbacRequest): Verdict {
  if (p.any === true) return { matched: true };
  if (p.and_ids) return all(((p.and_ids as Json).ids as Json[]).map((r) => principal(r, req)));
  if (p.or_ids) return any(((p.or_ids as Json).ids as Json[]).map((r) => principal(r, req)));
  if (p.not_id) return negate(principal(p.not_id as Json, req));
  if (p.authenticated) {
    if (req.principal === undefined) return { matched: false };
    const name = (p.authenticated as Json).principal_name as Json | undefined;
    return name ? stringMatch(name, req.principal) : { matched: true };
  }
  if (p.header) return headerMatch(p.header as Json, req.headers);
  return { matched: false, unknown: `RBAC principal ${Object.keys(p).join(',')} not evaluated` };
}

function negate(v: Verdict): Verdict {
  return v.unknown ? v : { matched: !v.matched };
}

/** One RBAC filter's config; a filter without `rules` allows everything. */
export function evaluateRbac(config: Json, req: RbacRequest): RbacDecision {
  const rules = config.rules as Json | undefined;
  if (!rules) return { allowed: true, action: 'none', matchedPolicies: [], unknown: [] };
  const action = rules.action === 'DENY' ? 'DENY' : 'ALLOW';
  const matched: string[] = [];
  const unknown: string[] = [];
  for (const [name, policy] of Object.entries((rules.policies as Record<string, Json> | undefined) ?? {})) {
    const v = all([any(((policy.permissions as Json[]) ?? []).map((p) => permission(p, req))), any(((policy.principals as Json[]) ?? []).map((p) => principal(p, req)))]);
    if (v.unknown) unknown.push(`${name}: ${v.unknown}`);
    if (v.matched) matched.push(name);
  }
  return { allowed: action === 'ALLOW' ? matched.length > 0 : matched.length === 0, action, matchedPolicies: matched, unknown };
}
