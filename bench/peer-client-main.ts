/**
 * One load-generator process of the peer benchmark (bench/peer.ts): its share
 * of ADS streams, opened against Trellis or the go-control-plane peer alike
 * (real gRPC over HTTP/2, `perConnection` streams per connection), each with
 * its own node id `<nodePrefix><index>`, state of the world or delta. Like an
 * Envoy: CDS and LDS by wildcard, EDS for every cluster by name, RDS for the
 * route; every response ACKed.
 *
 * The timing is taken here, on the client, so both servers are measured the
 * same way: `arm` a type, and each stream notes when it ACKs its next response
 * of that type (the time it wrote the ACK, on the clock bench/ipc.ts shares
 * between processes). Cheap on purpose, as bench/load-generator-main.ts:
 * responses are scanned, never decoded. Field numbers:
 * envoy/service/discovery/v3/discovery.proto.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { TypeUrl } from '../src/xds/type-urls.ts';
import { now } from './ipc.ts';
import { ackHead, nodeField, requestTail } from './request-bytes.ts';

export interface PeerClientConfig {
  address: string;
  /** node ids <nodePrefix><first> .. <nodePrefix><first + count - 1> */
  nodePrefix: string;
  first: number;
  count: number;
  mode: 'sotw' | 'delta';
  perConnection: number;
  /** streams opened but not yet synced, at most: the ramp of the initial sync */
  window: number;
  /** HTTP/2 receive window, bytes (bench/options.ts ENVOY_FLOW_WINDOW) */
  flowWindow: number;
  edsNames: string[];
  routeName: string;
  syncTimeoutMs: number;
}

export type PeerClientRequest =
  | { id: number; cmd: 'start' }
  | { id: number; cmd: 'arm'; typeUrl: string }
  | { id: number; cmd: 'await'; timeoutMs: number }
  | { id: number; cmd: 'stop' };

export interface PeerClientSynced {
  id: number;
  synced: number;
  failed: number;
  /** when the last of its streams became synced */
  at: number;
  errors: string[];
}

export interface PeerClientAwaited {
  id: number;
  /** per stream that got the armed type: when it ACKed */
  times: number[];
  /** resources and bytes in those responses, summed over the streams */
  resources: number;
  bytes: number;
  missing: number;
  errors: string[];
}

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';
const TYPES = [TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route] as const;
const EDS = 1;
const ALL = 0b1111;
const LEN = 2;

interface Head {
  version: string;
  typeUrl: string;
  nonce: string;
  resources: number;
}

/** DiscoveryResponse and DeltaDiscoveryResponse share these numbers: version 1, resources 2, type_url 4, nonce 5. */
function scan(bytes: Buffer): Head {
  const r = protobuf.Reader.create(bytes);
  const h: Head = { version: '', typeUrl: '', nonce: '', resources: 0 };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const f = tag >>> 3;
    if (f === 1) h.version = r.string();
    else if (f === 4) h.typeUrl = r.string();
    else if (f === 5) h.nonce = r.string();
    else {
      if (f === 2) h.resources++;
      r.skipType(tag & 7);
    }
  }
  return h;
}

/** DeltaDiscoveryRequest: node 1, type_url 2, resource_names_subscribe 3, response_nonce 6. */
function deltaRequest(typeUrl: string, subscribe: readonly string[], nonce?: string, nodeId?: string): Buffer {
  const w = protobuf.Writer.create();
  if (nodeId) w.uint32((1 << 3) | LEN).fork().uint32((1 << 3) | LEN).string(nodeId).uint32((2 << 3) | LEN).string('bench').ldelim();
  w.uint32((2 << 3) | LEN).string(typeUrl);
  for (const n of subscribe) w.uint32((3 << 3) | LEN).string(n);
  if (nonce) w.uint32((6 << 3) | LEN).string(nonce);
  return Buffer.from(w.finish());
}

if (!process.send) {
  process.stderr.write('bench/peer-client-main.ts is started by bench/peer.ts (scripts/bench.sh peer)\n');
  process.exit(2);
}
const send = (m: unknown) => process.send!(m);
process.on('disconnect', () => process.exit(0));

// The first message is the config; requests follow at once, so one listener takes both (a second
// listener attached after an await would miss a request sent in the same batch).
let config: PeerClientConfig;
let delta = false;
let names: ReadonlyArray<readonly string[]> = [];
let tails: Buffer[] = [];
function configure(c: PeerClientConfig): void {
  config = c;
  delta = c.mode === 'delta';
  names = [[], c.edsNames, [], [c.routeName]];
  tails = names.map((n, t) => requestTail(TYPES[t]!, n));
}
const typeIndex = new Map<string, number>(TYPES.map((t, i) => [t, i]));

const clients: grpc.Client[] = [];
const calls: grpc.ClientDuplexStream<Buffer, Buffer>[] = [];
const errors: string[] = [];
const noteError = (m: string) => void (errors.length < 5 && !errors.includes(m) && errors.push(m));

