/**
 * Leaf certificates per second on one core, Trellis's CA against the
 * alternatives it was chosen over. Prints one JSON object and readable lines;
 * asserts nothing (DESIGN.md, testing ladder 6).
 *
 *   node --import tsx bench/ca-issue.ts [--count 3000] [--runs 5]
 *
 * Every variant makes what the CA makes: a fresh ECDSA P-256 key, a leaf with
 * a SPIFFE URI SAN signed by a P-256 root, PEM out. @peculiar/x509 signs
 * through WebCrypto (libuv thread pool), so the pool is pinned to one thread.
 */
process.env.UV_THREADPOOL_SIZE = '1';

import { generateKeyPairSync, randomBytes, sign, webcrypto } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asnx from '@peculiar/asn1-x509';
import 'reflect-metadata';
import * as px from '@peculiar/x509';
import * as pkijs from 'pkijs';
import * as asn1js from 'asn1js';
import pino from 'pino';
import { CertificateAuthority } from '../src/ca/authority.ts';

const { values } = parseArgs({ options: { count: { type: 'string', default: '3000' }, runs: { type: 'string', default: '5' } } });
const COUNT = Number(values.count);
const RUNS = Number(values.runs);
const SPIFFE = 'spiffe://cluster.local/ns/demo/sa/web';

interface Variant {
  name: string;
  why: string;
  /** Fewer certificates for the slow ones, so the whole run stays short. */
  scale: number;
  issueOne: () => unknown | Promise<unknown>;
}

async function rate(v: Variant): Promise<{ median: number; runs: number[] }> {
  const n = Math.max(20, Math.round(COUNT * v.scale));
  for (let i = 0; i < Math.min(200, n); i++) await v.issueOne(); // warm-up
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await v.issueOne();
    runs.push(Math.round(n / ((performance.now() - t) / 1000)));
  }
  const sorted = runs.toSorted((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, runs };
}

const stateDir = await mkdtemp(join(tmpdir(), 'trellis-bench-'));
const ca = await CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir, logger: pino({ level: 'silent' }) });
const root = generateKeyPairSync('ec', { namedCurve: 'P-256' });

// Plain @peculiar/asn1-x509: the same certificate, every field through the schema
// (SPKI parsed, TBS serialized twice), no pre-encoded parts.
const rootName = new asnx.Name([new asnx.RelativeDistinguishedName([new asnx.AttributeTypeAndValue({ type: '2.5.4.3', value: new asnx.AttributeValue({ utf8String: 'root' }) })])]);
const ecdsa = new asnx.AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
const ext = (id: string, critical: boolean, v: unknown): asnx.Extension => new asnx.Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(v)) });
function plainAsn1x509(): string {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = AsnConvert.parse(kp.publicKey.export({ type: 'spki', format: 'der' }), asnx.SubjectPublicKeyInfo);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) || 1;
  const now = Date.now();
  const tbs = new asnx.TBSCertificate({
    version: asnx.Version.v3, serialNumber: new Uint8Array(serial).buffer, signature: ecdsa, issuer: rootName, subject: new asnx.Name([]), subjectPublicKeyInfo: spki,
    validity: new asnx.Validity({ notBefore: new Date(now - 300_000), notAfter: new Date(now + 86_400_000) }),
    extensions: new asnx.Extensions([
      ext(asnx.id_ce_basicConstraints, true, new asnx.BasicConstraints({ cA: false })),
      ext(asnx.id_ce_keyUsage, true, new asnx.KeyUsage(asnx.KeyUsageFlags.digitalSignature)),
      ext(asnx.id_ce_extKeyUsage, false, new asnx.ExtendedKeyUsage([asnx.id_kp_serverAuth, asnx.id_kp_clientAuth])),
      ext(asnx.id_ce_subjectAltName, true, new asnx.SubjectAlternativeName([new asnx.GeneralName({ uniformResourceIdentifier: SPIFFE })])),
    ]),
  });
  const sig = sign('sha256', new Uint8Array(AsnConvert.serialize(tbs)), root.privateKey);
  const der = AsnConvert.serialize(new asnx.Certificate({ tbsCertificate: tbs, signatureAlgorithm: ecdsa, signatureValue: new Uint8Array(sig).buffer }));
  return Buffer.from(der).toString('base64') + kp.privateKey.export({ type: 'pkcs8', format: 'pem' });
}

