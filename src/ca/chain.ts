/**
 * The CA Trellis signs with, and its path to the trust anchor: either a
 * self-signed root (Trellis's own, or an operator's), or an intermediate CA
 * under an operator's root, given with the chain up to that root. Trellis
 * never needs the root's key: it signs with the intermediate's, and the root
 * alone goes in the trust bundle.
 *
 * The path is built and checked here, once, with the same rules a verifier
 * applies to every leaf Trellis will issue (RFC 5280 §6.1), so that a CA
 * OpenSSL or BoringSSL would refuse never starts signing:
 *  - each certificate is issued by the next (name chaining and signature),
 *    up to a self-signed root; that root is the configured one;
 *  - every certificate on the path is a CA (basicConstraints CA:TRUE, and
 *    keyCertSign if keyUsage is present) and valid now;
 *  - pathLenConstraint (§4.2.1.9): a CA with pathLen N may have at most N
 *    intermediate CAs below it on a path. Trellis issues leaves only (never
 *    a CA), so its signing CA may have pathLen 0; each CA above it has one
 *    more intermediate below it per step.
 *
 * Stored form (the state dir's root.crt, store.ts): the signing certificate,
 * then the intermediates above it, then the root, PEM, bottom-up.
 */
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as x from '@peculiar/asn1-x509';
import { derToPem, pemBlocks } from './encoding.ts';
import { checkCa, describeBlocks, extensionValue, failWith, parseKey, subjectKeyId, subjectNameDer, type RootOrigin, type TrustedRoot } from './root.ts';
import { createIssuer, signatureSchemeFor, type Issuer } from './x509.ts';
import { errorMessage } from '../errors.ts';

/** A verifier gives up on longer paths; so does Trellis. */
const MAX_PATH = 8;

/** One certificate of a CA's path, with where it came from. */
export interface PathCertificate extends TrustedRoot {
  /** basicConstraints pathLenConstraint, if the certificate sets one. */
  pathLen: number | undefined;
  /** The file it was read from, for messages. */
  file: string;
}

/** The signing CA's public side: its certificate, the intermediates above it, its root. */
export interface CaChain extends PathCertificate {
  /** Intermediates between the signing certificate and the root, bottom-up (empty for a root or a direct child of one). */
  intermediates: PathCertificate[];
  /** The self-signed root the path ends at (the signing certificate itself when it is a root). */
  anchor: PathCertificate;
  /** What a leaf carries after itself so peers that hold only the root can verify it: the signing CA and the intermediates ('' for a root). */
  leafChainPem: string;
  /** The stored form: signing certificate, intermediates, root. */
  pathPem: string;
  /** The window in which every certificate of the path is valid: a leaf never leaves it. */
  validFrom: number;
  validUntil: number;
}

/** A CA Trellis signs with. */
export interface SigningCa extends CaChain {
  keyPem: string;
  issuer: Issuer;
}

/** Where the PEM came from: the certificate (and key), an optional chain file, an optional root file. */
export interface CaOrigin extends RootOrigin {
  chainPath?: string;
  rootPath?: string;
}

export interface CaPem {
  /** The signing CA's certificate first; more certificates after it are read as chain. */
  certificatePem: string;
  chainPem?: string;
  /** The root the path must end at (one self-signed certificate). */
  rootPem?: string;
}

/**
 * Issued-by by name and signature only. X509Certificate.checkIssued also
 * wants keyCertSign on the issuer: a CA without it would then look like a
 * missing link, when the true message is "not a CA" (checkPathMember).
 */
function issuedBy(c: X509Certificate, issuer: X509Certificate): boolean {
  if (c.issuer !== issuer.subject) return false;
  try {
    return c.verify(issuer.publicKey);
  } catch {
    return false; // a key of another kind than the signature: not its issuer
  }
}

export const isSelfSigned = (c: X509Certificate): boolean => issuedBy(c, c);

export const oneLine = (name: string): string => name.replace(/\n/g, ', ');

/**
 * Parses and checks the signing CA's certificate and its path. `expectedRoot`
 * is the root already configured (the state dir's; a rotation of the intermediate keeps it):
 * without `rootPem`, the path must end there, and it may be left out of the chain.
 */
