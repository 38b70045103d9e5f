/**
 * Proven identity in a cluster: the sidecar presents its pod's projected
 * service-account token, and the API server says whose it is (TokenReview,
 * authentication.k8s.io/v1). Implements the xDS server's IdentityVerifier.
 *
 * Where the token travels: gRPC metadata `authorization: Bearer <jwt>` on the
 * ADS stream. `trellis bootstrap --token-file` makes Envoy read it from the
 * projected volume for every stream it opens, so each reconnect presents the
 * token the kubelet rotated in last (docs/kubernetes.md). The token must be
 * requested for the audience Trellis expects (default `trellis`) and bound to
 * the pod (a projected volume is; so is a TokenRequest with boundObjectRef
 * kind Pod), so that it dies with the pod and names it.
 *
 * What is checked, in order (each failure one IdentityVerifier reason):
 *   missing     no `authorization: Bearer` in the metadata
 *   malformed   not a compact JWS, or a node id that is not "ns/pod"
 *   unavailable the API server could not be asked (network, 5xx, RBAC)
 *   expired     the API server refused it as expired
 *   forged      the API server did not authenticate it (another signer, a
 *               deleted pod, a revoked token, another audience)
 *   mismatch    authenticated, but not a service account, not bound to a pod,
 *               another namespace or pod than the node id, another pod uid or
 *               service account than the pod the cluster holds
 * and the proven identity is `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` of
 * the service account the token belongs to.
 *
 * Reviews are cached by token and node id (for at most `cacheTtlMs` and never
 * past the token's expiry), and concurrent reviews of one token share one
 * request: a thousand sidecars reconnecting after a restart cost a thousand
 * TokenReviews, not several each.
 */
import { createHash } from 'node:crypto';
import type { IdentityResult, IdentityVerifier } from './verifier.ts';
import { spiffeIdOf } from './spiffe.ts';
import { errorMessage } from '../errors.ts';

/** The metadata header the projected token travels in (value `Bearer <jwt>`). */
export const SA_TOKEN_METADATA_KEY = 'authorization';
export const DEFAULT_TOKEN_AUDIENCE = 'trellis';
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
const SA_USER_PREFIX = 'system:serviceaccount:';
const MAX_TOKEN_LENGTH = 16_384;

/** What the cluster holds about a pod (the watch cache, or undefined when it does not know it yet). */
export interface PodFacts {
  uid?: string;
  serviceAccountName?: string;
}

type Json = Record<string, unknown>;

/**
 * The one API-server call a TokenReview needs. The Kubernetes source's REST
 * client satisfies it; identity/ stays free of the source (imports follow the
 * flow). A failed call throws an error that may carry the HTTP `status`.
 */
export interface TokenReviewApi {
  post<T>(path: string, body: unknown): Promise<T>;
}

/** What the cluster holds about a pod, read from the Pod object as the API server returns it. */
export function podFactsOf(pod: { metadata?: unknown; spec?: unknown } | undefined): PodFacts | undefined {
  if (!pod) return undefined;
  const meta = (pod.metadata ?? {}) as { uid?: unknown };
  const spec = (pod.spec ?? {}) as { serviceAccountName?: unknown };
  return {
    ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}),
    ...(typeof spec.serviceAccountName === 'string' ? { serviceAccountName: spec.serviceAccountName } : {}),
  };
}

export interface TokenReviewVerifierOptions {
  rest: TokenReviewApi;
  trustDomain: string | (() => string);
  /** The audience the tokens must be for (default `trellis`). */
  audience?: string;
  /**
   * The pod as the cluster holds it: its uid and service account are matched
   * against the token's. Without it (or when it answers undefined) the API
   * server's own check of a bound token (the pod exists with that uid) stands.
   */
  pod?: (namespace: string, name: string) => PodFacts | undefined;
  cacheTtlMs?: number;
  maxCacheEntries?: number;
  clock?: () => number;
}

type Failure = Extract<IdentityResult, { ok: false }>;
const failure = (reason: Failure['reason'], message: string): Failure => ({ ok: false, reason, message });

interface Review {
  username: string;
  extra: Record<string, string[]>;
  /** the token's exp (ms), read from its payload once the API server vouched for it: a cached review ends with it */
  expiresAt?: number;
}

export class TokenReviewVerifier implements IdentityVerifier {
  readonly audience: string;
  private readonly cache = new Map<string, { review: Review; until: number }>();
  private readonly inflight = new Map<string, Promise<Review | Failure>>();
  private readonly clock: () => number;
  /** TokenReviews sent (tests, metrics). */
  reviews = 0;

  constructor(private readonly opts: TokenReviewVerifierOptions) {
    this.audience = opts.audience ?? DEFAULT_TOKEN_AUDIENCE;
    this.clock = opts.clock ?? Date.now;
  }

