/**
 * The order of the HTTP filters in every HTTP connection manager Trellis
 * writes, decided here and only here. Envoy runs a request through the
 * filters in list order, so the order is part of what a policy means; a
 * builder supplies the filters it has, this file places them. Pure.
 *
 * Inbound (a sidecar's side of its own workload, and the ingress gateway's
 * listeners when they exist: the same slots):
 *   1. jwt_authn     validates the end user's token (401 when present but
 *                    invalid) and writes its payload into dynamic metadata;
 *   2. identityRbac  the TrafficTargets (strict mode): which workloads may
 *                    call, from the verified client certificate;
 *   3. claimRbac     RequestAuthentication rules: which tokens' claims may
 *                    call; it reads what jwt_authn wrote, so it comes after;
 *   4. router        always last (Envoy requires a terminal filter).
 * Both RBAC filters must allow a request (each is an ALLOW list): a caller
 * needs a TrafficTarget for its identity AND a token whose claims a rule
 * accepts (docs/intents.md "How identity and claim rules combine").
 *
 * Outbound: the router only.
 */
import type { HttpFilter } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';

/** Inbound slots in the order Envoy runs them; `router` is added by `inboundHttpFilters`. */
export const INBOUND_HTTP_FILTER_ORDER = ['jwtAuthn', 'identityRbac', 'claimRbac'] as const;

export type InboundHttpFilterSlot = (typeof INBOUND_HTTP_FILTER_ORDER)[number];

/** The filters one inbound connection manager has, by slot; a missing slot is left out. */
export type InboundHttpFilters = Partial<Record<InboundHttpFilterSlot, HttpFilter>>;

export function router(): HttpFilter {
  return extension('Router', {});
}

export function inboundHttpFilters(filters: InboundHttpFilters): HttpFilter[] {
  const out: HttpFilter[] = [];
  for (const slot of INBOUND_HTTP_FILTER_ORDER) {
    const f = filters[slot];
    if (f) out.push(f);
  }
  out.push(router());
  return out;
}

export function outboundHttpFilters(): HttpFilter[] {
  return [router()];
}
