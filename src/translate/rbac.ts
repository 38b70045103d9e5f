/**
 * Inbound authorization from SMI TrafficTargets, as Envoy's RBAC HTTP filter.
 * Principals are SPIFFE IDs read from the verified client certificate
 * (`authenticated.principal_name` matches the URI SAN); permissions come from
 * the HTTPRouteGroup matches a TrafficTarget names. Pure.
 *
 * permissive: no filter — any caller with a mesh certificate is allowed.
 * strict: ALLOW policies for the TrafficTargets whose destination is this
 * workload's identity (and port, when one is given); nothing else passes,
 * and a denied request gets 403.
 */
import type { AccessRule } from '../model/types.ts';
import type { HttpFilter, RbacPolicy } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { rbacPermission } from './match.ts';
import { rbacPolicyName } from './names.ts';

export function rbacPolicies(rules: readonly AccessRule[], ports: readonly number[]): Record<string, RbacPolicy> {
  const policies: Record<string, RbacPolicy> = {};
  for (const rule of rules) {
    if (rule.destination.port !== undefined && !ports.includes(rule.destination.port)) continue;
    // Rules that are all TCPRoutes allow no HTTP request; Envoy also refuses a policy with no permissions.
    if (rule.routes?.length === 0) continue;
    policies[rbacPolicyName(rule.namespace, rule.name)] = {
      permissions: rule.routes === undefined ? [{ any: true }] : rule.routes.map(rbacPermission),
      principals: rule.sources.map((s) => ({ authenticated: { principal_name: { exact: s.spiffeId } } })),
    };
  }
  return policies;
}

export function rbacFilter(rules: readonly AccessRule[], ports: readonly number[]): HttpFilter {
  return extension('HttpRbac', { rules: { action: 'ALLOW', policies: rbacPolicies(rules, ports) } });
}
