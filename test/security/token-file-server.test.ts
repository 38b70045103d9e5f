/**
 * Issue 13: a sidecar bootstrapped with `--token-file` sends its
 * service-account token (a bearer credential) over Envoy's Google gRPC
 * client, which checks the xDS server by DNS name (`trellis`) instead of by
 * the control plane's SPIFFE ID. That must be as strict: a server presenting a
 * workload certificate from the same mesh root (one URI SAN, no DNS name), a
 * peer a compromised workload could stand up, is refused before any request
 * (so before the token) is sent; the control plane's own certificate, from the
 * same root and carrying the name, is accepted. Real Envoy, a TLS listener
 * here that only watches handshakes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../src/ca/authority.ts';
import type { IssuedCertificate } from '../../src/ca/issued.ts';
import { clusterBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { findEnvoy } from '../../src/runtime/envoy-bin.ts';
import { controlPlaneSpiffeId } from '../../src/identity/spiffe.ts';
import { XDS_SERVER_NAME } from '../../src/translate/names.ts';
import { freePort } from '../support/kube.ts';
import { spiffe, tempDir, TRUST_DOMAIN } from './support.ts';

let dir: string;
let ca: CertificateAuthority;
const envoys: ChildProcess[] = [];
beforeAll(async () => {
  dir = tempDir('token-file-server');
  ca = await CertificateAuthority.open({ trustDomain: TRUST_DOMAIN, stateDir: path.join(dir, 'state') });
});
afterAll(() => {
  for (const e of envoys) e.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Serves `cert` on a TLS port (ALPN h2, as a gRPC server) to a real Envoy
 * bootstrapped with a token file, and says how the first handshake ended:
 * 'accepted' (Envoy went on to speak HTTP/2, its call with the token next) or
 * 'refused' (Envoy aborted the handshake, or closed the connection after it,
 * having sent nothing).
 */
async function firstHandshake(cert: IssuedCertificate, name: string): Promise<{ outcome: 'accepted' | 'refused'; received: string }> {
  let received = '';
  const server = tls.createServer({ cert: cert.certificateChainPem, key: cert.privateKeyPem, ALPNProtocols: ['h2'] });
  const outcome = new Promise<'accepted' | 'refused'>((resolve) => {
    server.on('secureConnection', (socket) => {
      socket.on('data', (b: Buffer) => {
        received += b.toString('latin1');
        // The client's HTTP/2 connection preface, then the call's HEADERS (HPACK-coded, so not matched here).
        if (received.includes('PRI * HTTP/2.0')) resolve('accepted');
      });
      socket.on('error', () => {});
      // gRPC checks the name after the TLS handshake: a mismatch closes the connection unused.
      socket.on('close', () => {
        if (!received) resolve('refused');
      });
    });
    server.on('tlsClientError', () => resolve('refused'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const tokenFile = path.join(dir, `${name}.token`);
  writeFileSync(tokenFile, 'header.payload.signature');
  const yaml = await clusterBootstrapYaml({
    tokenFile, nodeId: 'demo/web-1', trustDomain: TRUST_DOMAIN, caPem: ca.trustBundlePem(), mode: 'explicit',
    xdsAddress: `127.0.0.1:${port}`, adminAddress: `127.0.0.1:${await freePort()}`, outboundAddress: `127.0.0.1:${await freePort()}`,
  });
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  const envoy = spawn(findEnvoy(), ['-c', file, '--disable-hot-restart', '--log-level', 'warn', '--base-id', String(port)], { stdio: 'ignore' });
  envoys.push(envoy);
  try {
    return { outcome: await outcome, received };
  } finally {
    envoy.kill('SIGKILL');
    server.close();
  }
}

describe('issue 13: the token file is sent only to the control plane', () => {
  it('a workload certificate from the mesh root, presented as the xDS server, is refused before the token is sent', async () => {
    const r = await firstHandshake(ca.certificateFor(spiffe('ratings')), 'workload');
    expect(r.outcome).toBe('refused');
    expect(r.received).toBe('');
  }, 30_000);

  it('the control plane\'s certificate (the name `trellis`, same root) is accepted', async () => {
    const r = await firstHandshake(ca.issueServerCertificate({ dnsNames: [XDS_SERVER_NAME], spiffeId: controlPlaneSpiffeId(TRUST_DOMAIN) }), 'control-plane');
    expect(r.outcome).toBe('accepted');
  }, 30_000);
});
