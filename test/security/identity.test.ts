/**
 * Issue 4, "proven identity" and "the control connection is protected",
 * against the real server over real gRPC TLS: every sidecar asks for its
 * certificate under one name (WORKLOAD_CERTIFICATE_SECRET), and SDS serves a
 * stream under that name only the certificate of the identity its token
 * proves — never one picked by the name asked for or the node's claims; missing, expired, forged and
 * mismatched tokens get no secret (counted by reason) but still get config,
 * or a closed stream under requireIdentity; the plaintext listener never
 * carries a private key; the xDS port's certificate chains to the mesh root
 * and names the control plane's SPIFFE ID.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateTokenKey } from '../../src/ca/token-key.ts';
import { WorkloadTokens } from '../../src/ca/token.ts';
import { grpc } from '../support/conformance.ts';
import {
  bundleRoots,
  CDS,
  CONTROL_PLANE_ID,
  identitySecrets,
  LDS,
  metric,
  receivedText,
  SDS,
  sidecar,
  spiffe,
  startSecure,
  subscribeSds,
  tempDir,
  tokenMetadata,
  TRUST_BUNDLE_SECRET,
  TRUST_DOMAIN,
  uriSans,
  WORKLOAD_CERTIFICATE_SECRET,
  type SecureHarness,
} from './support.ts';

const FRONTEND = spiffe('frontend');
const RATINGS = spiffe('ratings');
const ASK = [WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET];
/** A node id of its own, so the cache computes its snapshot from metadata claiming to be demo/ratings. */
const claimingRatings = (id: string) => ({ ...sidecar('frontend', id), metadata: { fields: { 'trellis.workload': { stringValue: 'demo/ratings' } } } });

let h: SecureHarness;
let strict: SecureHarness; // requireIdentity: true, same state dir (same root and token key)
let foreignState: string;
beforeAll(async () => {
  h = await startSecure();
  strict = await startSecure({ stateDir: h.stateDir, requireIdentity: true, plaintextXdsAddress: undefined });
  foreignState = tempDir('foreign');
});
afterAll(async () => {
  await strict?.close();
  await h?.close();
  rmSync(foreignState, { recursive: true, force: true });
});

