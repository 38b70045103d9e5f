/**
 * A certificate the CA issued, with its private key.
 *
 * The key must never reach a log, an API response or an error message: it is
 * held in a private field, `toJSON()` leaves it out (pino and JSON.stringify
 * call it) and `util.inspect` (console.log, test failure output) shows the
 * summary only. Code that needs the key asks for `privateKeyPem` by name,
 * which is greppable: SDS (translate/secrets.ts) is the one legitimate reader.
 */
import { inspect } from 'node:util';

export type CertificateKind = 'workload' | 'server';

/** Everything about a certificate that may be shown. Times are ms since epoch. */
export interface CertificateSummary {
  kind: CertificateKind;
  /** The SPIFFE ID in the URI SAN (the server certificate's, if it has one). */
  spiffeId: string | undefined;
  /** Hex, as `openssl x509 -serial` prints it. */
  serial: string;
  notBefore: number;
  notAfter: number;
  /** SHA-256 fingerprint of the root that signed it. */
  issuerFingerprint: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}

export interface IssuedCertificateInit extends CertificateSummary {
  /** When the CA signed it (ms since epoch); notBefore is backdated for clock skew. Defaults to notBefore. */
  issuedAt?: number;
  certificatePem: string;
  /** The intermediates above the leaf, PEM, bottom-up ('' when a root signed it). */
  chainPem?: string;
  privateKeyPem: string;
}

export class IssuedCertificate implements CertificateSummary {
  readonly kind: CertificateKind;
  readonly spiffeId: string | undefined;
  readonly serial: string;
  readonly notBefore: number;
  readonly notAfter: number;
  /** When the CA signed it: renewal counts the lifetime from here (rotation.ts). */
  readonly issuedAt: number;
  readonly issuerFingerprint: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  /** The leaf alone, PEM. */
  readonly certificatePem: string;
  readonly chainPem: string;
  readonly #privateKeyPem: string;

  constructor(init: IssuedCertificateInit) {
    this.kind = init.kind;
    this.spiffeId = init.spiffeId;
    this.serial = init.serial;
    this.notBefore = init.notBefore;
    this.notAfter = init.notAfter;
    this.issuedAt = init.issuedAt ?? init.notBefore;
    this.issuerFingerprint = init.issuerFingerprint;
    this.dnsNames = init.dnsNames;
    this.ipAddresses = init.ipAddresses;
    this.certificatePem = init.certificatePem;
    this.chainPem = init.chainPem ?? '';
    this.#privateKeyPem = init.privateKeyPem;
  }

  /**
   * What a TLS endpoint presents (SDS certificate_chain): the leaf, then the
   * intermediates up to the root when an intermediate signed it, so a peer
   * that trusts only the root can build the path. Never the root: every peer
   * has it in its trust bundle, and sending it would only add bytes.
   */
  get certificateChainPem(): string {
    return this.certificatePem + this.chainPem;
  }

  /** PKCS#8 PEM. For SDS and the TLS server only; never log it. */
  get privateKeyPem(): string {
    return this.#privateKeyPem;
  }

  summary(): CertificateSummary {
    return {
      kind: this.kind,
      spiffeId: this.spiffeId,
      serial: this.serial,
      notBefore: this.notBefore,
      notAfter: this.notAfter,
      issuerFingerprint: this.issuerFingerprint,
      dnsNames: this.dnsNames,
      ipAddresses: this.ipAddresses,
    };
  }

  /** The certificate without its key; JSON.stringify and pino call this. */
  toJSON(): CertificateSummary & { certificatePem: string } {
    return { ...this.summary(), certificatePem: this.certificatePem };
  }

  [inspect.custom](): string {
    return `IssuedCertificate ${inspect(this.summary())}`;
  }
}
