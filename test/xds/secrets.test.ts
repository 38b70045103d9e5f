/**
 * XDS_RULES 23: SDS serves only the secrets of the identity a stream proved.
 *
 * Identity comes from a tiny IdentityVerifier (a metadata header naming the
 * SPIFFE ID); owned secrets go only over a connection the server counts as
 * secure: mutual TLS (certificates made with openssl here), or plaintext when
 * a test server opts in with `allowSecretsOverPlaintext`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotCache } from '../../src/cache/snapshot-cache.ts';
import { SHARED_KEY } from '../../src/runtime/control-plane.ts';
import { rootLogger } from '../../src/log.ts';
import type { IdentityVerifier } from '../../src/identity/verifier.ts';
import { XdsServer } from '../../src/server/xds-server.ts';
import { node, XdsTestClient } from '../support/ads-client.ts';
import { smallMesh, snapshotOf, type MeshSpec } from '../support/fixtures.ts';
import { SDS, drain, grpc, metric, sorted, startHarness, track, type Harness } from '../support/conformance.ts';

const A = 'spiffe://trellis.test/ns/shop/sa/cart';
const B = 'spiffe://trellis.test/ns/shop/sa/payments';
const HEADER = 'x-test-spiffe-id';

/** Proves whatever SPIFFE ID the header names; "throw" makes the verifier fail hard. */
const verifier: IdentityVerifier = {
  async verify(md) {
    const id = md[HEADER];
    if (!id) return { ok: false, reason: 'missing', message: 'no identity header' };
    if (id === 'throw') throw new Error('verifier backend down');
    return { ok: true, identity: { spiffeId: id } };
  },
};

const certFor = (name: string, owner?: string) => ({
  name,
  ...(owner ? { __owner: owner } : {}),
  tls_certificate: { certificate_chain: { inline_string: `CERT ${name}` }, private_key: { inline_string: `PRIVATE KEY OF ${name}` } },
});
const mesh: MeshSpec = smallMesh({
  secrets: [{ name: 'trust-bundle', validation_context: { trusted_ca: { inline_string: 'CA' } } }, certFor('cert-cart', A), certFor('cert-payments', B)],
});
const md = (id?: string) => {
  const m = new grpc.Metadata();
  if (id) m.set(HEADER, id);
  return m;
};

let open: Harness; // allowSecretsOverPlaintext: true
let safe: Harness; // defaults: plaintext never carries owned secrets
beforeAll(async () => {
  open = await startHarness({ verifier, allowSecretsOverPlaintext: true });
  safe = await startHarness({ verifier });
  open.set(mesh);
  safe.set(mesh);
});
afterAll(async () => {
  await open?.close();
  await safe?.close();
});
afterEach(() => {
  open.closeStreams();
  safe.closeStreams();
});

