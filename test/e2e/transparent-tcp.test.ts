/**
 * Issue 11, transparent mode with real Envoys in network namespaces (needs
 * root; skipped otherwise): a TCP client in a "pod" dials the db Service's
 * ClusterIP, an address nothing on the network owns, and db-1's own address;
 * both exchanges are carried by the mesh — the pod's redirect, its
 * transparent sidecar's `outbound` chains matched on the original
 * destination, mTLS to db-1's sidecar, its network RBAC (strict, a TCPRoute
 * TrafficTarget), then the echo application. On an undeclared port of the
 * same pod, HTTP and opaque bytes to its ClusterIP are told apart by the
 * pod's sidecar (http_inspector) and by db-1's (the ALPN). See
 * test/support/transparent-tcp-main.ts for the topology.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { netnsUnavailable, runInPodHarness } from '../support/netns.ts';
import { repoRoot } from '../support/venv.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-transparent-tcp-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const why = netnsUnavailable();
if (why) console.warn(`test/e2e/transparent-tcp.test.ts skipped: ${why}`);

describe.skipIf(why !== null)('issue 11: transparent mode carries a TCP client that dials the service address', () => {
  it('ClusterIP → the service cluster, pod address → that pod, both over mTLS through the server sidecar\'s RBAC', () => {
    const r = runInPodHarness(path.join(repoRoot, 'test/support/transparent-tcp-main.ts'), tmp, 100_000);
    expect(r.clusterIp).toBe('via the ClusterIP\n');
    expect(r.endpoint).toBe('via the pod address\n');
    // The chains that carried them, before the HTTP chain.
    expect(r.chains).toEqual([
      'tcp:db.demo:5432', 'tcp:db.demo:5432/endpoints:5432',
      'tcp:mixed.demo:7000/http', 'tcp:mixed.demo:7000', 'tcp:mixed.demo:7000/endpoints:7000/http', 'tcp:mixed.demo:7000/endpoints:7000',
      'outbound-http',
    ]);
    expect(r.clientTcpProxy.clusterIp).toBeGreaterThanOrEqual(1);
    expect(r.clientTcpProxy.endpoint).toBeGreaterThanOrEqual(1);
    expect(r.dbRbacAllowed).toBeGreaterThanOrEqual(2);
    // The undeclared port: HTTP detected by the pod's sidecar (routed by Host, the server sidecar's HTTP
    // chain set XFCC), opaque bytes carried as TCP; both to the ClusterIP.
    expect(r.undeclaredHttp).toMatch(/^HTTP\/1\.1 200 [\s\S]*http with the client identity$/);
    expect(r.undeclaredTcp).toBe('opaque bytes\n');
    expect(r.undeclaredChains.clientHttp).toBeGreaterThanOrEqual(1);
    expect(r.undeclaredChains.clientTcp).toBeGreaterThanOrEqual(1);
  }, 110_000);
});
