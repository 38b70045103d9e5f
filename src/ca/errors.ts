/**
 * Why the CA refuses to start. Each error says what is wrong, where, and how
 * to fix it: an operator reads it once, at startup, and must not need the
 * source to act on it. Tests assert on `code`, never on the wording.
 *
 * Refusing is the point: a CA that starts on a bad root issues certificates
 * nobody trusts (or, worse, that everybody trusts for too long).
 */
import { OperatorError } from '../errors.ts';

export type CaErrorCode =
  /** A file does not hold the PEM it should (cert or key), or holds several. */
  | 'malformed-pem'
  /** The key is a kind Trellis cannot sign certificates with. */
  | 'unsupported-key'
  /** The root's notAfter has passed. */
  | 'expired'
  /** The root's notBefore is in the future: this machine's clock or the root's is wrong. */
  | 'clock-skew'
  /** The certificate is not a CA: no basicConstraints CA:TRUE, or keyUsage without keyCertSign. */
  | 'not-a-ca'
  /** The file given as the root (--root) is not one self-signed certificate. */
  | 'not-a-root'
  /** The signing CA's chain does not reach a root, or not the configured one. */
  | 'chain-incomplete'
  /** A CA on the path has a pathLenConstraint the path exceeds (RFC 5280 §4.2.1.9). */
  | 'path-length'
  /** The private key does not belong to the certificate. */
  | 'key-mismatch'
  /** The state dir is in a state Trellis never leaves it in. */
  | 'corrupt-state'
  /** A private key file in the state dir is readable by others than its owner. */
  | 'insecure-key-file'
  /** No root is stored, but the state dir had one (its ca/ is lost): refused without --new-ca. */
  | 'root-lost'
  /** The operator's root differs from the one the state dir already trusts. */
  | 'root-conflict'
  /** A rotation step asked for at the wrong time (none in progress, one already running). */
  | 'rotation-state'
  /** The state dir cannot be written: a full disk, a read-only or forbidden directory. */
  | 'write-failed'
  /** A setting the CA was given cannot work (trust domain, lifetime, unreadable file). */
  | 'invalid-config';

/** An operator's problem (src/errors.ts): `trellis` prints the message alone and exits 1. */
export class CaError extends OperatorError {
  override readonly name = 'CaError';

  constructor(
    readonly code: CaErrorCode,
    /** What is wrong, with the file it is about. */
    readonly problem: string,
    /** What the operator can do about it. */
    readonly fix: string,
    readonly path?: string,
  ) {
    super(`${problem}. To fix: ${fix}`);
  }
}