describe('rule 23: secrets only for the proven identity', () => {
  it.each([
    ['proven as cart', A, ['cert-cart', 'trust-bundle']],
    ['proven as payments', B, ['cert-payments', 'trust-bundle']],
    ['no identity header', undefined, ['trust-bundle']],
    ['a verifier that throws', 'throw', ['trust-bundle']],
  ])('rule 23 (sotw wildcard): %s', async (_l, id, expected) => {
    const s = open.client.sotw(md(id));
    s.send({ node: node(`sds-${id ?? 'none'}`), type_url: SDS });
    const got = await drain(s);
    expect(got).toHaveLength(1);
    expect(sorted(got[0]!.names)).toEqual(expected);
  });

  it('rule 23: naming another identity’s secret gets nothing for it (sotw) and a removal (delta)', async () => {
    const s = open.client.sotw(md(A));
    s.send({ node: node('sds-named'), type_url: SDS, resource_names: ['cert-cart', 'cert-payments'] });
    const r = await s.next();
    expect(r.names).toEqual(['cert-cart']);
    expect(await s.silentFor(300)).toBe(true);
    const d = open.client.delta(md(A));
    d.send({ node: node('sds-named-delta'), type_url: SDS, resource_names_subscribe: ['cert-payments', 'cert-cart'] });
    const dr = await d.next();
    expect(dr.names).toEqual(['cert-cart']);
    expect(dr.removed_resources).toEqual(['cert-payments']); // as if it did not exist
  });

  it('rule 23: the per-type SDS service applies the same filter', async () => {
    const s = open.client.sotw(md(B), '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets');
    s.send({ node: node('sds-per-type'), resource_names: ['cert-cart', 'cert-payments', 'trust-bundle'] });
    const r = await s.next();
    expect(sorted(r.names)).toEqual(['cert-payments', 'trust-bundle']);
  });

  it('rule 23: identity failures are counted by reason', async () => {
    const before = metric(await open.metrics(), 'trellis_identity_failures_total', { reason: 'missing' });
    const s = open.client.sotw();
    s.send({ node: node('sds-count'), type_url: SDS });
    await s.next();
    expect(metric(await open.metrics(), 'trellis_identity_failures_total', { reason: 'missing' })).toBe(before + 1);
  });

  it('rule 23: by default a plaintext connection gets no owned secret, even with a proven identity', async () => {
    const s = safe.client.sotw(md(A));
    s.send({ node: node('sds-plaintext'), type_url: SDS, resource_names: ['cert-cart', 'trust-bundle'] });
    const r = await s.next();
    expect(r.names).toEqual(['trust-bundle']);
    expect(await s.silentFor(300)).toBe(true);
  });
});

describe('rule 23 over mutual TLS', () => {
  let dir: string;
  let server: XdsServer;
  let files: Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', Buffer>;
  let port: number;
  const streams: Array<{ close(): void }> = [];
  const clients: XdsTestClient[] = [];

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'trellis-sds-tls-'));
    const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 10_000 });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=trellis test CA', '-days', '1');
    writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    writeFileSync(path.join(dir, 'client.ext'), `subjectAltName=URI:${A}\n`);
    for (const who of ['server', 'client']) {
      ossl('req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
      ossl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.crt`, '-days', '1', '-extfile', `${who}.ext`);
    }
    const read = (f: string) => readFileSync(path.join(dir, f));
    files = { ca: read('ca.crt'), serverCert: read('server.crt'), serverKey: read('server.key'), clientCert: read('client.crt'), clientKey: read('client.key') };
  });
  beforeAll(async () => {
    const cache = new SnapshotCache(() => SHARED_KEY);
    cache.set(SHARED_KEY, snapshotOf(mesh));
    server = new XdsServer({ cache, log: rootLogger, verifier });
    const creds = grpc.ServerCredentials.createSsl(files.ca, [{ cert_chain: files.serverCert, private_key: files.serverKey }], true);
    port = await server.listen('127.0.0.1:0', creds);
  });
  afterEach(() => {
    for (const s of streams.splice(0)) s.close();
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const tlsClient = () => {
    const c = new XdsTestClient(`127.0.0.1:${port}`, { 'grpc.use_local_subchannel_pool': 1 }, grpc.credentials.createSsl(files.ca, files.clientKey, files.clientCert));
    clients.push(c);
    return track(c, streams);
  };

  it('rule 23 (mTLS): a proven stream receives its own certificate and key, and no other', async () => {
    const s = tlsClient().sotw(md(A));
    s.send({ node: node('tls-cart'), type_url: SDS });
    const r = await s.next(5000);
    expect(sorted(r.names)).toEqual(['cert-cart', 'trust-bundle']);
    const cert = r.resources.find((x) => x.value.name === 'cert-cart')!;
    expect(JSON.stringify(cert.value)).toContain('PRIVATE KEY OF cert-cart');
  });

  it('rule 23 (mTLS): without a proven identity only the trust bundle', async () => {
    const s = tlsClient().sotw();
    s.send({ node: node('tls-anon'), type_url: SDS });
    expect((await s.next(5000)).names).toEqual(['trust-bundle']);
  });
});
