/**
 * Checks of what a RequestAuthentication says about where a token's keys
 * come from: an inline JWKS (RFC 7517) must be a key set Envoy can use, and a
 * JWKS URL must name an http(s) host Envoy can fetch from. Both return a
 * reason for `Field.report`, or the parsed value. Pure (node:crypto parses
 * keys, nothing is fetched: whether a URL answers is only known at run time,
 * docs/intents.md "When the JWKS cannot be fetched").
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';

/** The key types Envoy's jwt_authn verifies (RS*, PS*, ES*, EdDSA, HS*). */
const KEY_TYPES = ['RSA', 'EC', 'OKP', 'oct'] as const;

/** Why `text` is not a usable JWKS, or undefined when it is. */
export function inlineJwksProblem(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return `is not valid JSON (${(e as Error).message}); expected a JWKS such as {"keys": [{"kty": "RSA", "n": "...", "e": "AQAB"}]}`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Array.isArray((parsed as { keys?: unknown }).keys)) {
    return 'is JSON but not a JWKS: expected an object with a "keys" list (RFC 7517 §5)';
  }
  const keys = (parsed as { keys: unknown[] }).keys;
  if (keys.length === 0) return 'has an empty "keys" list, so no token could ever be verified; add the issuer\'s public keys';
  for (const [i, k] of keys.entries()) {
    const why = keyProblem(k);
    if (why) return `keys[${i}] ${why}`;
  }
  return undefined;
}

function keyProblem(k: unknown): string | undefined {
  if (typeof k !== 'object' || k === null || Array.isArray(k)) return 'is not a JSON object';
  const kty = (k as { kty?: unknown }).kty;
  if (typeof kty !== 'string' || !(KEY_TYPES as readonly string[]).includes(kty)) {
    return `has kty ${JSON.stringify(kty)}; expected one of ${KEY_TYPES.join(', ')}`;
  }
  if (kty === 'oct') {
    return typeof (k as { k?: unknown }).k === 'string' && (k as { k: string }).k !== '' ? undefined : 'is an "oct" (HMAC) key without its "k" value';
  }
  if ('d' in k) return 'holds a private key ("d"); publish only the public part';
  try {
    createPublicKey({ key: k as JsonWebKey, format: 'jwk' });
    return undefined;
  } catch (e) {
    return `is not a valid ${kty} public key (${(e as Error).message})`;
  }
}

export interface JwksUrl {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Path and query, as fetched. */
  path: string;
}

/** The parts of a JWKS URL, or why it cannot be fetched. */
export function parseJwksUrl(text: string): JwksUrl | string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'is not a URL; expected an absolute http or https URL such as https://issuer.example.com/.well-known/jwks.json';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `has scheme "${u.protocol.replace(':', '')}"; expected http or https`;
  if (u.username || u.password) return 'carries credentials; Envoy fetches a JWKS without them. Remove the user:password part';
  if (u.hash) return 'has a #fragment, which is never sent; remove it';
  const scheme = u.protocol === 'https:' ? 'https' : 'http';
  // URL keeps IPv6 literals bracketed; Envoy's socket address wants them bare.
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { scheme, host, port: u.port ? Number(u.port) : scheme === 'https' ? 443 : 80, path: `${u.pathname}${u.search}` };
}
