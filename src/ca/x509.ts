/**
 * X.509 certificate builder: a pure function from a specification and an
 * issuer to DER. No clock, no randomness (the serial is an input), no I/O.
 *
 * Structure is written by @peculiar/asn1-x509 (RFC 5280 schemas); keys and
 * signatures are node:crypto. Chosen by measurement (bench/ca-issue.ts, one
 * core, leaves/s): @peculiar/x509 over WebCrypto ≈ 365; pkijs + native sign
 * ≈ 1,300; asn1-x509 with every field through the schema ≈ 1,200; this file,
 * which pre-encodes the parts that do not change (encoding.ts, RawDer) ≈ 2,400,
 * against a native floor (keygen + export + sign, no structure) of ≈ 4,100.
 *
 * Profiles follow RFC 5280 §4.2 and the SPIFFE X.509-SVID spec
 * (https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md):
 * a workload leaf has exactly one URI SAN, CA:false, digitalSignature, and
 * serverAuth+clientAuth so the same certificate serves both mTLS ends.
 */
import { sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as x from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { RawDer, keyIdentifier } from './encoding.ts';

/** Signature algorithm for an issuer key; undefined for keys Trellis does not sign with. */
export interface SignatureScheme {
  algorithm: RawDer;
  hash: 'sha256' | 'sha384';
}

// RFC 5758 §3.2: ECDSA AlgorithmIdentifiers omit parameters.
// RFC 4055 §5: sha256WithRSAEncryption carries NULL parameters.
const ECDSA_SHA256: SignatureScheme = { algorithm: RawDer.of(new x.AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' })), hash: 'sha256' };
const ECDSA_SHA384: SignatureScheme = { algorithm: RawDer.of(new x.AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.3' })), hash: 'sha384' };
const RSA_SHA256: SignatureScheme = { algorithm: RawDer.of(new x.AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: null })), hash: 'sha256' };

export function signatureSchemeFor(key: KeyObject): SignatureScheme | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return ECDSA_SHA256;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'secp384r1') return ECDSA_SHA384;
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return RSA_SHA256;
  return undefined;
}

/** What a certificate's issuer contributes; built once per root and reused for every leaf. */
export interface Issuer {
  /** The issuer's subject Name, DER, exactly as its certificate carries it. */
  name: RawDer;
  /** AuthorityKeyIdentifier extension pointing at the issuer's SubjectKeyIdentifier. */
  authorityKeyId: RawDer;
  key: KeyObject;
  scheme: SignatureScheme;
}

export function createIssuer(nameDer: Uint8Array, subjectKeyId: Uint8Array, key: KeyObject): Issuer {
  const scheme = signatureSchemeFor(key);
  if (!scheme) throw new Error(`unsupported issuer key: ${key.asymmetricKeyType ?? 'unknown'}`);
  const aki = new x.AuthorityKeyIdentifier({ keyIdentifier: new x.KeyIdentifier(subjectKeyId) });
  return { name: new RawDer(nameDer), authorityKeyId: extension(x.id_ce_authorityKeyIdentifier, false, aki), key, scheme };
}

export type CertificateProfile =
  | { kind: 'root' }
  | { kind: 'workload'; spiffeId: string }
  | { kind: 'server'; dnsNames: readonly string[]; ipAddresses: readonly string[]; uris: readonly string[] };

export interface CertificateSpec {
  /** Positive, at most 20 octets (RFC 5280 §4.1.2.2), first octet 0x01–0x7f. */
  serial: Uint8Array;
  /** Subject Name DER; see `distinguishedName`. Workload leaves use an empty Name. */
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** The subject's public key as SubjectPublicKeyInfo DER (node: `export({ type: 'spki', format: 'der' })`). */
  subjectPublicKeyInfo: Uint8Array;
  profile: CertificateProfile;
}

function extensionOf(id: string, critical: boolean, value: unknown): x.Extension {
  return new x.Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** An extension encoded once, for the ones that are the same in many certificates. */
function extension(id: string, critical: boolean, value: unknown): RawDer {
  return RawDer.of(extensionOf(id, critical, value));
}

// Extensions identical in every certificate of a profile: encoded once.
const CA_CONSTRAINTS = extension(x.id_ce_basicConstraints, true, new x.BasicConstraints({ cA: true }));
const CA_KEY_USAGE = extension(x.id_ce_keyUsage, true, new x.KeyUsage(x.KeyUsageFlags.keyCertSign | x.KeyUsageFlags.cRLSign));
const LEAF_CONSTRAINTS = extension(x.id_ce_basicConstraints, true, new x.BasicConstraints({ cA: false }));
// EC keys sign the TLS handshake; keyEncipherment only applies to RSA key transport.
const LEAF_KEY_USAGE = extension(x.id_ce_keyUsage, true, new x.KeyUsage(x.KeyUsageFlags.digitalSignature));
const WORKLOAD_EKU = extension(x.id_ce_extKeyUsage, false, new x.ExtendedKeyUsage([x.id_kp_serverAuth, x.id_kp_clientAuth]));
const SERVER_EKU = extension(x.id_ce_extKeyUsage, false, new x.ExtendedKeyUsage([x.id_kp_serverAuth]));

function subjectAltNames(profile: Exclude<CertificateProfile, { kind: 'root' }>): x.Extension {
  if (profile.kind === 'workload') {
    // SPIFFE X509-SVID §2: exactly one URI SAN. The subject is empty, so the
    // SAN is critical (RFC 5280 §4.2.1.6).
    const names = [new x.GeneralName({ uniformResourceIdentifier: profile.spiffeId })];
    return extensionOf(x.id_ce_subjectAltName, true, new x.SubjectAlternativeName(names));
  }
  const names = [
    ...profile.dnsNames.map((dNSName) => new x.GeneralName({ dNSName })),
    ...profile.ipAddresses.map((iPAddress) => new x.GeneralName({ iPAddress })),
    ...profile.uris.map((uniformResourceIdentifier) => new x.GeneralName({ uniformResourceIdentifier })),
  ];
  return extensionOf(x.id_ce_subjectAltName, false, new x.SubjectAlternativeName(names));
}

/**
 * The schema classes are typed with their own field classes; a RawDer stands
 * in for one of them and serializes to the same bytes it would.
 */
function asField<T>(raw: RawDer): T {
  return raw as unknown as T;
}

/** A subject or issuer Name, DER, with the attributes Trellis sets (UTF8String values). */
export function distinguishedName(attrs: { commonName?: string; organization?: string }): Uint8Array {
  const rdns: x.RelativeDistinguishedName[] = [];
  const add = (type: string, value: string | undefined): void => {
    if (value === undefined) return;
    const atv = new x.AttributeTypeAndValue({ type, value: new x.AttributeValue({ utf8String: value }) });
    rdns.push(new x.RelativeDistinguishedName([atv]));
  };
  add('2.5.4.10', attrs.organization);
  add('2.5.4.3', attrs.commonName);
  return RawDer.of(new x.Name(rdns)).bytes;
}

/**
 * Builds and signs one certificate. For a root, pass the issuer made from the
 * root's own subject, key identifier and key (self-signed).
 */
export function buildCertificate(spec: CertificateSpec, issuer: Issuer): Buffer {
  const subjectKeyId = extensionOf(x.id_ce_subjectKeyIdentifier, false, new x.SubjectKeyIdentifier(keyIdentifier(spec.subjectPublicKeyInfo)));
  const extensions: x.Extension[] =
    spec.profile.kind === 'root'
      ? [asField(CA_CONSTRAINTS), asField(CA_KEY_USAGE), subjectKeyId]
      : [
          asField(LEAF_CONSTRAINTS),
          asField(LEAF_KEY_USAGE),
          asField(spec.profile.kind === 'workload' ? WORKLOAD_EKU : SERVER_EKU),
          subjectAltNames(spec.profile),
          subjectKeyId,
          asField(issuer.authorityKeyId),
        ];
  const tbs = new x.TBSCertificate({
    version: x.Version.v3,
    serialNumber: toArrayBuffer(spec.serial),
    signature: asField<x.AlgorithmIdentifier>(issuer.scheme.algorithm),
    issuer: asField<x.Name>(issuer.name),
    validity: new x.Validity({ notBefore: spec.notBefore, notAfter: spec.notAfter }),
    subject: asField<x.Name>(new RawDer(spec.subject)),
    subjectPublicKeyInfo: asField<x.SubjectPublicKeyInfo>(new RawDer(spec.subjectPublicKeyInfo)),
    extensions: new x.Extensions(extensions),
  });
  const tbsDer = new Uint8Array(RawDer.of(tbs).bytes);
  const signature = sign(issuer.scheme.hash, tbsDer, issuer.key);
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
  // (RFC 5280 §4.1). The signed TBS bytes are embedded as they were signed.
  const certificate = new asn1js.Sequence({
    value: [
      new RawDer(tbsDer).toASN(),
      issuer.scheme.algorithm.toASN(),
      new asn1js.BitString({ valueHex: new Uint8Array(signature) }),
    ],
  });
  return Buffer.from(certificate.toBER(false));
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
