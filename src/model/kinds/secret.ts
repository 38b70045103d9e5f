/**
 * v1 Secret, read for one purpose: the certificate and key of a Gateway's
 * HTTPS listener (`certificateRefs`), a Secret of type `kubernetes.io/tls`
 * with `tls.crt` and `tls.key` in `data` (base64) or `stringData` (text), as
 * Kubernetes stores them. Secrets of other types are accepted and unused.
 *
 * The key must never leave the model except in the SDS secret of the
 * gateway that names it (translate/gateway/secrets.ts): so no message here
 * quotes a value of `data` or `stringData` (Field.string would: "got string
 * ..."), and the PEM checks say only what is wrong.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Field } from '../field.ts';
import { isRecord } from '../field.ts';
import type { KindSpec } from './kind.ts';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

export interface SecretSpec {
  type: string;
  /** Type kubernetes.io/tls with a certificate and a key that parse and belong together. */
  tls?: { certificateChainPem: string; privateKeyPem: string };
}

/** One key of `data` (base64) or `stringData` (text), stringData winning as in Kubernetes; never echoed in messages. */
function secretValue(root: Field, key: string): string | undefined {
  const text = root.child('stringData').child(key);
  if (!text.absent) {
    if (typeof text.value !== 'string') return text.report('InvalidType', `expected text (the PEM), got ${Array.isArray(text.value) ? 'a list' : typeof text.value}`), undefined;
    return text.value;
  }
  const data = root.child('data').child(key);
  if (data.absent) return undefined;
  if (typeof data.value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data.value.replace(/\s+/g, ''))) {
    return data.report('InvalidValue', 'expected base64 (data holds base64; write text under stringData instead)'), undefined;
  }
  return Buffer.from(data.value, 'base64').toString('utf8');
}

function checkValues(root: Field): void {
  for (const field of ['data', 'stringData']) {
    const f = root.child(field);
    if (f.absent) continue;
    if (!isRecord(f.value)) f.report('InvalidType', `expected a mapping of keys to ${field === 'data' ? 'base64 values' : 'text'}`);
  }
}

/** Parses the pair without ever quoting it; the reason is the only thing said. */
function checkTlsPair(root: Field, certificateChainPem: string, privateKeyPem: string): boolean {
  const where = (key: string) => (root.child('stringData').child(key).absent ? root.child('data').child(key) : root.child('stringData').child(key));
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificateChainPem);
  } catch {
    return where('tls.crt').report('InvalidValue', 'tls.crt is not a PEM certificate (expected "-----BEGIN CERTIFICATE-----", the leaf first)'), false;
  }
  try {
    const key = createPrivateKey(privateKeyPem);
    if (!cert.checkPrivateKey(key)) return where('tls.key').report('InvalidValue', 'tls.key is not the private key of the certificate in tls.crt'), false;
  } catch {
    return where('tls.key').report('InvalidValue', 'tls.key is not a PEM private key (PKCS#8, PKCS#1 or SEC1, unencrypted)'), false;
  }
  return true;
}

export const secretKind: KindSpec<SecretSpec> = {
  apiVersion: 'v1',
  kind: 'Secret',
  namespaced: true,
  topLevel: ['type', 'data', 'stringData', 'immutable'],
  nameRule: 'subdomain',
  decode(root) {
    const t = root.child('type');
    const type = t.absent ? 'Opaque' : t.string({ maxLength: 253 });
    checkValues(root);
    if (type !== TLS_SECRET_TYPE) return type === undefined ? undefined : { type };
    const certificateChainPem = secretValue(root, 'tls.crt');
    const privateKeyPem = secretValue(root, 'tls.key');
    if (certificateChainPem === undefined) root.child('data').report('Required', 'a kubernetes.io/tls Secret needs tls.crt (in data, base64, or stringData)');
    if (privateKeyPem === undefined) root.child('data').report('Required', 'a kubernetes.io/tls Secret needs tls.key (in data, base64, or stringData)');
    if (certificateChainPem === undefined || privateKeyPem === undefined || !checkTlsPair(root, certificateChainPem, privateKeyPem)) return { type };
    return { type, tls: { certificateChainPem, privateKeyPem } };
  },
};
