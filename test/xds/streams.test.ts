/**
 * XDS_RULES 21–22 and 25–28 (streams and nodes), and bad input; rule 23
 * (identity and secrets) is in secrets.test.ts, rule 24 (10k streams) in release.test.ts.
 */
import http2 from 'node:http2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { grpcServerOptions } from '../../src/server/xds-server.ts';
import { decodeSotwResponse, encodeSotwRequest, lenField } from '../../src/xds/wire.ts';
import { ADS_PATHS, node } from '../support/ads-client.ts';
import { cluster, endpoints, smallMesh, type MeshSpec } from '../support/fixtures.ts';
import { CDS, EDS, drain, eventually, grpc, metric, ownConnection, sleep, track, sorted, startHarness, type Harness } from '../support/conformance.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});
const ownClients: Array<{ close(): void }> = [];
const ownStreams: Array<{ close(): void }> = [];
afterEach(() => {
  h.closeStreams();
  for (const s of ownStreams.splice(0)) s.close();
  for (const c of ownClients.splice(0)) c.close();
});
/** A client on its own connection; it and its streams are closed after the test whatever happens. */
const separate = (options: Parameters<typeof ownConnection>[1] = {}) => {
  const c = track(ownConnection(h.address, options), ownStreams);
  ownClients.push(c);
  return c;
};
beforeEach(() => h.set(smallMesh()));

const MODES = ['sotw', 'delta'] as const;
type Mode = (typeof MODES)[number];
/** A request in either variant: `names` are resource_names or resource_names_subscribe. */
function open(mode: Mode, client = h.client) {
  const s = mode === 'sotw' ? client.sotw() : client.delta();
  return {
    s,
    send(r: { node?: ReturnType<typeof node>; type_url?: string; names?: string[]; nonce?: string }) {
      if (mode === 'sotw') (s as ReturnType<typeof client.sotw>).send({ node: r.node, type_url: r.type_url, resource_names: r.names, response_nonce: r.nonce });
      else (s as ReturnType<typeof client.delta>).send({ node: r.node, type_url: r.type_url, resource_names_subscribe: r.names, response_nonce: r.nonce });
    },
  };
}

