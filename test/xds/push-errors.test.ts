/**
 * The error boundary of the push path: a throw while a stream's flush reads
 * or sends config (our bug) ends that stream alone with INTERNAL, logged and
 * counted by node and type; the process and every other stream keep serving.
 * The fault is injected at the server/cache seam: a ConfigWatcher that hands
 * one node a snapshot that throws when read. Everything else is real (the
 * SnapshotCache behind it, the gRPC server, the client).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigListener, ConfigWatch, ConfigWatcher } from '../../src/cache/config-watcher.ts';
import { Snapshot } from '../../src/cache/snapshot.ts';
import { SnapshotCache } from '../../src/cache/snapshot-cache.ts';
import pino from 'pino';
import { XdsServer } from '../../src/server/xds-server.ts';
import type { NodeInfo } from '../../src/xds/wire.ts';
import { node, XdsTestClient } from '../support/ads-client.ts';
import { CDS, EDS, grpc, metric } from '../support/conformance.ts';
import { cluster, smallMesh, snapshotOf } from '../support/fixtures.ts';

/** A snapshot whose every read throws, as a bug in building or filtering a set would. */
class BrokenSnapshot extends Snapshot {
  override get(): never {
    throw new Error('injected: reading this snapshot fails');
  }
}

/** The real cache, except that nodes named "doomed-*" get a broken snapshot. */
class FaultyWatcher implements ConfigWatcher {
  constructor(private readonly cache: SnapshotCache) {}
  createWatch(n: NodeInfo, onChange: ConfigListener): ConfigWatch {
    const w = this.cache.createWatch(n, onChange);
    if (!n.id.startsWith('doomed-')) return w;
    return { current: () => w.current() && new BrokenSnapshot({}), cancel: () => w.cancel() };
  }
}

let cache: SnapshotCache;
let server: XdsServer;
let client: XdsTestClient;
/** What the server logs at error level, parsed (a real pino logger writing here). */
const logged: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  cache = new SnapshotCache();
  cache.set('*', snapshotOf(smallMesh()));
  const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  server = new XdsServer({ cache: new FaultyWatcher(cache), log });
  const port = await server.listen('127.0.0.1:0');
  client = new XdsTestClient(`127.0.0.1:${port}`);
});
afterAll(async () => {
  client?.close();
  await server?.close(100);
});

describe('a throw while pushing', () => {
  it.each(['sotw', 'delta'] as const)('ends only that stream with INTERNAL (%s); the others keep serving', async (mode) => {
    const bystander = client.sotw();
    bystander.send({ node: node(`bystander-${mode}`), type_url: CDS });
    bystander.ack(await bystander.next());
    const other = client.delta();
    other.send({ node: node(`other-${mode}`), type_url: EDS, resource_names_subscribe: ['a'] });
    other.ack(await other.next());

    const before = metric(await server.metrics.registry.metrics(), 'trellis_xds_push_errors_total', { type: 'cds' });
    const doomed = mode === 'sotw' ? client.sotw() : client.delta();
    doomed.send({ node: node(`doomed-${mode}`), type_url: CDS });
    const status = await doomed.ended();
    expect(status.code).toBe(grpc.status.INTERNAL);

    const text = await server.metrics.registry.metrics();
    expect(metric(text, 'trellis_xds_push_errors_total', { type: 'cds' })).toBe(before + 1);
    expect(logged.at(-1)).toMatchObject({ node: `doomed-${mode}`, type: 'cds', err: { message: 'injected: reading this snapshot fails' } });
    expect(server.syncStatus().map((n) => n.node.id)).not.toContain(`doomed-${mode}`);

    // The others were not touched and still get changes.
    cache.set('*', snapshotOf(smallMesh({ clusters: [cluster('a', { connect_timeout: mode === 'sotw' ? '7s' : '8s' }), cluster('b')] })));
    expect((await bystander.next()).type_url).toBe(CDS);
    expect(bystander.status).toBeUndefined();
    expect(other.status).toBeUndefined();
    bystander.close();
    other.close();
  });
});
