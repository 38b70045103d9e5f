/**
 * The Secret trellis-ca: the mesh root, its key and the token signing key,
 * shared by every replica (20-deployment.yaml copies it into the state dir).
 * Made once by `trellis install --apply` when missing, never overwritten:
 * a new root would leave every sidecar trusting the old one.
 */
import { generateKeyPairSync } from 'node:crypto';
import { generateRoot, type TrustedRoot } from '../ca/root.ts';
import { loadCaChain } from '../ca/chain.ts';
import { errorMessage } from '../errors.ts';
import { CA_SECRET, type Json } from './install-manifests.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

export function newCaSecret(namespace: string, trustDomain: string, now = Date.now()): Json {
  const root = generateRoot({ trustDomain, now });
  const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: CA_SECRET, namespace, labels: { 'app.kubernetes.io/name': 'trellis' } },
    type: 'Opaque',
    data: { 'root.crt': b64(root.certificatePem), 'root.key': b64(root.keyPem), 'token-signing.key': b64(tokenKey) },
  };
}

/**
 * The root of a trellis-ca Secret read from the API (the one in the trust
 * bundle and the webhook's caBundle), or why it is unusable. root.crt holds
 * what the state dir's root.crt holds (store.ts): a root, or an operator's
 * intermediate followed by its chain up to the root; then `notAfter` is when
 * the first certificate of that path expires, the date that matters.
 */
export function rootOfSecret(secret: Json, now = Date.now()): TrustedRoot | string {
  const data = (secret.data ?? {}) as Record<string, string>;
  const missing = ['root.crt', 'root.key', 'token-signing.key'].filter((k) => !data[k]);
  if (missing.length > 0) return `missing ${missing.join(', ')}`;
  try {
    const chain = loadCaChain({ certificatePem: Buffer.from(data['root.crt']!, 'base64').toString() }, now, { certPath: 'root.crt', keyPath: 'root.key', state: false });
    const { certificatePem, x509, fingerprint, subject, notBefore } = chain.anchor;
    return { certificatePem, x509, fingerprint, subject, notBefore, notAfter: chain.validUntil };
  } catch (e) {
    return errorMessage(e);
  }
}
