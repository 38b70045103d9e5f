/**
 * DER and PEM plumbing shared by the CA. Everything structural (what goes in a
 * certificate) lives in x509.ts and is written by @peculiar/asn1-x509; this
 * file only moves already-encoded bytes around.
 */
import { createHash } from 'node:crypto';
import { AsnConvert, type IAsnConvertible } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';

/**
 * A value that is already DER, embedded when @peculiar/asn1-schema serializes
 * the structure around it (through its `IAsnConvertible` extension point).
 *
 * Why: the per-leaf hot path would otherwise re-encode constant extensions
 * and the issuer for every certificate, and serialize the TBSCertificate a
 * second time inside the Certificate. It also keeps the issuer's Name exactly
 * as the root encodes it, whatever string types the operator's tooling chose,
 * so a leaf's issuer always matches its root.
 *
 * asn1js (under asn1-schema) encodes a tree of blocks, each asked for its
 * bytes through `toBER(sizeOnly, writer)`; EncodedBlock answers with the
 * bytes it holds. Nothing is parsed or re-encoded, so what goes in is
 * exactly what comes out.
 */
export class RawDer implements IAsnConvertible {
  readonly #der: Uint8Array;

  constructor(der: Uint8Array | ArrayBuffer) {
    this.#der = der instanceof Uint8Array ? der : new Uint8Array(der);
  }

  /** Serializes a library structure once and keeps its bytes. */
  static of(value: unknown): RawDer {
    return new RawDer(AsnConvert.serialize(value));
  }

  get bytes(): Uint8Array {
    return this.#der;
  }

  toASN(): asn1js.AsnType {
    return new EncodedBlock(this.#der) as unknown as asn1js.AsnType;
  }

  toSchema(): asn1js.BaseBlock {
    throw new Error('RawDer is write-only: it cannot describe a schema for parsing');
  }

  fromASN(): this {
    throw new Error('RawDer is write-only: parse with the structure it stands for');
  }
}

/** An asn1js block whose encoding is given (see RawDer). */
class EncodedBlock extends asn1js.BaseBlock {
  readonly #der: ArrayBuffer;

  constructor(der: Uint8Array) {
    super();
    this.#der = der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
  }

  override toBER(_sizeOnly?: boolean, writer?: asn1js.ViewWriter): ArrayBuffer {
    // Inside a constructed block asn1js passes its writer and ignores the
    // return value; at top level it uses the return value.
    if (writer) {
      writer.write(this.#der);
      return new ArrayBuffer(0);
    }
    return this.#der;
  }
}

/** PEM with the given label, base64 wrapped at 64 columns (RFC 7468 §2). */
export function derToPem(der: Uint8Array, label: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Buffer;
}

/**
 * Every PEM block in `text`, in order. Text between blocks (OpenSSL's
 * "Bag Attributes", comments) is ignored, as OpenSSL does.
 */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const body = (m[2] ?? '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) continue;
    blocks.push({ label: m[1] ?? '', der: Buffer.from(body, 'base64') });
  }
  return blocks;
}

/**
 * Key identifier per RFC 7093 §2 method 4: a hash of the DER-encoded
 * SubjectPublicKeyInfo, truncated to the customary 160 bits. Hashing the
 * whole SPKI needs no parsing of what node:crypto encoded.
 */
export function keyIdentifier(spkiDer: Uint8Array): Buffer {
  return createHash('sha256').update(spkiDer).digest().subarray(0, 20);
}

/** `AB:CD:…` — the form `openssl x509 -fingerprint -sha256` prints, so operators can compare. */
export function colonHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}
