/**
 * SDS Secret builders (envoy.extensions.transport_sockets.tls.v3.Secret),
 * pure: certificate material in, plain objects with proto field names out.
 *
 * Two kinds, named in names.ts:
 * - an identity's certificate and key, under the one name every sidecar asks
 *   for (WORKLOAD_CERTIFICATE_SECRET), which listeners and clusters reference
 *   as their tls_certificate_sds_secret_configs; whose certificate a stream
 *   receives is decided by the identity it proved (the encoded secret's
 *   owner, runtime/secrets.ts), never by the name;
 * - the trust bundle, one validation context every proxy gets, so that
 *   during a root rotation (old + new root in the bundle) old and new leaves
 *   keep trusting each other. Matching the peer's SPIFFE ID is per cluster
 *   (match_typed_subject_alt_names in its combined validation context), not
 *   here: the bundle says which roots are trusted, the cluster who may answer.
 *
 * PEM goes in `inline_string` (Envoy's DataSource accepts text there, and a
 * config dump shows it readably). The private key is only ever placed in
 * the secret; config dumps and logs must redact `private_key` (log.ts does).
 */
import type { Secret } from '../xds/envoy-types.ts';
import { TRUST_BUNDLE_SECRET, WORKLOAD_CERTIFICATE_SECRET } from './names.ts';

/** What an identity's secret is made of; the CA's IssuedCertificate fits it. */
export interface TlsIdentityMaterial {
  spiffeId: string | undefined;
  certificateChainPem: string;
  privateKeyPem: string;
}

/** An identity's certificate chain and private key. */
export function tlsCertificateSecret(material: TlsIdentityMaterial): Secret {
  // The name says nothing of the identity, so the certificate must: its SPIFFE ID is the secret's owner.
  if (material.spiffeId === undefined) throw new Error('an SDS identity secret needs a certificate with a SPIFFE ID');
  return {
    name: WORKLOAD_CERTIFICATE_SECRET,
    tls_certificate: {
      certificate_chain: { inline_string: material.certificateChainPem },
      private_key: { inline_string: material.privateKeyPem },
    },
  };
}

/** The trust bundle: every root a peer's certificate may chain to. */
export function trustBundleSecret(bundlePem: string): Secret {
  if (!bundlePem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('the trust bundle holds no certificate');
  return {
    name: TRUST_BUNDLE_SECRET,
    validation_context: { trusted_ca: { inline_string: bundlePem } },
  };
}