describe('rule 21: the node comes with the first request', () => {
  it.each(MODES)('rule 21 (%s): later requests may omit the node', async (mode) => {
    const { s, send } = open(mode);
    send({ node: node(`n21-${mode}`), type_url: EDS, names: ['a'] });
    const r1 = await s.next();
    send({ type_url: EDS, names: ['b'], nonce: r1.nonce });
    const r2 = await s.next();
    expect(r2.names).toEqual(['b']);
    s.close();
  });

  it.each(MODES)('rule 21 (%s): a different node on the same stream is INVALID_ARGUMENT', async (mode) => {
    const { s, send } = open(mode);
    send({ node: node(`n21x-${mode}`), type_url: CDS });
    await s.next();
    send({ node: node('somebody-else'), type_url: EDS, names: ['a'] });
    expect((await s.ended()).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it.each(MODES)('rule 21 (%s): a first request without a node is INVALID_ARGUMENT', async (mode) => {
    const { s, send } = open(mode);
    send({ type_url: CDS });
    expect((await s.ended()).code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('rule 22: type_url on ADS', () => {
  it.each(MODES)('rule 22 (%s): an empty type_url is INVALID_ARGUMENT', async (mode) => {
    const { s, send } = open(mode);
    send({ node: node(`n22-${mode}`), type_url: '' });
    expect((await s.ended()).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it.each(MODES)('rule 22 (%s): an unknown type is ignored and the other types carry on', async (mode) => {
    const { s, send } = open(mode);
    send({ node: node(`n22u-${mode}`), type_url: 'type.googleapis.com/envoy.service.runtime.v3.Runtime' });
    send({ type_url: CDS });
    const r = await s.next();
    expect(r.type_url).toBe(CDS);
    expect(sorted(r.names)).toEqual(['a', 'b']);
    send({ type_url: 'type.googleapis.com/some.Unknown', names: ['x'] });
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '2s' }), cluster('b')] }));
    const r2 = await s.next();
    expect(r2.type_url).toBe(CDS);
    expect(s.status).toBeUndefined();
    s.close();
  });
});

describe('rule 25: a slow reader never blocks the others', () => {
  const bigCluster = (i: number) => cluster('a', { metadata: { filter_metadata: { big: { blob: `${i}:`.padEnd(400 * 1024, 'x') } } } });
  const meshAt = (i: number): MeshSpec => smallMesh({ clusters: [bigCluster(i), cluster('b')], endpoints: [endpoints('a', [10_000 + i]), endpoints('b', [9002])] });

  it('rule 25: a client that stops reading holds at most the latest state per type; the others get every change promptly', { timeout: 30_000 }, async () => {
    h.set(meshAt(0));
    const slowClient = separate({ 'grpc.max_receive_message_length': -1 });
    const slow = slowClient.sotw();
    slow.send({ node: node('slow'), type_url: CDS });
    slow.send({ type_url: EDS, resource_names: ['a'] });
    const first = await drain(slow);
    expect(first).toHaveLength(2);
    slow.call.pause(); // reads nothing more

    const fastClient = separate({ 'grpc.max_receive_message_length': -1 });
    const fast = [fastClient.sotw(), fastClient.delta()] as const;
    fast[0].send({ node: node('fast-sotw'), type_url: CDS });
    fast[1].send({ node: node('fast-delta'), type_url: CDS });
    for (const f of fast) f.ack((await f.next()) as never);

    // Every change reaches both fast streams while the slow one is blocked
    // (how fast is a figure: scripts/bench.sh interference prints it).
    const push = async (i: number) => {
      h.set(meshAt(i));
      for (const f of fast) {
        const r = await f.next(5000);
        expect(r.type_url).toBe(CDS);
        expect(JSON.stringify(r.resources.find((x) => x.value.name === 'a' || x.name === 'a')!.value)).toContain(`"${i}:x`);
        f.ack(r as never);
      }
    };
    let i = 1;
    for (; i <= 30; i++) await push(i);
    expect(await eventually(async () => metric(await h.metrics(), 'trellis_xds_blocked_streams') === 1, 5000)).toBe(true);
    const text = await h.metrics();
    const depth = metric(text, 'trellis_xds_queue_depth');
    expect(depth).toBeGreaterThanOrEqual(1);
    expect(depth).toBeLessThanOrEqual(2); // CDS and EDS: one pending state each, however many changes
    // Once blocked, changes cost the slow stream nothing: exactly the two fast streams' responses go out.
    const sentBefore = metric(text, 'trellis_xds_responses_total', { type: 'cds' });
    for (; i <= 35; i++) await push(i);
    const after = await h.metrics();
    expect(metric(after, 'trellis_xds_responses_total', { type: 'cds' })).toBe(sentBefore + 2 * 5);
    expect(metric(after, 'trellis_xds_queue_depth')).toBeLessThanOrEqual(2);

    // Reading again, the slow client ends on the latest state.
    slow.call.resume();
    const rest = await drain(slow, 500);
    const lastCds = rest.filter((r) => r.type_url === CDS).at(-1)!;
    const lastEds = rest.filter((r) => r.type_url === EDS).at(-1)!;
    expect(lastCds.version_info).toBe(h.server.cache.get('*')!.get(CDS).version);
    expect(lastEds.version_info).toBe(h.server.cache.get('*')!.get(EDS).version);
    expect(rest.filter((r) => r.type_url === CDS).length).toBeLessThan(35);
    expect(await eventually(async () => metric(await h.metrics(), 'trellis_xds_blocked_streams') === 0)).toBe(true);
  });
});

describe('rule 25: a peer whose HTTP/2 stream stops reading (no client library buffering)', () => {
  const bigMesh = (i: number) => smallMesh({ clusters: [cluster('a', { metadata: { filter_metadata: { big: { blob: `${i}:`.padEnd(400 * 1024, 'x') } } } }), cluster('b')] });
  /** gRPC length-prefixed messages in `buf` (uncompressed). */
  const frames = (buf: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    for (let o = 0; o + 5 <= buf.length; ) {
      const n = buf.readUInt32BE(o + 1);
      out.push(buf.subarray(o + 5, o + 5 + n));
      o += 5 + n;
    }
    return out;
  };

  it('rule 25: while it reads nothing, 30 changes queue nothing; on reading it gets only the latest state', { timeout: 15_000 }, async () => {
    h.set(bigMesh(0));
    const sentBefore = metric(await h.metrics(), 'trellis_xds_responses_total', { type: 'cds' });
    const session = http2.connect(`http://${h.address}`);
    try {
      const req = session.request({ ':method': 'POST', ':path': ADS_PATHS.sotw, 'content-type': 'application/grpc', te: 'trailers' });
      const msg = encodeSotwRequest({ node: node('raw-reader'), type_url: CDS });
      const frame = Buffer.alloc(5 + msg.length);
      frame.writeUInt32BE(msg.length, 1);
      msg.copy(frame, 5);
      req.write(frame);
      req.pause();
      for (let i = 1; i <= 30; i++) {
        h.set(bigMesh(i));
        await sleep(10);
      }
      expect(await eventually(async () => metric(await h.metrics(), 'trellis_xds_blocked_streams') === 1)).toBe(true);
      // Written: the first answer and at most one change before HTTP/2 stopped taking bytes; nothing queued per change.
      const written = metric(await h.metrics(), 'trellis_xds_responses_total', { type: 'cds' }) - sentBefore;
      expect(written).toBeLessThanOrEqual(2);
      expect(metric(await h.metrics(), 'trellis_xds_queue_depth')).toBe(1);
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.resume();
      expect(await eventually(async () => metric(await h.metrics(), 'trellis_xds_blocked_streams') === 0)).toBe(true);
      await sleep(300);
      const responses = frames(Buffer.concat(chunks)).map((b) => decodeSotwResponse(b));
      expect(responses).toHaveLength(written + 1); // what was in flight, then only the latest
      expect(responses.at(-1)!.version_info).toBe(h.server.cache.get('*')!.get(CDS).version);
      req.close();
    } finally {
      session.destroy();
    }
  });
});

describe('rule 26: a change reaches only the streams subscribed to it', () => {
  it('rule 26: an endpoint change for a is sent to the a subscribers only', async () => {
    const a = h.client.sotw();
    const b = h.client.sotw();
    const bDelta = h.client.delta();
    const cdsB = h.client.sotw();
    a.send({ node: node('sub-a'), type_url: EDS, resource_names: ['a'] });
    b.send({ node: node('sub-b'), type_url: EDS, resource_names: ['b'] });
    bDelta.send({ node: node('sub-b-delta'), type_url: EDS, resource_names_subscribe: ['b'] });
    cdsB.send({ node: node('sub-cds-b'), type_url: CDS, resource_names: ['b'] });
    a.ack(await a.next(), ['a']);
    b.ack(await b.next(), ['b']);
    bDelta.ack(await bDelta.next());
    cdsB.ack(await cdsB.next(), ['b']);
    await sleep(100);
    const before = await h.metrics();
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '3s' }), cluster('b')], endpoints: [endpoints('a', [7001]), endpoints('b', [9002])] }));
    const r = await a.next();
    expect(r.names).toEqual(['a']);
    for (const quiet of [b, bDelta, cdsB]) expect(await quiet.silentFor(300)).toBe(true);
    const after = await h.metrics();
    expect(metric(after, 'trellis_xds_responses_total', { type: 'eds' }) - metric(before, 'trellis_xds_responses_total', { type: 'eds' })).toBe(1);
    expect(metric(after, 'trellis_xds_responses_total', { type: 'cds' }) - metric(before, 'trellis_xds_responses_total', { type: 'cds' })).toBe(0);
    for (const s of [a, b, bDelta, cdsB]) s.close();
  });
});

