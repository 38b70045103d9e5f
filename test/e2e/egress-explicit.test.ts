/**
 * Issue 11, TLS and TCP egress in explicit mode, with a real Envoy sidecar
 * (loopback 127.0.160.21-31). The application knows its sidecar: for a
 * declared TLS or TCP port of an ExternalService it dials the sidecar's local
 * listener `outbound-external:<port>` on its outbound address (127.0.160.22),
 * as for a mesh TCP service. "External" servers outside the mesh:
 *   api.external.test  127.0.160.30:8443, TLS with its own CA (the client
 *                      verifies it: the session is the application's, end to
 *                      end, routed by the sidecar on the SNI);
 *   db.external.test   127.0.160.31:9000, a raw TCP echo.
 * The sidecar resolves the hosts by DNS (LOGICAL_DNS); only its own mount
 * namespace sees a hosts file naming them (`unshare -m`: the machine's
 * /etc/hosts is untouched). Then the ExternalServices' sources leave the
 * client out: its own sidecar closes both connections (`tcp.external_denied`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyStats } from '../support/envoy-stats.ts';
import { connect, EdgeMesh, until, withHostsFile } from '../support/edge-e2e.ts';
import { netnsUnavailable } from '../support/netns.ts';
import { externalPki } from '../support/openssl-certs.ts';

const NET = '127.0.160';
const CLIENT = `${NET}.22`;
const API = `${NET}.30`;
const DB = `${NET}.31`;

const externals = (sources: string) => `apiVersion: trellis.io/v1alpha1
kind: ExternalService
metadata: {name: api, namespace: demo}
spec:
  hosts: [api.external.test]
  ports: [{port: 8443, protocol: TLS}]
  sources: [{kind: ServiceAccount, name: ${sources}}]
---
apiVersion: trellis.io/v1alpha1
kind: ExternalService
metadata: {name: db, namespace: demo}
spec:
  hosts: [db.external.test]
  ports: [{port: 9000, protocol: TCP}]
  sources: [{kind: ServiceAccount, name: ${sources}}]
`;

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
${['client', 'other'].map((sa) => `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${sa}, namespace: demo}
`).join('')}---
apiVersion: v1
kind: Pod
metadata: {name: client-1, namespace: demo, labels: {app: client}}
spec: {serviceAccountName: client, containers: [{name: app}]}
status: {podIP: ${CLIENT}, phase: Running}
`;

const why = netnsUnavailable({ mount: true });
if (why) console.warn(`test/e2e/egress-explicit.test.ts skipped: ${why}`);

const pki = externalPki('api.external.test');
const work = mkdtempSync(path.join(tmpdir(), 'trellis-egress-explicit-'));
let mesh: EdgeMesh;

/** The "external" HTTPS-less TLS server: answers with the name the client asked for, then closes. */
function tlsServer(): Promise<tls.Server> {
  const server = tls.createServer({ cert: pki.leafPem, key: pki.keyPem }, (s) => s.end(`api.external.test saw SNI ${(s as tls.TLSSocket & { servername?: string }).servername}\n`));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(8443, API, () => resolve(server));
  });
}

function tcpEcho(): Promise<net.Server> {
  const server = net.createServer((c) => c.once('data', (d) => c.end(`db.external.test: ${d}`)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(9000, DB, () => resolve(server));
  });
}

/** A TLS client of the sidecar's local listener: what the server said, or the error code ('closed' when it closed first). */
function tlsCall(servername: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = tls.connect({ host: CLIENT, port: 8443, servername, ca: pki.caPem, timeout: 3000 });
    s.on('data', (d) => (got += d));
    s.on('end', () => resolve(got || 'closed'));
    s.on('timeout', () => (s.destroy(), resolve(got || 'timeout')));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(got || e.code || e.message));
  });
}

const stat = async (name: string) => (await envoyStats(`${CLIENT}:15000`, name))[name] ?? 0;

beforeAll(async () => {
  if (why) return;
  const hosts = path.join(work, 'hosts');
  writeFileSync(hosts, `127.0.0.1 localhost\n${API} api.external.test\n${DB} db.external.test\n`);
  mesh = await EdgeMesh.start({ 'mesh.yaml': MESH, 'external.yaml': externals('client') }, `${NET}.21`);
  mesh.keep(await tlsServer());
  mesh.keep(await tcpEcho());
  await mesh.envoy('demo/client-1', `${CLIENT}:15000`, { wrap: withHostsFile(hosts) });
}, 60_000);
afterAll(async () => {
  await mesh?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(why !== null)('issue 11: TLS and TCP egress in explicit mode, real Envoy', () => {
  it('TLS: the application\'s own session reaches the declared host, routed by SNI through `outbound-external:8443` (verified against the server\'s CA)', async () => {
    const got = await until('TLS through the sidecar', async (last) => {
      const r = await tlsCall('api.external.test');
      last.seen = r;
      return r.startsWith('api.external.test') ? r : undefined;
    });
    expect(got).toBe('api.external.test saw SNI api.external.test\n');
    expect(await stat('tcp.external_api.external.test_8443.downstream_cx_total')).toBeGreaterThanOrEqual(1);
  });

  it('TLS naming a host no ExternalService declares matches no chain: closed (explicit mode has no pass-through)', async () => {
    expect(await tlsCall('other.external.test')).not.toContain('saw SNI');
  });

  it('TCP: bytes to `outbound-external:9000` reach db.external.test, resolved by the sidecar', async () => {
    const got = await until('TCP through the sidecar', async (last) => {
      const r = await connect(CLIENT, 9000, 'hello\n');
      last.seen = r;
      return r.startsWith('db.external.test') ? r : undefined;
    });
    expect(got).toBe('db.external.test: hello\n');
  });

  it('authorization: when the sources leave the client out, its own sidecar closes both connections and counts them', async () => {
    const before = await stat('tcp.external_denied.downstream_cx_total');
    await mesh.write('external.yaml', externals('other'));
    await until('TCP refused', async (last) => {
      const r = await connect(CLIENT, 9000, 'hello\n');
      last.seen = r;
      return r.startsWith('db.external.test') ? undefined : r;
    });
    expect(await tlsCall('api.external.test')).not.toContain('saw SNI');
    expect(await stat('tcp.external_denied.downstream_cx_total')).toBeGreaterThanOrEqual(before + 2);
  });
});
