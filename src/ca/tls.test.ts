// Real mTLS handshakes between node:tls endpoints holding issued certificates.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from './authority.ts';
import type { IssuedCertificate } from './issued.ts';
import { handshake, tempDir, type Endpoint } from './testkit.ts';

let dir: { path: string; cleanup: () => Promise<void> };
let n = 0;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(() => dir.cleanup());

const open = (): Promise<CertificateAuthority> => CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir: join(dir.path, `s${++n}`) });
const endpoint = (cert: IssuedCertificate, ca: string): Endpoint => ({ certificateChainPem: cert.certificateChainPem, privateKeyPem: cert.privateKeyPem, ca });

const WEB = { namespace: 'demo', serviceAccount: 'web' };
const API = { namespace: 'demo', serviceAccount: 'api' };

describe('mTLS with issued certificates', () => {
  it('two leaves of one CA complete a handshake and see each other’s SPIFFE IDs', async () => {
    const ca = await open();
    const server = ca.issue(API);
    const client = ca.issue(WEB);
    const r = await handshake(endpoint(server, ca.trustBundlePem()), endpoint(client, ca.trustBundlePem()), server.spiffeId);
    expect(r).toEqual({ ok: true, serverSawClient: 'spiffe://cluster.local/ns/demo/sa/web', clientSawServer: 'spiffe://cluster.local/ns/demo/sa/api' });
  });

  const refused: { name: string; side: 'client' | 'server' }[] = [
    { name: 'a client certificate from another CA is refused by the server', side: 'client' },
    { name: 'a server certificate from another CA is refused by the client', side: 'server' },
  ];
  for (const c of refused) {
    it(c.name, async () => {
      const ours = await open();
      const theirs = await open();
      const server = (c.side === 'server' ? theirs : ours).issue(API);
      const client = (c.side === 'client' ? theirs : ours).issue(WEB);
      const r = await handshake(endpoint(server, ours.trustBundlePem()), endpoint(client, ours.trustBundlePem()));
      expect(r.ok).toBe(false);
      if (!r.ok && c.side === 'client') expect(r.serverError).toBeDefined();
      if (!r.ok && c.side === 'server') expect(r.clientError).toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
    });
  }

  it('root rotation: an old-root leaf and a new-root leaf trust each other through the overlapping bundle', async () => {
    // No grace: new leaves come from the new root at once (rotation.ts).
    const ca = await CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir: join(dir.path, `s${++n}`), renewalPolicy: { rotationGraceMs: 0 } });
    const oldLeaf = ca.issue(API);
    const oldBundle = ca.trustBundlePem();
    await ca.beginRootRotation();
    const newLeaf = ca.issue(WEB);
    expect(newLeaf.issuerFingerprint).toBe(ca.activeRoot.fingerprint);
    expect(oldLeaf.issuerFingerprint).toBe(ca.retiringRoot?.fingerprint);
    const bundle = ca.trustBundlePem();

    // Both directions, both holding the overlapping bundle.
    expect((await handshake(endpoint(oldLeaf, bundle), endpoint(newLeaf, bundle))).ok).toBe(true);
    expect((await handshake(endpoint(newLeaf, bundle), endpoint(oldLeaf, bundle))).ok).toBe(true);
    // A peer that still has the old bundle accepts old leaves only: why the overlap must
    // reach every proxy before new leaves are handed out widely.
    expect((await handshake(endpoint(oldLeaf, oldBundle), endpoint(newLeaf, bundle))).ok).toBe(false);

    // Finishing is refused while a current leaf still chains to the old root…
    await expect(ca.finishRootRotation()).rejects.toMatchObject({ code: 'rotation-state' });
    // …and allowed once every identity was renewed onto the new root.
    const renewed = ca.issue(API);
    await ca.finishRootRotation();
    const finalBundle = ca.trustBundlePem();
    expect((await handshake(endpoint(renewed, finalBundle), endpoint(newLeaf, finalBundle))).ok).toBe(true);
    expect((await handshake(endpoint(renewed, finalBundle), endpoint(oldLeaf, oldBundle))).ok).toBe(false);
  });

  it('the server certificate serves TLS to a client that trusts the root and checks the host name', async () => {
    const ca = await open();
    const server = ca.issueServerCertificate();
    const client = ca.issue(WEB);
    const { connect, createServer } = await import('node:tls');
    const srv = createServer({ cert: server.certificateChainPem, key: server.privateKeyPem }, (s) => s.end('hi'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const got = await new Promise<string>((resolve, reject) => {
        // servername 'localhost' makes node check the DNS SAN like a gRPC client would.
        const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.trustBundlePem(), cert: client.certificatePem, key: client.privateKeyPem });
        let d = '';
        s.on('data', (c: Buffer) => (d += c.toString()));
        s.on('end', () => resolve(d));
        s.on('error', reject);
      });
      expect(got).toBe('hi');
    } finally {
      srv.close();
    }
  });
});
