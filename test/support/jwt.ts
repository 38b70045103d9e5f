/**
 * JSON Web Tokens for tests, made with node:crypto only: an issuer with an
 * RSA key pair, its JWKS (RFC 7517) and RS256-signed tokens (RFC 7519), plus
 * the tokens a validator must refuse (unsigned `alg: none`, signed by another
 * key).
 */
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export interface TestIssuer {
  issuer: string;
  kid: string;
  /** `{"keys": [...]}` as JSON text. */
  jwks: string;
  /** RS256-signed token with these claims; `iss` and `iat` are filled in, `exp` is now + 1 h unless given. */
  sign(claims: Record<string, unknown>): string;
  /** The same claims with `alg: none` and no signature. */
  unsigned(claims: Record<string, unknown>): string;
}

export function testIssuer(issuer: string, kid = 'k1'): TestIssuer {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const jwks = JSON.stringify({ keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] });
  const payload = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: issuer, iat: now, exp: now + 3600, ...claims };
  };
  return {
    issuer,
    kid,
    jwks,
    sign: (claims) => signRs256({ alg: 'RS256', typ: 'JWT', kid }, payload(claims), privateKey),
    unsigned: (claims) => `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(payload(claims)))}.`,
  };
}

function signRs256(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = createSign('RSA-SHA256').update(input).sign(key);
  return `${input}.${b64url(signature)}`;
}
