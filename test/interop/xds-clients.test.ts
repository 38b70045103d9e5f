/**
 * Interop (DESIGN.md testing ladder, step 3): two real proxyless xDS clients
 * nobody here wrote — @grpc/grpc-js-xds and Python grpcio (C-core) — resolve
 * `xds:///…` names through Trellis serving a resources file, and their calls
 * reach the echo backends the served config points at.
 *
 * One server and one file for the whole suite. Each test uses its own
 * api_listener, so the re-route test's file rewrite touches no other test's
 * route. The js and py clients run side by side in every test (two cores).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.ts';
import { apiListener, cluster, endpoints, routeConfig, writeResourcesFile, type MeshSpec } from '../support/fixtures.ts';
import {
  grpcXdsBootstrap,
  runXdsClient,
  watchXdsClient,
  type XdsClientKind,
  type XdsClientWatch,
} from '../support/xds-bootstrap.ts';
import type { WatchEvent } from './client-output.ts';

const KINDS: XdsClientKind[] = ['js', 'py'];

/** Listener (= target authority) per test; gRPC asks LDS for exactly this name. */
const ECHO = 'echo.demo.svc.cluster.local:8080';
const SPLIT = 'split.demo.svc.cluster.local:8080';
const REROUTE = 'reroute.demo.svc.cluster.local:8080';
const SPLIT_WEIGHTS = { a: 80, b: 20 };
const SPLIT_CALLS = 1000;

let server: RunningControlPlane;
let dir: string;
let file: string;
let backendA: EchoBackend;
let backendB: EchoBackend;
/** Watch-mode clients of the re-route test, kept connected for the per-node sync check. */
const watchers = new Map<XdsClientKind, XdsClientWatch>();

function mesh(rerouteTo: 'a' | 'b'): MeshSpec {
  return {
    clusters: [cluster('a'), cluster('b')],
    endpoints: [endpoints('a', [backendA.port]), endpoints('b', [backendB.port])],
    listeners: [apiListener(ECHO, 'echo'), apiListener(SPLIT, 'split'), apiListener(REROUTE, 'reroute')],
    routes: [
      routeConfig('echo', [{ cluster: 'a' }]),
      routeConfig('split', [{ weighted: Object.entries(SPLIT_WEIGHTS) }]),
      routeConfig('reroute', [{ cluster: rerouteTo }]),
    ],
  };
}

function bootstrap(nodeId: string) {
  return grpcXdsBootstrap({ xdsAddress: `127.0.0.1:${server.xdsPort}`, nodeId });
}

const nodeId = (kind: XdsClientKind, test: string): string => `interop-${kind}-${test}`;

beforeAll(async () => {
  [backendA, backendB] = await Promise.all([startEchoBackend({ name: 'a' }), startEchoBackend({ name: 'b' })]);
  dir = mkdtempSync(path.join(tmpdir(), 'trellis-interop-'));
  file = path.join(dir, 'resources.yaml');
  writeResourcesFile(file, mesh('a'));
  server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', resourcesFile: file });
});

