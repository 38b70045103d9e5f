/**
 * Issue 14, "A peer in the benchmark": the go-control-plane server that
 * `scripts/bench.sh peer` measures against Trellis (bench/go-control-plane,
 * built by scripts/setup-go-control-plane.sh) must serve what Trellis encoded
 * — the same messages, field for field — and apply the benchmark's edits, in
 * both its caches; otherwise the side-by-side figures compare different work.
 * A real ADS stream (grpc-js) against the real Go binary.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerEdits, peerResources, writePeerDump } from '../../bench/peer-edits.ts';
import { ServerProcess } from '../../bench/peer-servers.ts';
import { messageType } from '../../src/xds/protos.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { encodeSotwRequest } from '../../src/xds/wire.ts';

const SERVICES = 4;
const NODE = 'peer-s0';

/** A message as data, defaults written out: Trellis writes some proto3 defaults that Go's encoder leaves out. */
function asData(typeUrl: string, value: Uint8Array): unknown {
  const T = messageType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  return T.toObject(T.decode(value), { defaults: true, longs: String, enums: String, bytes: String, json: true });
}

const byName = (list: unknown[]) => [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** One SotW ADS stream: each request's next response, its resources as data. */
class AdsStream {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly queue: Buffer[] = [];
  private waiter?: (b: Buffer) => void;

  constructor(port: number) {
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    this.call = this.client.makeBidiStreamRequest('/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', (b: Buffer) => b, (b: Buffer) => b, new grpc.Metadata());
    this.call.on('data', (b: Buffer) => (this.waiter ? this.waiter(b) : this.queue.push(b)));
    this.call.on('error', () => {});
  }

  send(typeUrl: string, names: string[], ack?: { version: string; nonce: string }): void {
    this.call.write(encodeSotwRequest({ node: { id: NODE, cluster: 'test' } as never, type_url: typeUrl, resource_names: names, version_info: ack?.version, response_nonce: ack?.nonce }));
  }

  async next(): Promise<{ typeUrl: string; version: string; nonce: string; resources: unknown[] }> {
    const bytes = this.queue.shift() ?? (await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no response within 20 s')), 20_000);
      this.waiter = (b) => (clearTimeout(timer), (this.waiter = undefined), resolve(b));
    }));
    const T = messageType('envoy.service.discovery.v3.DiscoveryResponse');
    const r = T.decode(bytes) as unknown as { version_info: string; type_url: string; nonce: string; resources: Array<{ type_url: string; value: Uint8Array }> };
    return { typeUrl: r.type_url, version: r.version_info, nonce: r.nonce, resources: byName(r.resources.map((a) => asData(a.type_url, a.value))) };
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

let dir: string;
let dump: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'trellis-peer-test-'));
  dump = path.join(dir, 'resources.json');
  writePeerDump(dump, SERVICES, 1);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['snapshot', 'linear'] as const)('issue 14: the go-control-plane peer (%s cache)', (kind) => {
  let server: ServerProcess;
  let stream: AdsStream;

  beforeAll(async () => {
    server = ServerProcess.start(kind, { services: SERVICES, edits: 1, dump, nodePrefix: 'peer-s', nodes: 1 });
    stream = new AdsStream((await server.ready()).port);
  }, 30_000);
  afterAll(async () => {
    stream?.close();
    await server?.stop();
  });

  it('serves the clusters and endpoint sets Trellis encoded, and applies the benchmark cluster edit', async () => {
    const trellis = peerResources(SERVICES);
    const expected = (t: typeof TypeUrl.Cluster | typeof TypeUrl.Endpoint) => byName(trellis.get(t)!.map((r) => asData(t, r.value)));

    stream.send(TypeUrl.Cluster, []);
    const cds = await stream.next();
    expect(cds.typeUrl).toBe(TypeUrl.Cluster);
    expect(cds.resources).toEqual(expected(TypeUrl.Cluster));

    const names = trellis.get(TypeUrl.Endpoint)!.map((r) => r.name);
    stream.send(TypeUrl.Endpoint, names);
    const eds = await stream.next();
    expect(eds.resources).toEqual(expected(TypeUrl.Endpoint));

    // ACK both, then the benchmark's edit 1: one cluster's circuit breaker (bench/peer-edits.ts).
    stream.send(TypeUrl.Cluster, [], cds);
    stream.send(TypeUrl.Endpoint, names, eds);
    const edit = peerEdits(1)[1]!;
    expect(edit.name).toBe('cluster change');
    await server.apply(1);
    const pushed = await stream.next();
    expect(pushed.typeUrl).toBe(TypeUrl.Cluster);
    expect(pushed.version).not.toBe(cds.version);
    const edited = asData(TypeUrl.Cluster, edit.resources[0]!.value);
    expect(pushed.resources).toContainEqual(edited);
    expect(pushed.resources).toHaveLength(SERVICES);
  }, 60_000);
});
