/**
 * Interop (issue 3): the two real proxyless clients — @grpc/grpc-js-xds and
 * Python grpcio (C-core) — against `trellis serve --source file:<dir>` with a
 * strict mesh written as YAML. The clients are pods of the mesh: js by its
 * node id "demo/client-js", py by node metadata `trellis.workload`; a
 * TrafficTarget lets their service account call the echo services.
 *
 * Backends are real gRPC servers (echo-backend.ts), each a pod on its own
 * loopback address, so EndpointSlices name them as Kubernetes would.
 *
 * Retries, as the clients really do them (gRFC A44): both honour retry_on
 * gRPC status names (cancelled, deadline-exceeded, internal,
 * resource-exhausted, unavailable), num_retries and the backoff; neither
 * cuts an attempt short on per_try_timeout — grpc-js never reads the field
 * (resolver-xds.js), and grpcio 1.85 was measured by the probe below to wait
 * for the call deadline on a hung endpoint too. A retry is just the next
 * round-robin pick (no "previous hosts" predicate as in Envoy). So the
 * policy that masks the failing backend is the realistic gRPC one:
 * `retryOn: [unavailable]`, `methods: ["*"]` (gRPC calls are POSTs; the
 * default is idempotent methods only), and no timeouts: with `request: 2s,
 * perTry: 500ms` grpcio 1.85 failed calls with DEADLINE_EXCEEDED long before
 * either (after 0.4-1.1 s; CI once saw 51 of 100 under load) — its retry
 * trace (GRPC_TRACE=retry) shows the first attempt of a call that had waited
 * for the xDS resolution failing at once with DEADLINE_EXCEEDED, its deadline
 * not reached — which retryOn [unavailable] does not retry. grpcio's own:
 * it cuts any method-config timeout (what max_stream_duration becomes) 1-2 s
 * short, xDS or not (docs/proxyless.md, Limits;
 * test/interop/grpcio_method_timeout_probe.py). That is not what this test is
 * about; the per-try probe below is about timeouts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.ts';
import { writeYaml } from '../support/mesh-harness.ts';
import { grpcXdsBootstrap, runXdsClient, watchXdsClient, type XdsClientKind, type XdsClientWatch } from '../support/xds-bootstrap.ts';
import type { OnceResult, WatchEvent } from './client-output.ts';

const KINDS: XdsClientKind[] = ['js', 'py'];
const SPLIT_CALLS = 1000;
const RETRY_CALLS = 100;

/** Backend pods: name → loopback IP, service-account, app label, behaviour. */
const BACKENDS = {
  'echo-v1': { ip: '127.0.0.11', sa: 'echo', app: 'echo', version: 'v1' },
  'echo-v2': { ip: '127.0.0.12', sa: 'echo', app: 'echo', version: 'v2' },
  'flaky-ok': { ip: '127.0.0.13', sa: 'flaky', app: 'flaky', version: 'ok' },
  'flaky-bad': { ip: '127.0.0.14', sa: 'flaky', app: 'flaky', version: 'bad' },
  'slow-fast': { ip: '127.0.0.15', sa: 'slow', app: 'slow', version: 'fast' },
  'slow-hang': { ip: '127.0.0.16', sa: 'slow', app: 'slow', version: 'hang' },
} as const;
type BackendName = keyof typeof BACKENDS;

/** Services: name → the backend pods behind it. */
const SERVICES: Record<string, BackendName[]> = {
  echo: ['echo-v1', 'echo-v2'],
  'echo-v1': ['echo-v1'],
  'echo-v2': ['echo-v2'],
  moving: ['echo-v1', 'echo-v2'],
  flaky: ['flaky-ok', 'flaky-bad'],
  'flaky-bare': ['flaky-ok', 'flaky-bad'],
  slow: ['slow-fast', 'slow-hang'],
  'by-method': ['echo-v1', 'echo-v2'],
};

const CLIENTS: Record<XdsClientKind, { pod: string; ip: string }> = {
  js: { pod: 'client-js', ip: '127.0.0.2' },
  py: { pod: 'client-py', ip: '127.0.0.3' },
};

let server: RunningControlPlane;
let dir: string;
const backends = new Map<BackendName, EchoBackend>();
const watchers: XdsClientWatch[] = [];

// --- the mesh, as YAML ---------------------------------------------------------

