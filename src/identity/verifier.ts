/**
 * How a stream proves who it is. The xDS server asks a verifier once per
 * stream, with the stream's gRPC metadata and the node id it announced; the
 * answer decides which secrets the stream may receive (XDS_RULES 23). No
 * peer certificate is involved: the xDS listener requests none
 * (runtime/security.ts), so the proof is the token in the metadata. The
 * server never inspects tokens itself.
 *
 * A proof admits a stream; its token expiring later does not end the stream
 * or withdraw its secrets. A stream lives at most the maximum connection age
 * (XDS_RULES 28: 30 min plus a 5 min grace by default, server/xds-server.ts),
 * after which the client reconnects and proves itself again with the token
 * it holds then (in a cluster, the projected token Envoy reads afresh for
 * each stream: translate/bootstrap.ts).
 */
export interface ProvenIdentity {
  /** SPIFFE ID, `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` */
  spiffeId: string;
}

export type IdentityResult =
  | { ok: true; identity: ProvenIdentity }
  | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'forged' | 'mismatch' | 'unavailable'; message: string };

export interface IdentityVerifier {
  /**
   * @param metadata gRPC initial metadata of the stream, as a plain map of
   *                 lowercase header name to its first value
   * @param nodeId   the node id the stream announced (a token is bound to it
   *                 when the verifier can tell)
   */
  verify(metadata: Readonly<Record<string, string>>, nodeId: string): Promise<IdentityResult>;
}

/** The metadata header carrying a Trellis workload token. */
export const TOKEN_METADATA_KEY = 'x-trellis-token';
