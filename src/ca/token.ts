/**
 * Workload tokens: how an Envoy proves which identity it may receive secrets
 * for (DESIGN.md, "Identity is proven"; XDS_RULES 23).
 *
 * `trellis bootstrap --workload ns/name` asks `issue()` for a token and writes
 * it into the bootstrap's gRPC initial metadata (`x-trellis-token`). The
 * token is a compact JWS (RFC 7515) with ES256 (RFC 7518 §3.4), claims:
 *   iss "trellis", aud "trellis-xds", sub the SPIFFE ID, iat, exp, jti, and
 *   either `node` (the exact node id) or `node_prefix` (every node id that
 *   starts with it, for one bootstrap shared by a workload's replicas).
 * A token always names the node(s) it is for, so a token copied out of one
 * bootstrap cannot be replayed by a proxy announcing another node id.
 *
 * Verification answers one of the IdentityVerifier reasons:
 *   missing   no token in the metadata
 *   malformed not three base64url parts, not JSON, claims of the wrong type
 *   forged    signature invalid, algorithm other than ES256, or a key id
 *             this Trellis does not hold (a token from another installation)
 *   expired   exp has passed (with `leewayMs` for replicas' clock drift)
 *   mismatch  the token is for another node id, audience or trust domain
 * There is no replay cache: a bootstrap token is meant to be presented on
 * every reconnect until it expires; the node binding is what limits reuse.
 * Because it is presented again and again, its signature is checked once
 * per signing key and remembered (verified-tokens.ts, kept across restarts
 * by runtime/security.ts); the rest is checked at every use.
 */
import { createHash, createPublicKey, randomBytes, sign, verify as verifySignature, type KeyObject } from 'node:crypto';
import { TOKEN_METADATA_KEY, type IdentityResult, type IdentityVerifier } from '../identity/verifier.ts';
import { parseSpiffeId } from '../identity/spiffe.ts';
import { loadOrCreateTokenKey } from './token-key.ts';
import { VerifiedTokens } from './verified-tokens.ts';

export const TOKEN_ISSUER = 'trellis';
export const TOKEN_AUDIENCE = 'trellis-xds';
/** Long enough that a demo or a test cluster does not need new bootstraps daily. */
export const DEFAULT_TOKEN_TTL_MS = 30 * 24 * 3600_000;
const MAX_TOKEN_LENGTH = 8192;

export interface TokenClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  exp: number;
  jti: string;
  node?: string;
  node_prefix?: string;
}

export interface TokenGrant {
  spiffeId: string;
  /** Exactly one of nodeId / nodePrefix. */
  nodeId?: string;
  nodePrefix?: string;
  ttlMs?: number;
}

export interface WorkloadTokensOptions {
  signingKey: KeyObject;
  trustDomain: string;
  /** Keys whose tokens are still accepted (e.g. the previous signing key). */
  previousKeys?: readonly KeyObject[];
  clock?: () => number;
  leewayMs?: number;
}

type Failure = Extract<IdentityResult, { ok: false }>;
const failure = (reason: Failure['reason'], message: string): Failure => ({ ok: false, reason, message });

export class WorkloadTokens implements IdentityVerifier {
  readonly keyId: string;
  /** Tokens whose signature was already checked: checked once, not at every reconnect. */
  readonly verified: VerifiedTokens;
  #signatureChecks = 0;
  readonly #signingKey: KeyObject;
  readonly #verificationKeys: ReadonlyMap<string, KeyObject>;
  readonly #trustDomain: string;
  readonly #clock: () => number;
  readonly #leewayMs: number;

