/**
 * Roots of trust: generating Trellis's own, and checking any root (generated,
 * persisted or operator-supplied) before the CA signs with it. Every check
 * that fails throws a CaError that says what and how to fix (errors.ts).
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as x from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { CaError } from './errors.ts';
import { derToPem, keyIdentifier, pemBlocks } from './encoding.ts';
import { buildCertificate, createIssuer, distinguishedName } from './x509.ts';
import { errorMessage } from '../errors.ts';

export const DEFAULT_ROOT_LIFETIME_MS = 10 * 365 * 24 * 3600_000;
/** Roots start an hour early so that peers whose clocks lag a little still accept them. */
const ROOT_BACKDATE_MS = 3600_000;

/** A root in the trust bundle. */
export interface TrustedRoot {
  certificatePem: string;
  x509: X509Certificate;
  /** SHA-256 fingerprint, `AB:CD:…` as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint: string;
  subject: string;
  notBefore: number;
  notAfter: number;
}

/** Where the PEM came from, so messages name the file the operator must fix. */
export interface RootOrigin {
  certPath: string;
  keyPath: string;
  /** True for the state dir: a broken file there is corruption, not operator input. */
  state: boolean;
}

/** A fresh self-signed ECDSA P-256 root. Serial and key are random; time is the caller's. */
export function generateRoot(opts: { trustDomain: string; now: number; lifetimeMs?: number }): { certificatePem: string; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomSerial();
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // The serial's prefix tells two roots of one trust domain apart by name, which
  // keeps chain building unambiguous in verifiers that look issuers up by subject.
  const subject = distinguishedName({
    organization: opts.trustDomain.slice(0, 64),
    commonName: `Trellis root CA ${Buffer.from(serial).toString('hex').slice(0, 8)}`,
  });
  const self = createIssuer(subject, keyIdentifier(spki), privateKey);
  const der = buildCertificate(
    {
      serial,
      subject,
      notBefore: new Date(opts.now - ROOT_BACKDATE_MS),
      notAfter: new Date(opts.now + (opts.lifetimeMs ?? DEFAULT_ROOT_LIFETIME_MS)),
      subjectPublicKeyInfo: spki,
      profile: { kind: 'root' },
    },
    self,
  );
  return { certificatePem: derToPem(der, 'CERTIFICATE'), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** 16 random octets, positive and minimally encoded as a DER INTEGER (RFC 5280 §4.1.2.2). */
export function randomSerial(): Uint8Array {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) || 0x01;
  return serial;
}

export function failWith(origin: RootOrigin, code: CaError['code'], problem: string, fix: string, path = origin.certPath): never {
  throw errorFor(origin, code, problem, fix, path);
}

function errorFor(origin: RootOrigin, code: CaError['code'], problem: string, fix: string, path: string): CaError {
  if (origin.state && (code === 'malformed-pem' || code === 'key-mismatch')) {
    return new CaError(
      'corrupt-state',
      `${problem} (in the state dir, which Trellis writes itself)`,
      `restore ${path} from a backup; if the root is lost, move ${path.replace(/\/[^/]+$/, '')} aside so Trellis creates a new root, then re-bootstrap every workload`,
      path,
    );
  }
  return new CaError(code, problem, fix, path);
}

/** Parses and checks a root certificate (no key): the trust bundle's members. */
export function loadTrustedRoot(certificatePem: string, now: number, origin: RootOrigin): TrustedRoot {
  const blocks = pemBlocks(certificatePem);
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (certs.length !== 1 || blocks.length !== 1) {
    failWith(origin, 'malformed-pem', `${origin.certPath} must hold exactly one PEM "CERTIFICATE" block, found ${describeBlocks(blocks)}`,
      'give the root CA certificate alone, PEM-encoded (openssl x509 -in cert -outform PEM)');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certs[0]!.der);
  } catch (err) {
    failWith(origin, 'malformed-pem', `${origin.certPath} is not a valid X.509 certificate (${errorMessage(err)})`,
      'check the file with `openssl x509 -in FILE -noout -text`');
  }
  checkCa(certs[0]!.der, origin);
  if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) {
    failWith(origin, 'not-a-root', `${origin.certPath} (${cert.subject.replace(/\n/g, ', ')}) is not self-signed`,
      'give the self-signed root CA here; an intermediate signs with its chain instead (trellis ca import --cert I --key K --chain C)');
  }
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (notBefore > now) {
    failWith(origin, 'clock-skew', `${origin.certPath} is not valid until ${new Date(notBefore).toISOString()}, but this machine's clock says ${new Date(now).toISOString()}`,
      'check the clock on this machine and where the root was made (NTP); Trellis would issue certificates peers reject');
  }
  if (notAfter <= now) {
    failWith(origin, 'expired', `${origin.certPath} expired at ${new Date(notAfter).toISOString()}`,
      'give a root that is still valid; a mesh whose root expired must be re-bootstrapped with a new one');
  }
  return { certificatePem: derToPem(certs[0]!.der, 'CERTIFICATE'), x509: cert, fingerprint: cert.fingerprint256, subject: cert.subject.replace(/\n/g, ', '), notBefore, notAfter };
}

