/**
 * Interop: TrafficPolicy `locality: {mode: PreferSameZone}` as the real
 * proxyless clients (@grpc/grpc-js-xds and Python grpcio) apply it. The
 * cluster of a caller whose zone is known (here: its bootstrap's
 * node.locality.zone) reads `<cluster>@<zone>`, where that zone's localities
 * are priority 0 and the others priority 1; a client sends everything to
 * priority 0 while it has a ready endpoint, and fails over to priority 1 when
 * it has none.
 *
 * Two backends behind `local`: one in z1, one in z2, each a pod on its own
 * loopback address.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.ts';
import { writeYaml } from '../support/mesh-harness.ts';
import { grpcXdsBootstrap, runXdsClient, watchXdsClient, type XdsClientKind, type XdsClientWatch } from '../support/xds-bootstrap.ts';
import type { WatchEvent } from './client-output.ts';

const KINDS: XdsClientKind[] = ['js', 'py'];
const CALLS = 40;
const BACKENDS = {
  'local-z1': { ip: '127.0.0.31', zone: 'z1' },
  'local-z2': { ip: '127.0.0.32', zone: 'z2' },
} as const;
type BackendName = keyof typeof BACKENDS;

let server: RunningControlPlane;
let dir: string;
const backends = new Map<BackendName, EchoBackend>();
const watchers: XdsClientWatch[] = [];

/** The mesh; `ready` says which backends' endpoints are ready. */
function meshYaml(ready: Record<BackendName, boolean>): string {
  const docs = [
    `apiVersion: v1
kind: Namespace
metadata:
  name: demo`,
    `apiVersion: v1
kind: ServiceAccount
metadata:
  name: local
  namespace: demo`,
    `apiVersion: v1
kind: Service
metadata:
  name: local
  namespace: demo
spec:
  selector: {app: local}
  ports:
  - name: grpc
    port: 8080
    appProtocol: grpc`,
    `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata:
  name: local
  namespace: demo
spec:
  targetRef:
    kind: Service
    name: local
  locality:
    mode: PreferSameZone`,
  ];
  for (const [name, b] of Object.entries(BACKENDS) as Array<[BackendName, (typeof BACKENDS)[BackendName]]>) {
    docs.push(`apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: demo
  labels: {app: local}
spec:
  serviceAccountName: local
  containers:
  - name: app
    image: trellis-test/${name}
status:
  podIP: ${b.ip}`);
    // Each backend listens on its own (random) port: one slice per pod.
    docs.push(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: local-${name}
  namespace: demo
  labels:
    kubernetes.io/service-name: local
addressType: IPv4
ports:
- name: grpc
  port: ${backends.get(name)!.port}
endpoints:
- addresses: [${b.ip}]
  conditions: {ready: ${ready[name]}}
  zone: ${b.zone}
  targetRef: {kind: Pod, name: ${name}}`);
  }
  return docs.join('\n---\n') + '\n';
}

/** `count` calls from a client (no pod of the mesh) whose node locality is `zone`. */
function callFrom(kind: XdsClientKind, zone: string, test: string) {
  const bootstrap = grpcXdsBootstrap({ xdsAddress: `127.0.0.1:${server.xdsPort}`, nodeId: `locality-${kind}-${zone}-${test}`, zone });
  return runXdsClient(kind, { target: 'xds:///local.demo:8080', bootstrap, count: CALLS, concurrency: 4, timeoutMs: 25_000 });
}

beforeAll(async () => {
  for (const [name, b] of Object.entries(BACKENDS) as Array<[BackendName, (typeof BACKENDS)[BackendName]]>) {
    backends.set(name, await startEchoBackend({ name, host: b.ip }));
  }
  dir = mkdtempSync(path.join(tmpdir(), 'trellis-interop-locality-'));
  writeYaml(dir, 'mesh.yaml', meshYaml({ 'local-z1': true, 'local-z2': true }));
  server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir });
  const res = await fetch(`http://127.0.0.1:${server.adminPort}/api/v1/intents?all=true`);
  const view = (await res.json()) as { sourceErrors: unknown[]; intents: Array<{ problems: unknown[] }> };
  expect(view.sourceErrors).toEqual([]);
  expect(view.intents.filter((s) => s.problems.length > 0)).toEqual([]);
});

afterAll(async () => {
  await Promise.all(watchers.map((w) => w.stop()));
  await server?.stop();
  await Promise.all([...backends.values()].map((b) => b.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('PreferSameZone with proxyless gRPC clients', () => {
  it('each client keeps to its own zone’s backend; a zone without one spreads over both', async () => {
    const [z1, z2, z3] = await Promise.all(['z1', 'z2', 'z3'].map((zone) => Promise.all(KINDS.map((kind) => callFrom(kind, zone, 'steady')))));
    for (const [i, kind] of KINDS.entries()) {
      console.log(`[interop locality] ${kind}: z1 ${JSON.stringify(z1![i]!.backends)}, z2 ${JSON.stringify(z2![i]!.backends)}, z3 ${JSON.stringify(z3![i]!.backends)}`);
      expect({ kind, ...z1![i]! }, 'z1 caller').toMatchObject({ kind, ok: CALLS, errors: {}, backends: { 'local-z1': CALLS } });
      expect(z1![i]!.backends, 'z1 caller').toEqual({ 'local-z1': CALLS });
      expect(z2![i]!.backends, 'z2 caller').toEqual({ 'local-z2': CALLS });
      // z3: no endpoint there, so both localities are priority 0 (no gap) and round robin reaches both.
      expect({ kind, ...z3![i]! }, 'z3 caller').toMatchObject({ kind, ok: CALLS, errors: {} });
      expect(Object.keys(z3![i]!.backends).sort(), 'z3 caller').toEqual(['local-z1', 'local-z2']);
    }
  }, 60_000);

  it('the z1 endpoint not ready: live z1 clients fail over to z2, without a failed call; new ones start there', async () => {
    const bootstrap = (kind: XdsClientKind) => grpcXdsBootstrap({ xdsAddress: `127.0.0.1:${server.xdsPort}`, nodeId: `locality-${kind}-z1-watch`, zone: 'z1' });
    const started = KINDS.map((kind) => watchXdsClient(kind, { target: 'xds:///local.demo:8080', bootstrap: bootstrap(kind), maxDurationMs: 30_000 }));
    watchers.push(...started);
    const on = (backend: string) => (e: WatchEvent) => 'backend' in e && e.backend === backend;
    await Promise.all(started.map((w) => w.waitFor(on('local-z1'), 20_000)));
    const steadyAt = Date.now() + 100;
    await Promise.all(started.map((w) => w.waitFor((e) => on('local-z1')(e) && e.t > steadyAt, 5_000)));

    const t0 = Date.now();
    writeYaml(dir, 'mesh.yaml', meshYaml({ 'local-z1': false, 'local-z2': true }));
    const firstZ2 = await Promise.all(started.map((w) => w.waitFor((e) => e.t >= t0 && on('local-z2')(e), 5_000)));
    await Promise.all(started.map((w, i) => w.waitFor((e) => e.t > firstZ2[i]!.t + 200, 5_000)));
    for (const [i, kind] of KINDS.entries()) {
      const events = started[i]!.events;
      console.log(`[interop locality] ${kind} failover: file write → first call on z2 in ${firstZ2[i]!.t - t0} ms`);
      // Before the edit: z1 only. After the first call on z2: z2 only. Never an error.
      expect(events.filter((e) => 'backend' in e && e.t < t0 && !on('local-z1')(e)), `${kind} before`).toEqual([]);
      expect(events.slice(events.indexOf(firstZ2[i]!)).filter((e) => !on('local-z2')(e)), `${kind} after`).toEqual([]);
      expect(events.filter((e) => 'error' in e), `${kind} errors`).toEqual([]);
    }

    // A client that starts now starts on z2.
    const fresh = await Promise.all(KINDS.map((kind) => callFrom(kind, 'z1', 'failover')));
    for (const [i, kind] of KINDS.entries()) {
      expect({ kind, ...fresh[i]! }).toMatchObject({ kind, ok: CALLS, errors: {} });
      expect(fresh[i]!.backends, kind).toEqual({ 'local-z2': CALLS });
    }
  }, 60_000);
});