  constructor(opts: WorkloadTokensOptions) {
    this.#signingKey = opts.signingKey;
    this.keyId = thumbprint(opts.signingKey);
    const keys = [opts.signingKey, ...(opts.previousKeys ?? [])].map((k) => [thumbprint(k), createPublicKey(k)] as const);
    this.#verificationKeys = new Map(keys);
    this.#trustDomain = opts.trustDomain;
    this.#clock = opts.clock ?? Date.now;
    this.#leewayMs = opts.leewayMs ?? 30_000;
    this.verified = new VerifiedTokens(opts.signingKey, { clock: this.#clock });
  }

  /** ES256 signature checks made so far (the rest were found in `verified`). */
  get signatureChecks(): number {
    return this.#signatureChecks;
  }

  /** Uses (or creates) the signing key in `<stateDir>/tokens/`. */
  static async open(opts: { stateDir: string; trustDomain: string; clock?: () => number; leewayMs?: number }): Promise<WorkloadTokens> {
    return new WorkloadTokens({ ...opts, signingKey: await loadOrCreateTokenKey(opts.stateDir) });
  }

  issue(grant: TokenGrant): string {
    const parsed = parseSpiffeId(grant.spiffeId);
    if (!parsed || parsed.trustDomain !== this.#trustDomain) throw new Error(`cannot issue a token for ${JSON.stringify(grant.spiffeId)}`);
    if ((grant.nodeId === undefined) === (grant.nodePrefix === undefined) || (grant.nodeId ?? grant.nodePrefix) === '') {
      throw new Error('a token is bound to exactly one non-empty nodeId or nodePrefix');
    }
    const now = Math.floor(this.#clock() / 1000);
    const claims: TokenClaims = {
      iss: TOKEN_ISSUER,
      aud: TOKEN_AUDIENCE,
      sub: grant.spiffeId,
      iat: now,
      exp: now + Math.floor((grant.ttlMs ?? DEFAULT_TOKEN_TTL_MS) / 1000),
      jti: randomBytes(12).toString('base64url'),
      ...(grant.nodeId !== undefined ? { node: grant.nodeId } : { node_prefix: grant.nodePrefix }),
    };
    const header = { alg: 'ES256', typ: 'JWT', kid: this.keyId };
    const input = `${b64json(header)}.${b64json(claims)}`;
    const signature = sign('sha256', Buffer.from(input), { key: this.#signingKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }

  async verify(metadata: Readonly<Record<string, string>>, nodeId: string): Promise<IdentityResult> {
    return this.check(metadata[TOKEN_METADATA_KEY], nodeId);
  }

  /** The synchronous core of `verify`. */
  check(token: string | undefined, nodeId: string): IdentityResult {
    if (token === undefined || token.trim() === '') return failure('missing', `no ${TOKEN_METADATA_KEY} in the stream's metadata`);
    if (token.length > MAX_TOKEN_LENGTH) return failure('malformed', `token longer than ${MAX_TOKEN_LENGTH} characters`);
    const parts = token.trim().split('.');
    if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) {
      return failure('malformed', 'token is not a compact JWS (three base64url parts)');
    }
    const [h, p, s] = parts as [string, string, string];
    const header = decodeJson(h);
    const payload = decodeJson(p);
    if (!header || !payload) return failure('malformed', 'token header or payload is not a JSON object');
    if (header.alg !== 'ES256') return failure('forged', `token algorithm ${JSON.stringify(header.alg)} is not accepted (ES256 only)`);
    if (header.crit !== undefined) return failure('malformed', 'token has critical header parameters Trellis does not understand');
    const key = typeof header.kid === 'string' ? this.#verificationKeys.get(header.kid) : undefined;
    if (!key) return failure('forged', 'token was not signed by this Trellis (unknown key id)');
    // The MAC covers the header, so an entry stands for a signature by this key id, which is still accepted (above).
    const mac = this.verified.mac(`${h}.${p}.${s}`);
    if (!this.verified.has(mac)) {
      this.#signatureChecks++;
      const signature = Buffer.from(s, 'base64url');
      if (signature.length !== 64 || !verifySignature('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, signature)) {
        return failure('forged', 'token signature is invalid');
      }
      if (typeof payload.exp === 'number' && Number.isFinite(payload.exp)) this.verified.add(mac, payload.exp * 1000 + this.#leewayMs);
    }
    return this.#checkClaims(payload, nodeId);
  }

  #checkClaims(c: Record<string, unknown>, nodeId: string): IdentityResult {
    if (typeof c.sub !== 'string' || typeof c.exp !== 'number' || !Number.isFinite(c.exp)) {
      return failure('malformed', 'token lacks a string sub or a numeric exp');
    }
    if (c.iss !== TOKEN_ISSUER || c.aud !== TOKEN_AUDIENCE) return failure('mismatch', `token is not meant for the xDS server (iss ${String(c.iss)}, aud ${String(c.aud)})`);
    const id = parseSpiffeId(c.sub);
    if (!id) return failure('malformed', `token subject ${JSON.stringify(c.sub)} is not a workload SPIFFE ID`);
    if (id.trustDomain !== this.#trustDomain) return failure('mismatch', `token is for trust domain ${id.trustDomain}, not ${this.#trustDomain}`);
    const expiresAt = c.exp * 1000;
    if (this.#clock() >= expiresAt + this.#leewayMs) return failure('expired', `token expired at ${new Date(expiresAt).toISOString()}`);
    const exact = typeof c.node === 'string' ? c.node : undefined;
    const prefix = typeof c.node_prefix === 'string' && c.node_prefix !== '' ? c.node_prefix : undefined;
    if ((exact === undefined) === (prefix === undefined)) return failure('malformed', 'token must be bound to exactly one of node or node_prefix');
    if (exact !== undefined ? nodeId !== exact : !nodeId.startsWith(prefix!)) {
      return failure('mismatch', `token is for node ${exact !== undefined ? JSON.stringify(exact) : `prefix ${JSON.stringify(prefix)}`}, stream announced ${JSON.stringify(nodeId)}`);
    }
    return { ok: true, identity: { spiffeId: c.sub } };
  }
}

/** RFC 7638 JWK thumbprint of the public key: a stable key id that reveals nothing. */
export function thumbprint(key: KeyObject): string {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

function b64json(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
