/**
 * Issue 11, incremental adoption on TCP service ports, with real Envoys
 * (explicit mode, loopback 127.0.160.2-3):
 *   open-1    Permissive (an MTLSPolicy on the pod), serves `open` (appProtocol
 *             tcp, 5432): its sidecar's `inbound:5432` takes plaintext from a
 *             caller without a sidecar, and mTLS from a meshed one;
 *   locked-1  Strict (the default), serves `locked` (tcp, 6379): plaintext to
 *             its port is refused; its sidecar is also the meshed client
 *             (its local listener `outbound-tcp:open.demo:5432`).
 * Then authorization turns Strict with a TCPRoute TrafficTarget locked → open:
 * the plaintext caller, who has no identity, is closed by open-1's network
 * RBAC before a byte reaches the application, while locked-1 still passes.
 * Bounded: a few connections; every process is stopped in afterAll.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyStats } from '../support/envoy-stats.ts';
import { connect, EdgeMesh, until } from '../support/edge-e2e.ts';
import { permissivePod } from '../support/mesh-yaml.ts';

const NET = '127.0.160';
const OPEN = `${NET}.2`;
const LOCKED = `${NET}.3`;

const workload = (name: string, ip: string, port: number) => `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${name}, namespace: demo}
---
apiVersion: v1
kind: Pod
metadata: {name: ${name}-1, namespace: demo, labels: {app: ${name}}}
spec: {serviceAccountName: ${name}, containers: [{name: app}]}
status: {podIP: ${ip}, phase: Running}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  selector: {app: ${name}}
  ports: [{name: p, port: ${port}, appProtocol: tcp}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: demo, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: p, port: ${port}}]
endpoints: [{addresses: [${ip}], conditions: {ready: true}, targetRef: {kind: Pod, name: ${name}-1}}]
`;

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
${workload('open', OPEN, 5432)}${workload('locked', LOCKED, 6379)}${permissivePod('open-1')}`;

const STRICT_AUTHZ = `apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  authorization: {mode: Strict}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: tcp, namespace: demo}
spec: {matches: {ports: [5432]}}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: locked-to-open, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: open, namespace: demo}
  sources: [{kind: ServiceAccount, name: locked}]
  rules: [{kind: TCPRoute, name: tcp}]
`;

/** A TCP application answering `<name>: <what it got>` and closing. */
function echo(name: string, host: string, port: number): Promise<net.Server> {
  const server = net.createServer((c) => c.once('data', (d) => c.end(`${name}: ${d}`)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

const OPEN_ADMIN = `${OPEN}:15000`;
const stat = async (name: string) => (await envoyStats(OPEN_ADMIN, name))[name] ?? 0;
let mesh: EdgeMesh;

beforeAll(async () => {
  mesh = await EdgeMesh.start({ 'mesh.yaml': MESH }, `${NET}.1`);
  mesh.keep(await echo('open', OPEN, 15432));
  mesh.keep(await echo('locked', LOCKED, 16379));
  await mesh.envoy('demo/open-1', OPEN_ADMIN, { appPorts: new Map([[5432, 15432]]) });
  await mesh.envoy('demo/locked-1', `${LOCKED}:15000`, { appPorts: new Map([[6379, 16379]]) });
}, 60_000);
afterAll(() => mesh?.stop());

describe('issue 11: Permissive mTLS on a TCP service port, real Envoys', () => {
  it('a plaintext client without a sidecar reaches the Permissive workload\'s TCP port; the Strict one refuses it', async () => {
    const got = await until('plaintext to open-1:5432', async (last) => {
      const r = await connect(OPEN, 5432, 'no sidecar\n');
      last.seen = r;
      return r === 'open: no sidecar\n' ? r : undefined;
    });
    expect(got).toBe('open: no sidecar\n');
    // It took the plaintext twin (its own stats, so an operator sees who still calls without mTLS).
    expect(await stat('tcp.inbound_5432_plaintext.downstream_cx_total')).toBeGreaterThanOrEqual(1);
    // locked-1 is up (its sidecar carries locked → open, below), and its port meets the mTLS chain only.
    await until('locked-1 through the mesh', async () => ((await connect(LOCKED, 5432, 'ping\n')) === 'open: ping\n' ? true : undefined));
    expect(await connect(LOCKED, 6379, 'no sidecar\n')).not.toContain('locked:');
  });

  it('the Permissive TCP port still takes mTLS: a meshed caller arrives on the mTLS chain', async () => {
    const before = await stat('tcp.inbound_5432.downstream_cx_total');
    expect(await connect(LOCKED, 5432, 'meshed\n')).toBe('open: meshed\n');
    expect(await stat('tcp.inbound_5432.downstream_cx_total')).toBeGreaterThan(before);
    expect(await stat(`listener.${OPEN}_5432.ssl.handshake`)).toBeGreaterThanOrEqual(1);
  });

  it('Strict authorization: the plaintext caller has no identity, so the network RBAC closes it; the TCPRoute source still passes', async () => {
    await mesh.write('authz.yaml', STRICT_AUTHZ);
    await until('plaintext to open-1 refused', async (last) => {
      const r = await connect(OPEN, 5432, 'no identity\n');
      last.seen = r;
      return r.includes('open:') ? undefined : r;
    });
    expect(await stat('inbound_5432_plaintext.rbac.denied')).toBeGreaterThanOrEqual(1);
    expect(await connect(LOCKED, 5432, 'allowed\n')).toBe('open: allowed\n');
    expect(await stat('inbound_5432.rbac.allowed')).toBeGreaterThanOrEqual(1);
  });
});
