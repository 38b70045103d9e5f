/**
 * In a cluster a stream proves its identity with its pod's projected
 * service-account token (TokenReview), or with a Trellis workload token
 * (`trellis bootstrap --workload`): either will do.
 */
import { AnyOfVerifiers } from '../identity/any-of.ts';
import { podFactsOf, TokenReviewVerifier } from '../identity/token-review.ts';
import type { IdentityVerifier } from '../identity/verifier.ts';
import type { KubeMesh } from './kube-mesh.ts';
import type { MeshSecurity } from './security.ts';

export function kubeVerifier(kube: KubeMesh, security: MeshSecurity | undefined, audience: string | undefined): IdentityVerifier {
  const review = new TokenReviewVerifier({
    rest: kube.source.rest,
    // The CA's: certificates are issued in the trust domain known at start.
    trustDomain: () => security?.ca.trustDomain ?? kube.model?.mesh.trustDomain ?? 'cluster.local',
    audience,
    pod: (namespace, name) => podFactsOf(kube.source.stored('Pod', namespace, name)),
  });
  return security ? new AnyOfVerifiers(security.tokens, review) : review;
}