describe('rule 27: message size limits', () => {
  it('rule 27: a delta reconnect request over 4 MiB is accepted', { timeout: 20_000 }, async () => {
    const current = h.server.cache.get('*')!.get(EDS).get('a')!.version;
    const initial: Record<string, string> = { a: current };
    for (let i = 0; i < 70_000; i++) initial[`outbound|8080||service-${i}.some-namespace.svc.cluster.local`] = 'Xq1t0v2Jm9Wc3Zb8Yd4Ka7';
    const s = h.client.delta();
    s.send({ node: node('big-request'), type_url: EDS, resource_names_subscribe: ['a', 'b'], initial_resource_versions: initial });
    const r = await s.next(10_000);
    expect(r.names).toEqual(['b']); // a is current; the rest are not subscribed
    s.close();
  });

  it('rule 27: a request over the 32 MiB receive limit is RESOURCE_EXHAUSTED', { timeout: 20_000 }, async () => {
    const s = h.client.sotw();
    s.call.write(lenField(1, Buffer.alloc(65 * 1024 * 1024, 0x61)));
    expect((await s.ended(15_000)).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('rule 27: a response near 4 MiB is counted in trellis_xds_large_responses_total', async () => {
    const before = metric(await h.metrics(), 'trellis_xds_large_responses_total', { type: 'cds' });
    h.set(smallMesh({ clusters: [cluster('a', { metadata: { filter_metadata: { big: { blob: 'y'.repeat(3.75 * 1024 * 1024) } } } }), cluster('b')] }));
    const s = h.client.sotw();
    s.send({ node: node('large-response'), type_url: CDS });
    const r = await s.next(5000);
    expect(r.bytes).toBeGreaterThan(3.5 * 1024 * 1024);
    expect(r.bytes).toBeLessThan(4 * 1024 * 1024);
    expect(metric(await h.metrics(), 'trellis_xds_large_responses_total', { type: 'cds' })).toBe(before + 1);
    s.close();
  });
});

describe('rule 28: keepalive and maximum connection age', () => {
  it('rule 28: the server sets keepalive and a maximum connection age with grace', () => {
    const o = grpcServerOptions({});
    expect(o['grpc.keepalive_time_ms']).toBe(30_000);
    expect(o['grpc.keepalive_timeout_ms']).toBe(10_000);
    expect(o['grpc.max_connection_age_ms']).toBe(30 * 60_000);
    expect(o['grpc.max_connection_age_grace_ms']).toBe(5 * 60_000);
    // Tens of MiB: a delta reconnect naming the per-type maximum of resources, each with its version, fits (limits.ts).
    expect(o['grpc.max_receive_message_length']).toBe(32 * 1024 * 1024);
    const custom = grpcServerOptions({ maxConnectionAgeMs: 1234, maxConnectionAgeGraceMs: 56, keepaliveMs: 7000 });
    expect([custom['grpc.max_connection_age_ms'], custom['grpc.max_connection_age_grace_ms'], custom['grpc.keepalive_time_ms']]).toEqual([1234, 56, 7000]);
  });

  it('rule 28: past its maximum age a connection is closed and the client reconnects', { timeout: 15_000 }, async () => {
    const aged = await startHarness({ maxConnectionAgeMs: 400, maxConnectionAgeGraceMs: 200 });
    try {
      aged.set(smallMesh());
      const s = aged.client.sotw();
      s.send({ node: node('aging'), type_url: CDS });
      await s.next();
      const status = await s.ended(5000);
      expect(status.code).toBe(grpc.status.UNAVAILABLE);
      expect(await eventually(() => aged.server.xds.streamCount() === 0)).toBe(true);
      const again = aged.client.sotw();
      again.send({ node: node('aging'), type_url: CDS });
      expect(sorted((await again.next()).names)).toEqual(['a', 'b']);
      again.close();
    } finally {
      await aged.close();
    }
  });
});

describe('rule 28: shutdown', () => {
  it('rule 28: stopping the server ends open streams with UNAVAILABLE at once, so clients move to another replica', { timeout: 10_000 }, async () => {
    const going = await startHarness();
    going.set(smallMesh());
    const s = going.client.sotw();
    s.send({ node: node('leaving'), type_url: CDS });
    await s.next();
    // A grace far beyond the test's timeout: shutdown completes only because
    // the server ends the streams itself, not by waiting the grace out.
    const closing = going.server.xds.close(60_000);
    expect((await s.ended(3000)).code).toBe(grpc.status.UNAVAILABLE);
    await closing;
    going.client.close();
    await going.server.stop();
  });
});

describe('bad input', () => {
  it.each(MODES)('malformed request bytes (%s) are INVALID_ARGUMENT', async (mode) => {
    const { s } = open(mode);
    s.call.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    expect((await s.ended()).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('malformed bytes after a good start are INVALID_ARGUMENT too, and other streams are unaffected', async () => {
    const good = h.client.sotw();
    good.send({ node: node('bystander'), type_url: CDS });
    good.ack(await good.next());
    const bad = h.client.sotw();
    bad.send({ node: node('garbler'), type_url: CDS });
    await bad.next();
    bad.call.write(Buffer.from([0x07]));
    expect((await bad.ended()).code).toBe(grpc.status.INVALID_ARGUMENT);
    h.set(smallMesh({ clusters: [cluster('a', { connect_timeout: '9s' }), cluster('b')] }));
    expect((await good.next()).type_url).toBe(CDS);
    good.close();
  });

  it('a NACK storm causes no resends and does not slow other streams', { timeout: 15_000 }, async () => {
    const stormer = h.client.sotw();
    stormer.send({ node: node('stormer'), type_url: CDS });
    const r = await stormer.next();
    const other = h.client.delta();
    other.send({ node: node('calm'), type_url: EDS, resource_names_subscribe: ['a'] });
    other.ack(await other.next());
    const before = metric(await h.metrics(), 'trellis_xds_nacks_total', { type: 'cds' });
    for (let i = 0; i < 500; i++) {
      stormer.send({ type_url: CDS, response_nonce: r.nonce, version_info: '', error_detail: { code: 3, message: `no ${i}` } });
    }
    // Mid-storm, an endpoint change for the other stream (not for the stormer's CDS)
    // reaches it (how fast is a figure: scripts/bench.sh interference prints it).
    h.set(smallMesh({ endpoints: [endpoints('a', [6001]), endpoints('b', [9002])] }));
    expect((await other.next(2000)).names).toEqual(['a']);
    expect(await eventually(async () => metric(await h.metrics(), 'trellis_xds_nacks_total', { type: 'cds' }) === before + 500, 5000)).toBe(true);
    expect(await stormer.silentFor(400)).toBe(true); // every NACK recorded, nothing resent
    // New content still reaches the stormer, once.
    h.set(smallMesh({ endpoints: [endpoints('a', [6001]), endpoints('b', [9002])], clusters: [cluster('a'), cluster('b', { connect_timeout: '8s' })] }));
    const got = await drain(stormer, 400);
    expect(got).toHaveLength(1);
    expect(got[0]!.version_info).not.toBe(r.version_info);
    stormer.close();
    other.close();
  });
});
