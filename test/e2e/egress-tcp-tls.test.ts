/**
 * Issue 11 (brief conn), TLS origination on a TCP port of an ExternalService,
 * with a real Envoy sidecar in explicit mode (loopback 127.0.150.1-10). The
 * application is a plaintext TCP client (a database driver without TLS): it
 * dials its sidecar's local listener `outbound-external:5432`
 * (127.0.150.2:5432); the sidecar speaks TLS to db.external.test:6432
 * (127.0.150.10), a TLS echo server with a certificate from an operator's own
 * CA (made by openssl, nothing of Trellis's), sending the host as SNI and
 * checking the certificate against the ExternalService's CA bundle. Then the
 * bundle is swapped for another CA: the sidecar refuses the server, the
 * client gets nothing, and the sidecar's stats say why.
 * The sidecar resolves the host by DNS (LOGICAL_DNS); only its own mount
 * namespace sees a hosts file naming it (`unshare -m`: the machine's
 * /etc/hosts is untouched). Bounded: a few connections; every process is
 * stopped in afterAll.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyStats } from '../support/envoy-stats.ts';
import { connect, EdgeMesh, until, withHostsFile } from '../support/edge-e2e.ts';
import { NAMESPACE, pod, serviceAccounts } from '../support/mesh-yaml.ts';
import { netnsUnavailable } from '../support/netns.ts';
import { externalPki } from '../support/openssl-certs.ts';

const NET = '127.0.150';
const CLIENT = `${NET}.2`;
const DB = `${NET}.10`;

const pki = externalPki('db.external.test');
const otherCa = externalPki('db.external.test').caPem;
const indent = (pem: string) => pem.trim().split('\n').map((l) => `      ${l}`).join('\n');

const external = (caPem: string) => `apiVersion: trellis.io/v1alpha1
kind: ExternalService
metadata: {name: db, namespace: demo}
spec:
  hosts: [db.external.test]
  ports: [{port: 5432, protocol: TCP, targetPort: 6432}]
  tls:
    caBundle: |
${indent(caPem)}
`;

const MESH = NAMESPACE + serviceAccounts('client') + pod('client-1', 'client', CLIENT, 'client');

const why = netnsUnavailable({ mount: true });
if (why) console.warn(`test/e2e/egress-tcp-tls.test.ts skipped: ${why}`);

const work = mkdtempSync(path.join(tmpdir(), 'trellis-egress-tcp-tls-'));
let mesh: EdgeMesh;

/** The "external" database: TLS only; answers what it got, with the SNI it was asked for. */
function tlsEcho(): Promise<tls.Server> {
  const server = tls.createServer({ cert: pki.leafPem, key: pki.keyPem }, (s) =>
    s.once('data', (d) => s.end(`db.external.test over TLS (SNI ${(s as tls.TLSSocket & { servername?: string }).servername}): ${d}`)),
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(6432, DB, () => resolve(server));
  });
}

// Envoy writes a name's ':' as '_' in its stats.
const CLUSTER = 'cluster.external/db.external.test_5432';
const stats = (pattern: string) => envoyStats(`${CLIENT}:15000`, pattern);

beforeAll(async () => {
  if (why) return;
  const hosts = path.join(work, 'hosts');
  writeFileSync(hosts, `127.0.0.1 localhost\n${DB} db.external.test\n`);
  mesh = await EdgeMesh.start({ 'mesh.yaml': MESH, 'external.yaml': external(pki.caPem) }, `${NET}.1`);
  mesh.keep(await tlsEcho());
  await mesh.envoy('demo/client-1', `${CLIENT}:15000`, { wrap: withHostsFile(hosts) });
}, 60_000);
afterAll(async () => {
  await mesh?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(why !== null)('issue 11: TLS origination on a TCP port of an ExternalService, real Envoy', () => {
  it('a plaintext TCP client reaches a TLS-only server: the sidecar originates TLS (SNI the host, the server checked against the CA bundle)', async () => {
    const got = await until('plaintext through the sidecar to the TLS server', async (last) => {
      const r = await connect(CLIENT, 5432, 'SELECT 1\n');
      last.seen = r;
      return r.startsWith('db.external.test') ? r : undefined;
    });
    expect(got).toBe('db.external.test over TLS (SNI db.external.test): SELECT 1\n');
    const s = await stats(`${CLUSTER}.ssl.handshake`);
    expect(s[`${CLUSTER}.ssl.handshake`]).toBeGreaterThanOrEqual(1);
  });

  it('with a CA bundle the server does not chain to, the connection fails and the sidecar counts a verification failure', async () => {
    await mesh.write('external.yaml', external(otherCa));
    const failed = `${CLUSTER}.ssl.fail_verify_error`;
    // The new bundle is in place once a connection fails verification; what the client got is what it saw then.
    const seen = await until('a connection refused for the certificate', async (last) => {
      const r = await connect(CLIENT, 5432, 'SELECT 1\n');
      const s = await stats(failed);
      last.seen = { r, s };
      return (s[failed] ?? 0) >= 1 ? r : undefined;
    });
    expect(seen).not.toContain('db.external.test');
    expect(await connect(CLIENT, 5432, 'SELECT 2\n')).not.toContain('db.external.test');
    const s = await stats(`${CLUSTER}.(ssl.fail_verify_error|upstream_cx_connect_fail)`);
    expect(s[failed]).toBeGreaterThanOrEqual(2);
    expect(s[`${CLUSTER}.upstream_cx_connect_fail`]).toBeGreaterThanOrEqual(2);
  });
});