describe('SDS serves only the proven identity', () => {
  it("a stream proving demo/frontend gets frontend's certificate and the bundle, never ratings'", async () => {
    const s = h.tlsClient().sotw(tokenMetadata(h.token('frontend', 'demo/frontend')));
    const r = await subscribeSds(s, sidecar('frontend'), ASK);
    expect(r.names.toSorted()).toEqual([WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET].toSorted());
    expect(await s.silentFor(300)).toBe(true); // ratings' secret never follows

    const secrets = identitySecrets(r);
    expect(secrets).toHaveLength(1);
    const [secret] = secrets;
    expect(secret!.name).toBe(WORKLOAD_CERTIFICATE_SECRET);
    const roots = bundleRoots(r)!;
    expect(roots).toHaveLength(1);
    expect(uriSans(secret!.cert)).toEqual([FRONTEND]);
    expect(secret!.cert.verify(roots[0]!.publicKey)).toBe(true);
    expect(secret!.cert.checkIssued(roots[0]!)).toBe(true);
    expect(secret!.keyPem).toContain('PRIVATE KEY');
    expect(secret!.cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(secret!.keyPem))).toBe(true);

    // And OpenSSL agrees: the leaf verifies against the root, as a TLS client and server certificate.
    const dir = tempDir('verify');
    try {
      writeFileSync(path.join(dir, 'root.pem'), h.rootPem);
      writeFileSync(path.join(dir, 'leaf.pem'), secret!.chainPem);
      for (const purpose of ['sslclient', 'sslserver']) {
        const out = execFileSync('openssl', ['verify', '-purpose', purpose, '-CAfile', path.join(dir, 'root.pem'), path.join(dir, 'leaf.pem')], { encoding: 'utf8' });
        expect(out).toContain(': OK');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    s.close();
  });

  it('asking under any other name (a SPIFFE ID, as names once were) gets no certificate', async () => {
    const s = h.tlsClient().sotw(tokenMetadata(h.token('frontend', 'demo/frontend')));
    const r = await subscribeSds(s, sidecar('frontend'), [FRONTEND, RATINGS, TRUST_BUNDLE_SECRET]);
    expect(r.names).toEqual([TRUST_BUNDLE_SECRET]);
    expect(await s.silentFor(300)).toBe(true);
    expect(receivedText(s)).not.toContain('PRIVATE KEY');
    s.close();
  });

  it('delta: the certificate goes to the proven identity; a mismatched one gets it reported absent', async () => {
    // Proven frontend, node frontend: served frontend's certificate under the one name.
    const ok = h.tlsClient().delta(tokenMetadata(h.token('frontend', 'demo/frontend')));
    ok.send({ node: sidecar('frontend'), type_url: SDS, resource_names_subscribe: ASK });
    const mine = await ok.next(3000);
    expect(mine.names.toSorted()).toEqual([WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET].toSorted());
    expect(mine.removed_resources).toEqual([]);
    const [secret] = identitySecrets(mine as unknown as Parameters<typeof identitySecrets>[0]);
    expect(uriSans(secret!.cert)).toEqual([FRONTEND]);
    ok.close();

    // Proven frontend, node claiming ratings: the snapshot's certificate is ratings', so the name is absent.
    const d = h.tlsClient().delta(tokenMetadata(h.token('frontend', 'spoofer-delta')));
    d.send({ node: claimingRatings('spoofer-delta'), type_url: SDS, resource_names_subscribe: ASK });
    const r = await d.next(3000);
    expect(r.names).toEqual([TRUST_BUNDLE_SECRET]);
    expect(r.removed_resources).toEqual([WORKLOAD_CERTIFICATE_SECRET]);
    expect(JSON.stringify(r)).not.toContain('PRIVATE KEY');
    d.close();
  });

  it('declaring another workload in node metadata gets no certificate at all', async () => {
    // A node (its own id, so the cache computes its snapshot from this
    // metadata) claiming to front ratings with a valid frontend token: its
    // config is ratings', but the proven identity is frontend.
    const s = h.tlsClient().sotw(tokenMetadata(h.token('frontend', 'spoofer-1')));
    const r = await subscribeSds(s, claimingRatings('spoofer-1'), ASK);
    // The proxy's snapshot holds ratings' certificate under the one name; the stream's view does not.
    const held = h.server.cache.get('spoofer-1')!.get(SDS).items.get(WORKLOAD_CERTIFICATE_SECRET);
    expect(held?.owner).toBe(RATINGS);
    expect(r.names).toEqual([TRUST_BUNDLE_SECRET]);
    expect(await s.silentFor(300)).toBe(true);
    expect(receivedText(s)).not.toContain('PRIVATE KEY');
    s.close();
  });
});

describe('token abuse', () => {
  const expiredToken = async () => {
    // Same key as the server, issued two hours ago for one hour (past the leeway).
    const signingKey = await loadOrCreateTokenKey(h.stateDir);
    const past = new WorkloadTokens({ signingKey, trustDomain: TRUST_DOMAIN, clock: () => Date.now() - 2 * 3600_000 });
    return past.issue({ spiffeId: FRONTEND, nodeId: 'demo/frontend', ttlMs: 3600_000 });
  };
  const forgedToken = async () => {
    // A well-formed token from another installation's key.
    const other = await WorkloadTokens.open({ stateDir: foreignState, trustDomain: TRUST_DOMAIN });
    return other.issue({ spiffeId: FRONTEND, nodeId: 'demo/frontend' });
  };
  const cases: Array<[reason: string, token: () => Promise<string | undefined>, node: string]> = [
    ['missing', async () => undefined, 'demo/frontend'],
    ['expired', expiredToken, 'demo/frontend'],
    ['forged', forgedToken, 'demo/frontend'],
    ['mismatch', async () => h.token('frontend', 'demo/frontend'), 'demo/ratings'],
  ];

  it.each(cases)('%s token: no identity secret, counted, config still served', async (reason, token, nodeId) => {
    const before = metric(await h.metrics(), 'trellis_identity_failures_total', { reason });
    const s = h.tlsClient().sotw(tokenMetadata(await token()));
    const pod = nodeId.split('/')[1]!;
    const sds = await subscribeSds(s, sidecar(pod, nodeId), [WORKLOAD_CERTIFICATE_SECRET, spiffe(pod), FRONTEND, TRUST_BUNDLE_SECRET]);
    expect(sds.names).toEqual([TRUST_BUNDLE_SECRET]);
    s.send({ type_url: CDS, resource_names: [] });
    const cds = await s.next(3000);
    expect(cds.type_url).toBe(CDS);
    expect(cds.names.length).toBeGreaterThan(0);
    s.send({ type_url: LDS, resource_names: [] });
    const lds = await s.next(3000);
    expect(lds.type_url).toBe(LDS);
    expect(lds.names.length).toBeGreaterThan(0);
    expect(await s.silentFor(200)).toBe(true);
    expect(receivedText(s)).not.toContain('PRIVATE KEY');
    expect(s.status).toBeUndefined();
    expect(metric(await h.metrics(), 'trellis_identity_failures_total', { reason })).toBe(before + 1);
    s.close();
  });

  it.each(cases)('requireIdentity: a %s token closes the stream with UNAUTHENTICATED', async (reason, token, nodeId) => {
    const before = metric(await strict.metrics(), 'trellis_identity_failures_total', { reason });
    const s = strict.tlsClient().sotw(tokenMetadata(await token()));
    s.send({ node: sidecar(nodeId.split('/')[1]!, nodeId), type_url: CDS, resource_names: [] });
    const status = await s.ended(3000);
    expect(grpc.status[status.code]).toBe('UNAUTHENTICATED');
    expect(receivedText(s)).not.toContain('PRIVATE KEY');
    expect(metric(await strict.metrics(), 'trellis_identity_failures_total', { reason })).toBe(before + 1);
  });

  it('requireIdentity: a valid token is served its secret', async () => {
    const s = strict.tlsClient().sotw(tokenMetadata(strict.token('frontend', 'demo/frontend')));
    const r = await subscribeSds(s, sidecar('frontend'), ASK);
    expect(r.names.toSorted()).toEqual([WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET].toSorted());
    expect(identitySecrets(r).map((x) => uriSans(x.cert))).toEqual([[FRONTEND]]);
    expect(s.status).toBeUndefined();
    s.close();
  });
});

describe('the control connection', () => {
  it('the plaintext listener never sends a private key, even to a valid token', async () => {
    const s = h.plaintextClient().sotw(tokenMetadata(h.token('frontend', 'demo/frontend')));
    const r = await subscribeSds(s, sidecar('frontend'), ASK);
    expect(r.names).toEqual([TRUST_BUNDLE_SECRET]);
    s.send({ type_url: CDS, resource_names: [] });
    s.send({ type_url: LDS, resource_names: [] });
    const more = [await s.next(3000), await s.next(3000)];
    expect(more.map((x) => x.type_url).toSorted()).toEqual([CDS, LDS].toSorted());
    expect(await s.silentFor(300)).toBe(true);
    expect(receivedText(s)).not.toContain('PRIVATE KEY');
    s.close();
  });

  it('the TLS xDS port presents a certificate chaining to the root with the control-plane SPIFFE ID', async () => {
    const peer = await new Promise<{ authorized: boolean; error?: Error; cert: X509Certificate; alpn: string | false | null }>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: h.server.xdsPort, ca: h.rootPem, servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
        resolve({ authorized: socket.authorized, error: socket.authorizationError, cert: socket.getPeerX509Certificate()!, alpn: socket.alpnProtocol });
        socket.destroy();
      });
      socket.once('error', reject);
      socket.setTimeout(3000, () => reject(new Error('TLS handshake timed out')));
    });
    expect(peer.error ?? null).toBeNull();
    expect(peer.authorized).toBe(true);
    expect(peer.alpn).toBe('h2');
    expect(uriSans(peer.cert)).toEqual([CONTROL_PLANE_ID]);
    expect(peer.cert.checkIssued(new X509Certificate(h.rootPem))).toBe(true);
    expect(peer.cert.verify(new X509Certificate(h.rootPem).publicKey)).toBe(true);
  });

  it('a client trusting another root cannot open a stream on the TLS port', async () => {
    const other = await startSecure({ sourceDir: undefined, plaintextXdsAddress: undefined });
    try {
      const s = h.tlsClient(other.rootPem).sotw(tokenMetadata(h.token('frontend', 'demo/frontend')));
      s.send({ node: sidecar('frontend'), type_url: SDS, resource_names: ASK });
      const status = await s.ended(5000);
      expect(grpc.status[status.code]).toBe('UNAVAILABLE');
      expect(s.received).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});