afterAll(async () => {
  await Promise.all([...watchers.values()].map((w) => w.stop()));
  await server?.stop();
  await Promise.all([backendA?.close(), backendB?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('proxyless gRPC clients through Trellis', () => {
  it('resolve the api_listener over ADS (LDS→RDS→CDS→EDS) and reach its backend', async () => {
    const results = await Promise.all(
      KINDS.map((kind) =>
        runXdsClient(kind, { target: `xds:///${ECHO}`, bootstrap: bootstrap(nodeId(kind, 'basic')), count: 5, timeoutMs: 30_000 }),
      ),
    );
    for (const [i, result] of results.entries()) {
      expect({ kind: KINDS[i], ...result }).toMatchObject({ kind: KINDS[i], ok: 5, errors: {}, backends: { a: 5 } });
    }
  }, 45_000);

  it(`split ${SPLIT_CALLS} calls per client within ±5 points of ${SPLIT_WEIGHTS.a}/${SPLIT_WEIGHTS.b}`, async () => {
    const results = await Promise.all(
      KINDS.map((kind) =>
        runXdsClient(kind, {
          target: `xds:///${SPLIT}`,
          bootstrap: bootstrap(nodeId(kind, 'split')),
          count: SPLIT_CALLS,
          concurrency: 8,
          timeoutMs: 60_000,
        }),
      ),
    );
    const total = SPLIT_WEIGHTS.a + SPLIT_WEIGHTS.b;
    for (const [i, result] of results.entries()) {
      const kind = KINDS[i]!;
      expect(result.errors, `${kind} errors: ${JSON.stringify(result.details)}`).toEqual({});
      expect(result.ok).toBe(SPLIT_CALLS);
      const pctA = (100 * (result.backends.a ?? 0)) / SPLIT_CALLS;
      console.log(`[interop] ${kind} split: a=${result.backends.a ?? 0} b=${result.backends.b ?? 0} (${pctA.toFixed(1)}% a, configured ${(100 * SPLIT_WEIGHTS.a) / total}%)`);
      expect(Object.keys(result.backends).sort()).toEqual(['a', 'b']);
      expect(Math.abs(pctA - (100 * SPLIT_WEIGHTS.a) / total)).toBeLessThanOrEqual(5);
    }
  }, 90_000);

  it('move to the new backend when the served file changes the route', async () => {
    for (const kind of KINDS) {
      watchers.set(kind, watchXdsClient(kind, { target: `xds:///${REROUTE}`, bootstrap: bootstrap(nodeId(kind, 'watch')), maxDurationMs: 90_000 }));
    }
    const onA = (e: WatchEvent): boolean => 'backend' in e && e.backend === 'a';
    await Promise.all([...watchers.values()].map((w) => w.waitFor(onA, 30_000)));

    const t0 = Date.now();
    writeResourcesFile(file, mesh('b'));
    const firstB = await Promise.all(
      KINDS.map((kind) => watchers.get(kind)!.waitFor((e) => e.t >= t0 && 'backend' in e && e.backend === 'b', 5_000)),
    );
    // A few more calls each, to see that the move sticks.
    await Promise.all(
      KINDS.map((kind, i) => watchers.get(kind)!.waitFor((e) => e.t > firstB[i]!.t + 200, 5_000)),
    );

    for (const [i, kind] of KINDS.entries()) {
      const events = watchers.get(kind)!.events;
      const firstOk = events.findIndex((e) => 'backend' in e);
      const switchAt = events.indexOf(firstB[i]!);
      console.log(`[interop] ${kind} re-route: file write -> first call on b in ${firstB[i]!.t - t0} ms`);
      // Sequential calls: once one reached b, none may go back to a; and the move drops no call.
      expect(events.slice(switchAt).filter((e) => !('backend' in e && e.backend === 'b'))).toEqual([]);
      expect(events.slice(firstOk).filter((e) => 'error' in e)).toEqual([]);
    }
  }, 45_000);

  it('ACKed LDS/RDS/CDS/EDS on every client node, no NACK', async () => {
    expect(watchers.size, 'needs the re-route test’s watch clients').toBe(KINDS.length);
    const wanted = KINDS.map((kind) => nodeId(kind, 'watch'));
    const types = ['lds', 'rds', 'cds', 'eds'];
    interface TypeView { inSync: boolean; lastNack: unknown; sentVersion: string | null; ackedVersion: string | null }
    interface ProxyView { node: string; streams: Array<{ api: string; types: Record<string, TypeView> }> }

    // An ACK follows a push by a round trip: poll briefly rather than race it.
    const summarize = async () => {
      const res = await fetch(`http://127.0.0.1:${server.adminPort}/api/v1/proxies`);
      expect(res.status).toBe(200);
      const { proxies } = (await res.json()) as { proxies: ProxyView[] };
      return wanted.map((node) => {
        const p = proxies.find((x) => x.node === node);
        const streams = p?.streams ?? [];
        return {
          node,
          streams: streams.map((s) => s.api),
          types: Object.fromEntries(
            types.map((t) => {
              const st = streams.find((s) => t in s.types)?.types[t];
              return [t, st ? { inSync: st.inSync, nack: st.lastNack !== null, acked: st.ackedVersion === st.sentVersion } : null];
            }),
          ),
        };
      });
    };
    const good = { inSync: true, nack: false, acked: true };
    const expected = wanted.map((node) => ({ node, streams: ['ads'], types: Object.fromEntries(types.map((t) => [t, good])) }));
    let seen = await summarize();
    for (const deadline = Date.now() + 5_000; Date.now() < deadline && JSON.stringify(seen) !== JSON.stringify(expected); ) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await summarize();
    }
    expect(seen).toEqual(expected);

    // What each node holds: the resources for its target only, all ACKed, the route on its new cluster.
    for (const node of wanted) {
      const res = await fetch(`http://127.0.0.1:${server.adminPort}/api/v1/proxies/${node}/config`);
      expect(res.status).toBe(200);
      const config = (await res.json()) as { types: Record<string, Array<{ name: string; status: string; resource: { virtual_hosts?: Array<{ routes: Array<{ route: { cluster?: string } }> }> } }>> };
      const held = Object.fromEntries(Object.entries(config.types).map(([t, list]) => [t, list.map((r) => `${r.name}:${r.status}`)]));
      expect(held).toEqual({ lds: [`${REROUTE}:ACKED`], rds: ['reroute:ACKED'], cds: ['b:ACKED'], eds: ['b:ACKED'] });
      expect(config.types.rds![0]!.resource.virtual_hosts?.[0]?.routes[0]?.route.cluster).toBe('b');
    }
  }, 15_000);
});