export function parseKey(pem: string, origin: RootOrigin): KeyObject {
  const blocks = pemBlocks(pem);
  if (blocks.some((b) => b.label.includes('ENCRYPTED'))) {
    failWith(origin, 'malformed-pem', `${origin.keyPath} is encrypted`,
      'give the key unencrypted, readable only by Trellis (openssl pkey -in KEY -out PLAIN; chmod 600 PLAIN)', origin.keyPath);
  }
  const keys = blocks.filter((b) => b.label.endsWith('PRIVATE KEY'));
  if (keys.length !== 1 || blocks.length !== 1) {
    failWith(origin, 'malformed-pem', `${origin.keyPath} must hold exactly one PEM private key block, found ${describeBlocks(blocks)}`,
      'give the CA key alone, PEM-encoded (openssl pkey -in KEY -out KEY.pem)', origin.keyPath);
  }
  try {
    return createPrivateKey(pem);
  } catch (err) {
    failWith(origin, 'malformed-pem', `${origin.keyPath} is not a valid private key (${errorMessage(err)})`,
      'check the file with `openssl pkey -in FILE -noout`', origin.keyPath);
  }
}

/**
 * RFC 5280 §4.2.1.9: a CA certificate asserts cA in basicConstraints.
 * §4.2.1.3: if keyUsage is present it must include keyCertSign. A root
 * without keyUsage is accepted because `openssl req -x509` makes those by
 * default and verifiers (OpenSSL, BoringSSL) accept them. `label` names the
 * certificate in messages (default: its file).
 */
export function checkCa(der: Uint8Array, origin: RootOrigin, label = origin.certPath): void {
  // Not cert.ca: OpenSSL's answer is also false for a CA:TRUE certificate
  // whose keyUsage lacks keyCertSign, and the message must say which it is.
  const bc = extensionValue(der, x.id_ce_basicConstraints);
  if (!bc || !AsnConvert.parse(bc, x.BasicConstraints).cA) {
    failWith(origin, 'not-a-ca', `${label} is not a CA certificate (basicConstraints CA:TRUE is missing)`,
      'make the CA certificate with `-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign` (docs/security.md, "Use your own root")');
  }
  const ku = extensionValue(der, x.id_ce_keyUsage);
  if (ku && (AsnConvert.parse(ku, x.KeyUsage).toNumber() & x.KeyUsageFlags.keyCertSign) === 0) {
    failWith(origin, 'not-a-ca', `${label} has keyUsage without keyCertSign, so it may not sign certificates`,
      'make the CA certificate with `-addext keyUsage=critical,keyCertSign,cRLSign`');
  }
}

export function extensionValue(der: Uint8Array, oid: string): ArrayBuffer | undefined {
  const cert = AsnConvert.parse(der, x.Certificate);
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === oid);
  return ext?.extnValue.buffer;
}

/**
 * The root's subject Name as it is encoded in the certificate. Leaves copy
 * these bytes into their issuer field, so name chaining matches exactly.
 */
export function subjectNameDer(der: Uint8Array): Uint8Array {
  const parsed = asn1js.fromBER(new Uint8Array(der));
  const tbs = (parsed.result as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence;
  const fields = tbs.valueBlock.value;
  // TBSCertificate: [0] version (explicitly tagged, context class), serial, signature, issuer, validity, subject, …
  const hasVersion = fields[0]?.idBlock.tagClass === 3;
  return fields[hasVersion ? 5 : 4]!.valueBeforeDecodeView;
}

/** The root's SubjectKeyIdentifier, or the RFC 7093 §2 (4) identifier if it has none. */
export function subjectKeyId(der: Uint8Array, cert: X509Certificate): Uint8Array {
  const ski = extensionValue(der, x.id_ce_subjectKeyIdentifier);
  if (ski) return new Uint8Array(AsnConvert.parse(ski, x.SubjectKeyIdentifier).buffer);
  return keyIdentifier(cert.publicKey.export({ type: 'spki', format: 'der' }));
}

export function describeBlocks(blocks: { label: string }[]): string {
  return blocks.length === 0 ? 'none' : blocks.map((b) => `"${b.label}"`).join(', ');
}