// pkijs builds the structure; the TBS is signed natively.
const pkijsIssuer = new pkijs.RelativeDistinguishedNames({ typesAndValues: [new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: 'root' }) })] });
function pkijsNativeSign(): string {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) || 1;
  cert.serialNumber = new asn1js.Integer({ valueHex: serial });
  cert.issuer = pkijsIssuer;
  cert.notBefore.value = new Date(Date.now() - 300_000);
  cert.notAfter.value = new Date(Date.now() + 86_400_000);
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(kp.publicKey.export({ type: 'spki', format: 'der' }));
  cert.extensions = [
    new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: new pkijs.BasicConstraints({ cA: false }).toSchema().toBER(false) }),
    new pkijs.Extension({ extnID: '2.5.29.17', critical: true, extnValue: new pkijs.GeneralNames({ names: [new pkijs.GeneralName({ type: 6, value: SPIFFE })] }).toSchema().toBER(false) }),
  ];
  cert.signature = new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.10045.4.3.2' });
  cert.signatureAlgorithm = cert.signature;
  const sig = sign('sha256', new Uint8Array(cert.encodeTBS().toBER(false)), root.privateKey);
  cert.signatureValue = new asn1js.BitString({ valueHex: sig });
  return Buffer.from(cert.toSchema(true).toBER(false)).toString('base64') + kp.privateKey.export({ type: 'pkcs8', format: 'pem' });
}

// @peculiar/x509: the high-level library, WebCrypto keys and signatures.
px.cryptoProvider.set(webcrypto as unknown as Parameters<typeof px.cryptoProvider.set>[0]);
const ecParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const pxRoot = (await webcrypto.subtle.generateKey(ecParams, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
async function peculiarX509(): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(ecParams, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await px.X509CertificateGenerator.create({
    subject: '', issuer: 'CN=root', publicKey: keys.publicKey, signingKey: pxRoot.privateKey, signingAlgorithm: ecParams,
    notBefore: new Date(Date.now() - 300_000), notAfter: new Date(Date.now() + 86_400_000),
    extensions: [
      new px.BasicConstraintsExtension(false, undefined, true),
      new px.KeyUsagesExtension(px.KeyUsageFlags.digitalSignature, true),
      new px.ExtendedKeyUsageExtension([px.ExtendedKeyUsage.serverAuth, px.ExtendedKeyUsage.clientAuth]),
      new px.SubjectAlternativeNameExtension([{ type: 'url', value: SPIFFE }], true),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return cert.toString('pem') + Buffer.from(pkcs8).toString('base64');
}

const variants: Variant[] = [
  { name: 'trellis', why: 'asn1-x509 schemas, constant parts pre-encoded, native keygen + sign', scale: 1, issueOne: () => ca.issue({ namespace: 'demo', serviceAccount: 'web' }) },
  {
    name: 'native-floor', why: 'keygen + PKCS#8/SPKI export + one signature, no certificate structure', scale: 1,
    issueOne: () => {
      const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      kp.publicKey.export({ type: 'spki', format: 'der' });
      kp.privateKey.export({ type: 'pkcs8', format: 'pem' });
      return sign('sha256', Buffer.alloc(420), root.privateKey);
    },
  },
  { name: 'asn1-x509-plain', why: 'same library, every field serialized through the schema each time', scale: 0.5, issueOne: plainAsn1x509 },
  { name: 'pkijs-native-sign', why: 'pkijs structures, native signature', scale: 0.5, issueOne: pkijsNativeSign },
  { name: '@peculiar/x509', why: 'high-level library over WebCrypto', scale: 0.1, issueOne: peculiarX509 },
];

const results: Record<string, { certsPerSecond: number; runs: number[]; why: string }> = {};
for (const v of variants) {
  const r = await rate(v);
  results[v.name] = { certsPerSecond: r.median, runs: r.runs, why: v.why };
}
await rm(stateDir, { recursive: true, force: true });

console.log(JSON.stringify({ benchmark: 'ca-issue', count: COUNT, runs: RUNS, target: 1000, results }));
for (const [name, r] of Object.entries(results)) {
  console.log(`${name.padEnd(18)} ${String(r.certsPerSecond).padStart(6)} certs/s  (median of ${RUNS}; ${r.why})`);
}
console.log(`trellis: ${results.trellis!.certsPerSecond} leaf certs/s on one core (target ≥ 1000)`);