let opened = 0;
let synced = 0;
let failed = 0;
let lastSyncAt = 0;
let stopping = false;
/** The armed type's index, and what the streams noted since it was armed. */
let armed = -1;
let armedTimes: number[] = [];
let armedResources = 0;
let armedBytes = 0;
const liveArmed = new Set<number>();
/** Streams that have not ended. */
const alive = new Set<number>();

function openStream(index: number): void {
  if (index % config.perConnection === 0) {
    clients.push(new grpc.Client(config.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1, 'grpc-node.flow_control_window': config.flowWindow }));
  }
  const method = ADS + (delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources');
  const call = clients.at(-1)!.makeBidiStreamRequest(method, (b: Buffer) => b, (b: Buffer) => b, new grpc.Metadata());
  calls.push(call);
  alive.add(index);
  let acked = 0;
  let endpointSets = 0;
  let isSynced = false;
  let done = false;
  call.on('data', (bytes: Buffer) => {
    const h = scan(bytes);
    const t = typeIndex.get(h.typeUrl);
    if (t === undefined) return noteError(`response of unexpected type ${h.typeUrl}`);
    call.write(delta ? deltaRequest(h.typeUrl, [], h.nonce) : Buffer.concat([ackHead(h.version, h.nonce), tails[t]!]));
    const at = now();
    if (t === armed && liveArmed.delete(index)) {
      armedTimes.push(at);
      armedResources += h.resources;
      armedBytes += bytes.length;
      checkAwait();
    }
    acked |= 1 << t;
    if (t === EDS) endpointSets += h.resources;
    if (!isSynced && acked === ALL && endpointSets >= config.edsNames.length) {
      isSynced = true;
      synced++;
      lastSyncAt = at;
      afterSettled();
    }
  });
  const end = (message: string) => {
    if (done || stopping) return;
    done = true;
    failed++;
    noteError(message);
    alive.delete(index);
    liveArmed.delete(index);
    if (isSynced) synced--;
    else afterSettled();
    checkAwait();
  };
  call.on('error', (e: grpc.ServiceError) => end(`stream ended: ${grpc.status[e.code] ?? e.code} ${e.details ?? e.message}`));
  call.on('end', () => end('stream ended by the server'));
  const id = `${config.nodePrefix}${config.first + index}`;
  for (let t = 0; t < TYPES.length; t++) {
    if (delta) call.write(deltaRequest(TYPES[t]!, names[t]!, undefined, t === 0 ? id : undefined));
    else call.write(t === 0 ? Buffer.concat([nodeField(id), tails[t]!]) : tails[t]!);
  }
}

let onSynced: ((m: Omit<PeerClientSynced, 'id'>) => void) | undefined;

function afterSettled(): void {
  if (opened < config.count) return openStream(opened++);
  if (synced + failed >= config.count) onSynced?.({ synced, failed, at: lastSyncAt, errors });
}

let onAwait: (() => void) | undefined;
function checkAwait(): void {
  if (liveArmed.size === 0) onAwait?.();
}

process.on('message', (raw: unknown) => {
  if (!config) return configure(raw as PeerClientConfig);
  const req = raw as PeerClientRequest;
  switch (req.cmd) {
    case 'start': {
      const timer = setTimeout(() => {
        noteError(`sync timeout: ${synced} of ${config.count} streams synced after ${config.syncTimeoutMs} ms`);
        onSynced?.({ synced, failed, at: lastSyncAt, errors });
      }, config.syncTimeoutMs);
      onSynced = (m) => {
        onSynced = undefined;
        clearTimeout(timer);
        send({ id: req.id, ...m } satisfies PeerClientSynced);
      };
      while (opened < Math.min(config.window, config.count)) openStream(opened++);
      return;
    }
    case 'arm': {
      armed = TYPES.indexOf(req.typeUrl as (typeof TYPES)[number]);
      armedTimes = [];
      armedResources = 0;
      armedBytes = 0;
      // Streams that have ended are not waited for.
      liveArmed.clear();
      for (const i of alive) liveArmed.add(i);
      send({ id: req.id });
      return;
    }
    case 'await': {
      const reply = () => {
        onAwait = undefined;
        clearTimeout(timer);
        send({ id: req.id, times: armedTimes, resources: armedResources, bytes: armedBytes, missing: liveArmed.size, errors } satisfies PeerClientAwaited);
        armed = -1;
      };
      const timer = setTimeout(reply, req.timeoutMs);
      onAwait = reply;
      checkAwait();
      return;
    }
    case 'stop': {
      stopping = true;
      for (const c of calls) c.cancel();
      for (const c of clients) c.close();
      setTimeout(() => process.exit(0), 200).unref();
      return;
    }
  }
});
send({ event: 'ready' });