export function loadCaChain(pem: CaPem, now: number, origin: CaOrigin, expectedRoot?: PathCertificate): CaChain {
  const [signer, ...rest] = certificatesOf(pem.certificatePem, origin.certPath, origin, 'the CA certificate');
  if (!signer) throw new Error('unreachable: certificatesOf returns at least one');
  const pool = [...rest];
  if (pem.chainPem !== undefined) pool.push(...certificatesOf(pem.chainPem, origin.chainPath ?? 'the chain', origin, 'the chain', true));
  let configured: PathCertificate | undefined;
  if (pem.rootPem !== undefined) {
    const roots = certificatesOf(pem.rootPem, origin.rootPath ?? 'the root', origin, 'the root');
    configured = roots[0]!;
    if (roots.length !== 1 || !isSelfSigned(configured.x509)) {
      failWith(origin, 'not-a-root', `${configured.file} (${configured.subject}) must hold one self-signed root certificate${roots.length !== 1 ? `, found ${roots.length} certificates` : ', but it is not self-signed'}`,
        'give the operator\'s root CA alone as --root; intermediates go in --chain', configured.file);
    }
  } else if (expectedRoot && !isSelfSigned(signer.x509)) {
    // A self-signed CA certificate is a root of its own (a root rotation); an intermediate keeps the configured root.
    configured = expectedRoot;
  }
  if (configured) pool.push(configured);

  const path: PathCertificate[] = [signer];
  for (let cur = signer; !isSelfSigned(cur.x509); ) {
    const parent = pool.find((c) => issuedBy(cur.x509, c.x509));
    if (!parent) {
      const where = [origin.chainPath, origin.rootPath].filter(Boolean).join(' or ') || (configured ? 'the configured root' : 'the chain');
      const namesake = pool.find((c) => c.x509.subject === cur.x509.issuer);
      const which = namesake ? ` (${namesake.file} holds a certificate of that name, but its key did not sign this one: another CA of the same name)` : '';
      failWith(origin, 'chain-incomplete', `${cur.file} (${cur.subject}) is issued by ${oneLine(cur.x509.issuer)}, which is not in ${where}${which}, so its chain does not reach ${configured ? `the configured root (${configured.subject})` : 'a root'}`,
        configured ? 'give the intermediates between it and that root with --chain, or the root it does chain to with --root (a root rotation)' : 'give the intermediates and the root with --chain (or the root alone with --root)', cur.file);
    }
    if (path.some((c) => c.fingerprint === parent.fingerprint) || path.length >= MAX_PATH) {
      failWith(origin, 'chain-incomplete', `the chain of ${signer.file} (${signer.subject}) loops or is longer than ${MAX_PATH} certificates`, 'give the chain from the CA certificate up to its root, each certificate once', parent.file);
    }
    path.push(parent);
    cur = parent;
  }
  const anchor = path.at(-1)!;
  if (configured && anchor.fingerprint !== configured.fingerprint) {
    failWith(origin, 'chain-incomplete', `the chain of ${signer.file} (${signer.subject}) ends at root ${anchor.subject} (${anchor.fingerprint.slice(0, 23)}…), not at the configured root ${configured.subject} (${configured.file})`,
      pem.rootPem === undefined ? 'give an intermediate of the configured root, or the new root with --root to rotate the root too' : 'give the root this intermediate was issued under as --root', signer.file);
  }
  for (const [i, c] of path.entries()) checkPathMember(c, i, path, now, origin);
  return {
    ...signer,
    intermediates: path.slice(1, -1),
    anchor,
    leafChainPem: path.length === 1 ? '' : path.slice(0, -1).map((c) => c.certificatePem).join(''),
    pathPem: path.map((c) => c.certificatePem).join(''),
    validFrom: Math.max(...path.map((c) => c.notBefore)),
    validUntil: Math.min(...path.map((c) => c.notAfter)),
  };
}

/** loadCaChain plus the signing key: everything the CA needs to issue leaves. */
export function loadSigningCa(pem: CaPem & { keyPem: string }, now: number, origin: CaOrigin, expectedRoot?: PathCertificate): SigningCa {
  const chain = loadCaChain(pem, now, origin, expectedRoot);
  const key = parseKey(pem.keyPem, origin);
  if (!signatureSchemeFor(key)) {
    const d = key.asymmetricKeyDetails;
    const kind = [key.asymmetricKeyType, d?.namedCurve, d?.modulusLength ? `${d.modulusLength}-bit` : undefined].filter(Boolean).join(' ');
    failWith(origin, 'unsupported-key', `${origin.keyPath} holds a ${kind} key`, 'use an ECDSA P-256 or P-384 key or an RSA key of at least 2048 bits', origin.keyPath);
  }
  if (!chain.x509.checkPrivateKey(key)) {
    failWith(origin, 'key-mismatch', `${origin.keyPath} is not the private key of ${origin.certPath} (${chain.subject})`,
      'give the key the certificate was made for (compare `openssl x509 -noout -pubkey -in CERT` with `openssl pkey -pubout -in KEY`)', origin.keyPath);
  }
  const issuer = createIssuer(subjectNameDer(chain.x509.raw), subjectKeyId(chain.x509.raw, chain.x509), key);
  return { ...chain, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(), issuer };
}

