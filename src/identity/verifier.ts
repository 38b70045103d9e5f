/**
 * How a stream proves who it is. The xDS server asks a verifier once per
 * stream, with the stream's gRPC metadata and (for TLS connections) the peer
 * certificate; the answer decides which secrets the stream may receive
 * (XDS_RULES 23). The server never inspects tokens itself.
 */
export interface ProvenIdentity {
  /** SPIFFE ID, `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` */
  spiffeId: string;
  /** When the proof stops being valid (ms since epoch), if it expires. */
  expiresAt?: number;
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
