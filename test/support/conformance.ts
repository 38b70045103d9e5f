/**
 * Shared plumbing for the protocol conformance suite (test/xds/*.test.ts):
 * a real server on an ephemeral port, a raw client, and readers for the admin
 * API and Prometheus text. Tests assert on codes, names, versions and nonces.
 */
import * as grpc from '@grpc/grpc-js';
import { startControlPlane, SHARED_KEY, type RunningControlPlane, type ControlPlaneOptions } from '../../src/runtime/control-plane.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { node, XdsTestClient } from './ads-client.ts';
import { snapshotOf, type MeshSpec } from './fixtures.ts';

export { TypeUrl, node };
export const { Cluster: CDS, Endpoint: EDS, Listener: LDS, Route: RDS, Secret: SDS } = TypeUrl;

export interface Harness {
  server: RunningControlPlane;
  client: XdsTestClient;
  address: string;
  /** Serve `spec` to every node; fails the test if the snapshot is inconsistent. */
  set(spec: MeshSpec): void;
  /** Cancels every stream opened on `client` (tests call it in afterEach, so a failure cannot leak streams into the next test). */
  closeStreams(): void;
  metrics(): Promise<string>;
  json<T = unknown>(path: string): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/** Records every stream `client` opens into `into` (closing a channel does not end its calls). */
export function track(client: XdsTestClient, into: Array<{ close(): void }>): XdsTestClient {
  const sotw = client.sotw.bind(client);
  const delta = client.delta.bind(client);
  client.sotw = (...args) => {
    const s = sotw(...args);
    into.push(s);
    return s;
  };
  client.delta = (...args) => {
    const s = delta(...args);
    into.push(s);
    return s;
  };
  return client;
}

/** A client on its own connection (grpc-js otherwise shares one connection between channels to the same target). */
export function ownConnection(address: string, options: grpc.ChannelOptions = {}): XdsTestClient {
  return new XdsTestClient(address, { 'grpc.use_local_subchannel_pool': 1, ...options });
}

/** A client on its own connection; it and its streams land in `opened`, for the test's afterEach to close. */
export function closedAfter(address: string, opened: Array<{ close(): void }>): XdsTestClient {
  const c = track(ownConnection(address), opened);
  opened.push(c);
  return c;
}

export async function startHarness(opts: Partial<ControlPlaneOptions> = {}, clientOptions: grpc.ChannelOptions = {}): Promise<Harness> {
  const server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', ...opts });
  const address = `127.0.0.1:${server.xdsPort}`;
  const client = new XdsTestClient(address, clientOptions);
  const admin = `http://127.0.0.1:${server.adminPort}`;
  const opened: Array<{ close(): void }> = [];
  track(client, opened);
  return {
    server,
    client,
    address,
    closeStreams() {
      for (const s of opened.splice(0)) s.close();
    },
    set(spec) {
      const r = server.cache.set(SHARED_KEY, snapshotOf(spec));
      if (!r.ok) throw new Error(`inconsistent test snapshot: ${JSON.stringify(r.problems)}`);
    },
    async metrics() {
      const res = await fetch(`${admin}/metrics`, { signal: AbortSignal.timeout(5000) });
      return res.text();
    },
    async json<T>(path: string) {
      const res = await fetch(`${admin}${path}`, { signal: AbortSignal.timeout(5000) });
      return { status: res.status, body: (await res.json()) as T };
    },
    async close() {
      client.close();
      await server.stop();
    },
  };
}

/** The value of one sample in Prometheus text, 0 when absent. `labels` must match exactly as exposed. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if ((m[2] ?? '') === want) return Number(m[3]);
  }
  return 0;
}

/** Every response until the stream is quiet for `quietMs`. */
export async function drain<T>(s: { next(ms?: number): Promise<T> }, quietMs = 250): Promise<T[]> {
  const out: T[] = [];
  for (;;) {
    try {
      out.push(await s.next(quietMs));
    } catch {
      return out;
    }
  }
}

/** Names of clusters a route configuration or listener points at (for ordering checks). */
export function clustersNamedBy(resource: Record<string, unknown>): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, key: string): void => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, key));
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'cluster' && typeof x === 'string') out.add(x);
      else if (key === 'clusters' && k === 'name' && typeof x === 'string') out.add(x);
      else walk(x, k);
    }
  };
  walk(resource, '');
  return [...out].sort();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `ms` pass. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 3000, stepMs = 20): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}

/**
 * Waits until the server has seen the ACK of everything it sent to `nodeId`
 * (admin API `inSync`), so a test's next change does not race its ACKs.
 */
export async function settled(h: Harness, nodeId: string, ms = 3000): Promise<void> {
  const ok = await eventually(async () => {
    const { body } = await h.json<{ proxies: Array<{ node: string; streams: Array<{ types: Record<string, { inSync: boolean }> }> }> }>('/api/v1/proxies');
    const p = body.proxies.find((x) => x.node === nodeId);
    return !!p && p.streams.every((s) => Object.values(s.types).every((t) => t.inSync));
  }, ms);
  if (!ok) throw new Error(`${nodeId} did not ACK everything within ${ms} ms`);
}

export const sorted = (names: readonly string[]) => [...names].sort();

export { grpc };