function workloadsYaml(): string {
  const docs: string[] = [
    `apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata:
  name: trellis
spec:
  authorization:
    mode: Strict`,
  ];
  for (const sa of ['client', 'echo', 'flaky', 'slow']) {
    docs.push(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${sa}
  namespace: demo`);
  }
  const pod = (name: string, ip: string, sa: string, labels: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: demo
  labels: {${labels}}
spec:
  serviceAccountName: ${sa}
  containers:
  - name: app
    image: trellis-test/${name}
status:
  podIP: ${ip}`;
  for (const c of Object.values(CLIENTS)) docs.push(pod(c.pod, c.ip, 'client', 'app: client'));
  for (const [name, b] of Object.entries(BACKENDS)) docs.push(pod(name, b.ip, b.sa, `app: ${b.app}, version: ${b.version}`));
  for (const [svc, pods] of Object.entries(SERVICES)) {
    const b = BACKENDS[pods[0]!];
    const selector = svc.includes('-v') ? `app: ${b.app}, version: ${b.version}` : `app: ${b.app}`;
    docs.push(`apiVersion: v1
kind: Service
metadata:
  name: ${svc}
  namespace: demo
spec:
  selector: {${selector}}
  ports:
  - name: grpc
    port: 8080
    appProtocol: grpc`);
    // Each backend listens on its own (random) port: one slice per pod.
    for (const p of pods) {
      docs.push(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${svc}-${p}
  namespace: demo
  labels:
    kubernetes.io/service-name: ${svc}
addressType: IPv4
ports:
- name: grpc
  port: ${backends.get(p)!.port}
endpoints:
- addresses: [${BACKENDS[p].ip}]
  conditions: {ready: true}
  zone: z1
  targetRef: {kind: Pod, name: ${p}}`);
    }
  }
  return docs.join('\n---\n') + '\n';
}

function intentsYaml(moving: { v1: number; v2: number }): string {
  const target = (sa: string) => `---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata:
  name: clients-to-${sa}
  namespace: demo
spec:
  destination:
    kind: ServiceAccount
    name: ${sa}
    namespace: demo
  sources:
  - kind: ServiceAccount
    name: client
    namespace: demo
`;
  return `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: canary
  namespace: demo
spec:
  matches:
  - name: canary-header
    headers:
    - x-canary: "true"
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: echo
  namespace: demo
spec:
  service: echo
  backends:
  - service: echo-v1
    weight: 80
  - service: echo-v2
    weight: 20
---
# Requests carrying x-canary: true always go to v2.
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: echo-canary
  namespace: demo
spec:
  service: echo
  matches:
  - kind: HTTPRouteGroup
    name: canary
  backends:
  - service: echo-v2
    weight: 100
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: moving
  namespace: demo
spec:
  service: moving
  backends:
  - service: echo-v1
    weight: ${moving.v1}
  - service: echo-v2
    weight: ${moving.v2}
---
# gRPC calls are POSTs: retrying them is an explicit opt-in (methods: ["*"]).
# No timeouts: with them grpcio 1.85 failed calls with DEADLINE_EXCEEDED long
# before they ran out (the comment at the top), which retries cannot mask.
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata:
  name: flaky
  namespace: demo
spec:
  targetRef:
    kind: Service
    name: flaky
  retries:
    attempts: 2
    retryOn: [unavailable]
    methods: ["*"]
---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata:
  name: slow
  namespace: demo
spec:
  targetRef:
    kind: Service
    name: slow
  timeouts:
    request: 5s
    perTry: 250ms
  retries:
    attempts: 2
    retryOn: [unavailable, deadline-exceeded, cancelled]
    methods: ["*"]
---
# issue 10: a GRPCRoute attached to the Service: an exact method match routes Call to v2.
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  name: by-method
  namespace: demo
spec:
  parentRefs: [{group: "", kind: Service, name: by-method}]
  rules:
  - matches: [{method: {service: trellis.test.Echo, method: Other}}]
    backendRefs: [{name: echo-v1, port: 8080}]
  - matches: [{method: {service: trellis.test.Echo, method: Call}}]
    backendRefs: [{name: echo-v2, port: 8080}]
  - backendRefs: [{name: echo-v1, port: 8080}]
${target('echo')}${target('flaky')}${target('slow')}`;
}

// --- clients -----------------------------------------------------------------

/** js is found by its node id "ns/pod"; py by node metadata. */
function bootstrap(kind: XdsClientKind, test: string) {
  const xdsAddress = `127.0.0.1:${server.xdsPort}`;
  return kind === 'js'
    ? grpcXdsBootstrap({ xdsAddress, nodeId: `demo/${CLIENTS.js.pod}` })
    : grpcXdsBootstrap({ xdsAddress, nodeId: `interop-py-${test}`, metadata: { 'trellis.workload': `demo/${CLIENTS.py.pod}` } });
}

/** A short target form for py, the full one for js: both are served. */
const target = (kind: XdsClientKind, svc: string) => (kind === 'js' ? `xds:///${svc}.demo.svc.cluster.local:8080` : `xds:///${svc}.demo:8080`);

function runBoth(svc: string, test: string, options: { count: number; concurrency?: number; deadlineMs?: number; metadata?: Record<string, string> }): Promise<OnceResult[]> {
  return Promise.all(
    KINDS.map((kind) =>
      runXdsClient(kind, { target: target(kind, svc), bootstrap: bootstrap(kind, test), timeoutMs: 25_000, ...options }),
    ),
  );
}

const errorCount = (r: OnceResult) => Object.values(r.errors).reduce((a, b) => a + b, 0);

beforeAll(async () => {
  for (const [name, b] of Object.entries(BACKENDS) as Array<[BackendName, (typeof BACKENDS)[BackendName]]>) {
    const behaviour = name === 'flaky-bad' ? { failWith: grpc.status.UNAVAILABLE } : name === 'slow-hang' ? { delayMs: 2000 } : {};
    backends.set(name, await startEchoBackend({ name: b.version, host: b.ip, ...behaviour }));
  }
  dir = mkdtempSync(path.join(tmpdir(), 'trellis-interop-mesh-'));
  writeYaml(dir, 'workloads.yaml', workloadsYaml());
  writeYaml(dir, 'intents.yaml', intentsYaml({ v1: 100, v2: 0 }));
  server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir });
  // The YAML must be clean: a test on a half-rejected mesh would prove little.
  const res = await fetch(`http://127.0.0.1:${server.adminPort}/api/v1/intents?all=true`);
  const view = (await res.json()) as { sourceErrors: unknown[]; intents: Array<{ kind: string; name: string; problems: unknown[] }> };
  expect(view.sourceErrors).toEqual([]);
  expect(view.intents.filter((s) => s.problems.length > 0)).toEqual([]);
});

afterAll(async () => {
  await Promise.all(watchers.map((w) => w.stop()));
  await server?.stop();
  await Promise.all([...backends.values()].map((b) => b.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('proxyless gRPC clients in a file-source mesh', () => {
  it(`TrafficSplit 80/20: ${SPLIT_CALLS} calls per client within ±5 points`, async () => {
    const results = await runBoth('echo', 'split', { count: SPLIT_CALLS, concurrency: 8 });
    for (const [i, r] of results.entries()) {
      const kind = KINDS[i]!;
      expect(r.errors, `${kind}: ${JSON.stringify(r.details)}`).toEqual({});
      const pct = (100 * (r.backends.v1 ?? 0)) / SPLIT_CALLS;
      console.log(`[interop mesh] ${kind} split: v1=${r.backends.v1 ?? 0} v2=${r.backends.v2 ?? 0} (${pct.toFixed(1)}% v1, configured 80%)`);
      expect(Object.keys(r.backends).sort()).toEqual(['v1', 'v2']);
      expect(Math.abs(pct - 80)).toBeLessThanOrEqual(5);
    }
  }, 40_000);

  it('issue 10: a GRPCRoute method match (trellis.test.Echo/Call) routes every call to its backend, in both clients', async () => {
    const results = await runBoth('by-method', 'grpcroute', { count: 50, concurrency: 4 });
    for (const [i, r] of results.entries()) expect({ kind: KINDS[i], ...r }).toMatchObject({ kind: KINDS[i], ok: 50, errors: {}, backends: { v2: 50 } });
  }, 40_000);

  it('header canary: x-canary: true always reaches v2', async () => {
    const results = await runBoth('echo', 'canary', { count: 100, concurrency: 4, metadata: { 'x-canary': 'true' } });
    for (const [i, r] of results.entries()) {
      console.log(`[interop mesh] ${KINDS[i]} canary: ${JSON.stringify(r.backends)}`);
      expect({ kind: KINDS[i], ...r }).toMatchObject({ kind: KINDS[i], ok: 100, errors: {}, backends: { v2: 100 } });
    }
  }, 40_000);

  it('retries mask a backend that always fails UNAVAILABLE; without the policy errors show', async () => {
    const [withPolicy, without] = await Promise.all([
      // One call at a time: gRPC has no "retry on another host" predicate, a
      // retry simply takes the next round-robin pick, which concurrent calls
      // would also be moving.
      runBoth('flaky', 'retry', { count: RETRY_CALLS, concurrency: 1 }),
      runBoth('flaky-bare', 'bare', { count: RETRY_CALLS, concurrency: 1 }),
    ]);
    for (const [i, kind] of KINDS.entries()) {
      const masked = withPolicy[i]!;
      const bare = without[i]!;
      console.log(
        `[interop mesh] ${kind} retry: with policy ${masked.ok} ok / ${errorCount(masked)} errors ${JSON.stringify(masked.errors)}; ` +
          `without ${bare.ok} ok / ${errorCount(bare)} errors ${JSON.stringify(bare.errors)}; details ${JSON.stringify(masked.details)}`,
      );
    }
    for (const [i, kind] of KINDS.entries()) {
      const masked = withPolicy[i]!;
      const bare = without[i]!;
      // Round robin over one good and one bad endpoint, up to 3 attempts: ~0 errors.
      expect(errorCount(masked), `${kind} with retries`).toBeLessThanOrEqual(RETRY_CALLS * 0.01);
      expect(masked.backends).toEqual({ ok: masked.ok });
      // No retries: about every other call lands on the bad endpoint.
      expect(bare.errors.UNAVAILABLE ?? 0, `${kind} without retries`).toBeGreaterThanOrEqual(RETRY_CALLS * 0.25);
    }
    expect(backends.get('flaky-bad')!.calls).toBeGreaterThan(0);
  }, 40_000);

  it('per-try timeout probe: which client cuts an attempt on a hung endpoint short (printed, pinned)', async () => {
    // Call deadline 600 ms; one endpoint answers after 2 s. A client that honours
    // per_try_timeout (250 ms) retries elsewhere in time; one that ignores it
    // waits for the deadline on every call the hung endpoint gets. The clients run
    // one after the other so the hung endpoint's call count belongs to one client;
    // a round in which round robin never picked it (its subchannel was still
    // connecting) proves nothing either way and is run again, at most three times.
    const hang = backends.get('slow-hang')!;
    const honours: Record<string, boolean> = {};
    for (const kind of KINDS) {
      let reached = 0;
      for (let round = 0; round < 3 && reached === 0; round++) {
        const before = hang.calls;
        const r = await runXdsClient(kind, { target: target(kind, 'slow'), bootstrap: bootstrap(kind, 'pertry'), timeoutMs: 25_000, count: 6, concurrency: 3, deadlineMs: 600 });
        reached = hang.calls - before;
        honours[kind] = errorCount(r) === 0;
        console.log(`[interop mesh] ${kind} per-try timeout: ${r.ok} ok, errors ${JSON.stringify(r.errors)}, hung endpoint picked ${reached}× → per_try_timeout ${honours[kind] ? 'honoured' : 'ignored'}`);
        // Every call that succeeds came from the fast endpoint.
        expect(Object.keys(r.backends).filter((b) => b !== 'fast')).toEqual([]);
      }
      expect(reached, `${kind}: the hung endpoint was never picked in three rounds`).toBeGreaterThan(0);
    }
    // grpc-js 1.14 never reads per_try_timeout (gRFC A44 leaves it out).
    expect(honours.js).toBe(false);
  }, 60_000);

  // How fast is measured by bench/reroute.ts (scripts/bench.sh reroute); here, that it happens and sticks.
  it('a YAML edit re-routes live watch-mode clients, for good and without a failed call', async () => {
    const started = KINDS.map((kind) => watchXdsClient(kind, { target: target(kind, 'moving'), bootstrap: bootstrap(kind, 'watch'), maxDurationMs: 30_000 }));
    watchers.push(...started);
    const on = (backend: string) => (e: WatchEvent) => 'backend' in e && e.backend === backend;
    await Promise.all(started.map((w) => w.waitFor(on('v1'), 20_000)));
    // A few calls on v1 first, so the clients are steady before the edit.
    const steadyAt = Date.now() + 100;
    await Promise.all(started.map((w) => w.waitFor((e) => on('v1')(e) && e.t > steadyAt, 5_000)));

    const t0 = Date.now();
    writeYaml(dir, 'intents.yaml', intentsYaml({ v1: 0, v2: 100 }));
    // Well past the watcher's 5 s resync: how long it takes is not what this checks.
    const firstV2 = await Promise.all(started.map((w) => w.waitFor((e) => e.t >= t0 && on('v2')(e), 15_000)));
    await Promise.all(started.map((w, i) => w.waitFor((e) => e.t > firstV2[i]!.t + 200, 5_000)));

    for (const [i, watch] of started.entries()) {
      const events = watch.events;
      const at = events.indexOf(firstV2[i]!);
      // Sequential calls: after the first on v2, none goes back to v1, and none fails.
      expect(events.slice(at).filter((e) => !on('v2')(e))).toEqual([]);
      expect(events.slice(events.findIndex((e) => 'backend' in e)).filter((e) => 'error' in e)).toEqual([]);
    }
  }, 40_000);
});