/** Every certificate of a PEM file; at least one, and nothing else (a key in a chain file is a mistake worth naming). */
function certificatesOf(pem: string, file: string, origin: CaOrigin, what: string, many = false): PathCertificate[] {
  const blocks = pemBlocks(pem);
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (certs.length === 0 || certs.length !== blocks.length) {
    failWith(origin, 'malformed-pem', `${file} must hold ${many ? 'PEM "CERTIFICATE" blocks only' : 'a PEM "CERTIFICATE" block'} (${what}), found ${describeBlocks(blocks)}`,
      'give PEM certificates (openssl x509 -in cert -outform PEM); keys go in their own file', file);
  }
  return certs.map((b, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(b.der);
    } catch (err) {
      failWith(origin, 'malformed-pem', `${file}${certs.length > 1 ? ` (certificate ${i + 1})` : ''} is not a valid X.509 certificate (${errorMessage(err)})`,
        'check the file with `openssl x509 -in FILE -noout -text`', file);
    }
    return {
      certificatePem: derToPem(b.der, 'CERTIFICATE'),
      x509: cert,
      fingerprint: cert.fingerprint256,
      subject: oneLine(cert.subject),
      notBefore: Date.parse(cert.validFrom),
      notAfter: Date.parse(cert.validTo),
      pathLen: pathLenOf(b.der),
      file,
    };
  });
}

export function pathLenOf(der: Uint8Array): number | undefined {
  const bc = extensionValue(der, x.id_ce_basicConstraints);
  return bc ? AsnConvert.parse(bc, x.BasicConstraints).pathLenConstraint : undefined;
}

/** The checks a verifier makes on each CA of a leaf's path; `index` intermediates sit below it (the leaf is not counted). */
function checkPathMember(c: PathCertificate, index: number, path: readonly PathCertificate[], now: number, origin: CaOrigin): void {
  const role = index === 0 ? 'the signing CA' : index === path.length - 1 ? 'the root' : 'an intermediate';
  checkCa(c.x509.raw, { ...origin, certPath: c.file }, `${c.file} (${c.subject}, ${role})`);
  if (c.notBefore > now) {
    failWith(origin, 'clock-skew', `${c.file} (${c.subject}) is not valid until ${new Date(c.notBefore).toISOString()}, but this machine's clock says ${new Date(now).toISOString()}`,
      'check the clock on this machine and where the certificate was made (NTP); Trellis would issue certificates peers reject', c.file);
  }
  if (c.notAfter <= now) {
    failWith(origin, 'expired', `${c.file} (${c.subject}, ${role}) expired at ${new Date(c.notAfter).toISOString()}`,
      index === path.length - 1 ? 'give a root that is still valid; a mesh whose root expired must be re-bootstrapped with a new one' : 'issue a new one from its CA and give that', c.file);
  }
  if (c.pathLen !== undefined && index > c.pathLen) {
    const below = path.slice(0, index).map((b) => b.subject).join(' -> ');
    failWith(origin, 'path-length', `${c.file} (${c.subject}) has pathLen ${c.pathLen}, which allows ${c.pathLen} intermediate CA${c.pathLen === 1 ? '' : 's'} below it, but this chain puts ${index} below it (${below}); verifiers would refuse every leaf Trellis issues`,
      `issue the signing intermediate directly from a CA whose pathLen allows it (pathLen ${index} or more, or none), e.g. from ${c.subject} itself`, c.file);
  }
}

/** The public part of a CA chain, without the key. */
export function publicChain(ca: CaChain): CaChain {
  const { certificatePem, x509, fingerprint, subject, notBefore, notAfter, pathLen, file, intermediates, anchor, leafChainPem, pathPem, validFrom, validUntil } = ca;
  return { certificatePem, x509, fingerprint, subject, notBefore, notAfter, pathLen, file, intermediates, anchor, leafChainPem, pathPem, validFrom, validUntil };
}