  async verify(metadata: Readonly<Record<string, string>>, nodeId: string): Promise<IdentityResult> {
    const header = metadata[SA_TOKEN_METADATA_KEY];
    const match = header === undefined ? null : /^\s*bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return failure('missing', `no "${SA_TOKEN_METADATA_KEY}: Bearer <service-account token>" in the stream's metadata`);
    const token = match[1]!;
    if (token.length > MAX_TOKEN_LENGTH) return failure('malformed', `token longer than ${MAX_TOKEN_LENGTH} characters`);
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return failure('malformed', 'token is not a compact JWS (three base64url parts)');
    const node = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(nodeId);
    if (!node) return failure('malformed', `node id ${JSON.stringify(nodeId)} is not "namespace/pod": a service-account token proves a pod only`);
    const [namespace, podName] = [node[1]!, node[3]!];

    const review = await this.review(token);
    if ('ok' in review) return review;
    return this.match(review, namespace, podName, nodeId);
  }

  private match(review: Review, namespace: string, podName: string, nodeId: string): IdentityResult {
    if (!review.username.startsWith(SA_USER_PREFIX)) return failure('mismatch', `token belongs to ${JSON.stringify(review.username)}, not to a service account`);
    const [saNamespace, sa, ...rest] = review.username.slice(SA_USER_PREFIX.length).split(':');
    if (!saNamespace || !sa || rest.length > 0) return failure('mismatch', `token user ${JSON.stringify(review.username)} is not system:serviceaccount:<ns>:<name>`);
    const boundPod = review.extra[POD_NAME_EXTRA]?.[0];
    const boundUid = review.extra[POD_UID_EXTRA]?.[0];
    if (!boundPod) return failure('mismatch', `token of ${saNamespace}/${sa} is not bound to a pod (request it through a projected volume or with boundObjectRef kind Pod)`);
    if (saNamespace !== namespace || boundPod !== podName) {
      return failure('mismatch', `token is for pod ${saNamespace}/${boundPod} (service account ${sa}), stream announced ${JSON.stringify(nodeId)}`);
    }
    const pod = this.opts.pod?.(namespace, podName);
    if (pod) {
      if (pod.uid && boundUid && pod.uid !== boundUid) return failure('mismatch', `token is for another pod named ${nodeId} (uid ${boundUid}, the cluster holds ${pod.uid})`);
      const podSa = pod.serviceAccountName || 'default';
      if (podSa !== sa) return failure('mismatch', `token is for service account ${sa}, pod ${nodeId} runs as ${podSa}`);
    }
    const trustDomain = typeof this.opts.trustDomain === 'function' ? this.opts.trustDomain() : this.opts.trustDomain;
    let spiffeId: string;
    try {
      spiffeId = spiffeIdOf(trustDomain, { namespace, serviceAccount: sa });
    } catch (e) {
      return failure('mismatch', errorMessage(e));
    }
    return { ok: true, identity: { spiffeId } };
  }

  /** The API server's answer for a token: who it is, or why not. */
  private review(token: string): Promise<Review | Failure> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = this.clock();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return Promise.resolve(hit.review);
    if (hit) this.cache.delete(key);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.ask(token).then((r) => {
        if (!('ok' in r)) this.remember(key, r);
        return r;
      });
      pending.finally(() => this.inflight.delete(key)).catch(() => {});
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private remember(key: string, review: Review): void {
    const until = Math.min(this.clock() + (this.opts.cacheTtlMs ?? 60_000), review.expiresAt ?? Infinity);
    if (this.cache.size >= (this.opts.maxCacheEntries ?? 10_000)) {
      const now = this.clock();
      for (const [k, v] of this.cache) if (v.until <= now) this.cache.delete(k);
      // Still full: drop the oldest entries (Map order is insertion order).
      for (const k of this.cache.keys()) {
        if (this.cache.size < (this.opts.maxCacheEntries ?? 10_000)) break;
        this.cache.delete(k);
      }
    }
    this.cache.set(key, { review, until });
  }

  private async ask(token: string): Promise<Review | Failure> {
    this.reviews++;
    let answer: Json;
    try {
      answer = await this.opts.rest.post<Json>('/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, audiences: [this.audience] },
      });
    } catch (e) {
      const why = errorMessage(e);
      const status = e instanceof Error && 'status' in e ? e.status : undefined;
      const hint = status === 403 ? ' (Trellis needs create on tokenreviews.authentication.k8s.io: deploy/kubernetes/10-rbac.yaml)' : '';
      return failure('unavailable', `cannot ask the API server to review the token: ${why}${hint}`);
    }
    const status = (answer.status ?? {}) as Json;
    if (status.authenticated !== true) {
      const error = typeof status.error === 'string' ? status.error : 'not authenticated';
      return failure(/expired/i.test(error) ? 'expired' : 'forged', `the API server refused the token: ${error}`);
    }
    const audiences = Array.isArray(status.audiences) ? status.audiences : [];
    if (!audiences.includes(this.audience)) return failure('forged', `the token is not for audience ${JSON.stringify(this.audience)} (it is for ${JSON.stringify(audiences)})`);
    const user = (status.user ?? {}) as Json;
    const extra: Record<string, string[]> = {};
    for (const [k, v] of Object.entries((user.extra ?? {}) as Json)) if (Array.isArray(v)) extra[k] = v.map(String);
    return { username: typeof user.username === 'string' ? user.username : '', extra, ...expiryOf(token) };
  }
}

/** The `exp` of a token the API server has vouched for (its payload is then trustworthy). */
function expiryOf(token: string): { expiresAt?: number } {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? { expiresAt: payload.exp * 1000 } : {};
  } catch {
    return {};
  }
}
