/**
 * RequestAuthentications that target a Gateway (issue 15: "the ingress
 * gateway uses the same" token checks): the Gateway must be one Trellis
 * serves (its GatewayClass is Trellis's); one per Gateway, the older wins.
 * The result rides on the MeshGateway (`authentication`), since it shapes
 * that gateway's listeners (translate/gateway/listeners.ts); the claim rules
 * are claims only (the kind refuses `sources` on a Gateway target: nobody
 * outside the mesh has a service account).
 */
import type { RequestAuthenticationSpec } from '../kinds/request-authentication.ts';
import type { MeshGateway, ObjectKey, RequestAuthn } from '../types.ts';
import { jwtRulesOf } from './authentication.ts';
import { objectKey, olderFirst, type Book, type Entry } from './book.ts';

/** Each Gateway with the RequestAuthentication that applies to it; `accepted` adds these to the model's list. */
export function withGatewayAuthentication(
  entries: readonly Entry<RequestAuthenticationSpec>[],
  gateways: ReadonlyMap<ObjectKey, MeshGateway>,
  book: Book,
): { gateways: Map<ObjectKey, MeshGateway>; accepted: RequestAuthn[] } {
  const out = new Map(gateways);
  const accepted: RequestAuthn[] = [];
  const owner = new Map<ObjectKey, RequestAuthn>();
  for (const e of entries.filter((x) => x.spec.gateway !== undefined).toSorted(olderFirst)) {
    const key = objectKey(e.namespace, e.spec.gateway!);
    const g = gateways.get(key);
    if (!g) {
      book.error(e, 'spec.targetRef.name', 'RefNotFound', `no Gateway "${e.spec.gateway}" that Trellis serves in namespace "${e.namespace}" (its GatewayClass must be Trellis's, and it must have a programmed listener); check the name`);
      continue;
    }
    if (book.rejected(e)) continue;
    const first = owner.get(key);
    if (first) {
      book.error(e, 'spec.targetRef', 'Conflict', `RequestAuthentication "${first.name}" already applies to Gateway "${g.name}"; only one may. Merge the jwtRules and rules into "${first.name}"`);
      continue;
    }
    const authn: RequestAuthn = {
      key: e.key, namespace: e.namespace, name: e.name, gateway: key,
      jwtRules: jwtRulesOf(e.spec),
      ...(e.spec.rules ? { rules: e.spec.rules.map((r) => ({ claims: r.claims, sources: [] })) } : {}),
    };
    owner.set(key, authn);
    accepted.push(authn);
    out.set(key, { ...g, authentication: authn });
  }
  return { gateways: out, accepted };
}
