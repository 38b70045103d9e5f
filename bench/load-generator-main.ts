/**
 * One load-generator process: opens its share of ADS streams (real gRPC over
 * HTTP/2, `perConnection` streams per connection, one grpc-js channel with a
 * private subchannel pool per connection) and behaves like a SotW client:
 * subscribes to CDS (wildcard), EDS (every cluster by name), LDS (wildcard)
 * and RDS (the route name), and ACKs every response with its version_info,
 * its nonce and the same names.
 *
 * To stay cheap it never decodes resources: it reads only the top-level
 * fields of a DiscoveryResponse (version_info = 1, resources = 2 counted and
 * skipped, type_url = 4, nonce = 5), and each ACK is a small header plus the
 * names, encoded once per type. Field numbers:
 * envoy/service/discovery/v3/discovery.proto.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { TypeUrl } from '../src/xds/type-urls.ts';
import {
  now,
  type GeneratorAwaited,
  type GeneratorConfig,
  type GeneratorReport,
  type GeneratorRequest,
  type GeneratorSynced,
} from './ipc.ts';
import { ackHead, nodeField, requestTail } from './request-bytes.ts';

const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const TYPES = [TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route] as const;
const EDS = 1;
const ALL_ACKED = 0b1111;

if (!process.send) {
  process.stderr.write('bench/load-generator-main.ts is started by bench/run.ts (npm run bench)\n');
  process.exit(2);
}
const send = (m: unknown) => process.send!(m);
process.on('disconnect', () => process.exit(0));

const config = await new Promise<GeneratorConfig>((resolve) => process.once('message', (m) => resolve(m as GeneratorConfig)));

// --- request bytes ---------------------------------------------------------

const tails = [
  requestTail(TypeUrl.Cluster, []),
  requestTail(TypeUrl.Endpoint, config.edsNames),
  requestTail(TypeUrl.Listener, []),
  requestTail(TypeUrl.Route, [config.routeName]),
];

interface ResponseHead {
  version: string;
  typeUrl: string;
  nonce: string;
  resources: number;
}

function scanResponse(bytes: Buffer): ResponseHead {
  const r = protobuf.Reader.create(bytes);
  const head: ResponseHead = { version: '', typeUrl: '', nonce: '', resources: 0 };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        head.version = r.string();
        break;
      case 4:
        head.typeUrl = r.string();
        break;
      case 5:
        head.nonce = r.string();
        break;
      case 2:
        head.resources++;
        r.skipType(tag & 7);
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return head;
}

// --- streams ---------------------------------------------------------------

const identity = (b: Buffer) => b;
const connections = Math.max(1, Math.ceil(config.streams / config.perConnection));
const clients: grpc.Client[] = [];
for (let c = 0; c < connections; c++) {
  clients.push(
    new grpc.Client(config.address, grpc.credentials.createInsecure(), {
      // A private subchannel pool: this channel gets its own HTTP/2 connection.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc-node.flow_control_window': config.flowWindow,
    }),
  );
}

const typeIndex = new Map<string, number>(TYPES.map((t, i) => [t, i]));
/** EDS version -> ACK times and resources per response, one entry per stream. */
const edsAcks = new Map<string, { times: number[]; resources: number[] }>();
const errors: string[] = [];
let opened = 0;
let synced = 0;
let failed = 0;
let bytesIn = 0;
let responses = 0;
let lastSyncAt = 0;
const calls: grpc.ClientDuplexStream<Buffer, Buffer>[] = [];

function noteError(message: string): void {
  if (errors.length < 5 && !errors.includes(message)) errors.push(message);
}

function openStream(index: number): void {
  const client = clients[index % connections]!;
  const call = client.makeBidiStreamRequest(ADS_PATH, identity, identity, new grpc.Metadata());
  calls.push(call);
  let acked = 0;
  let endpointSets = 0;
  let isSynced = false;
  let lastEdsVersion = '';
  let done = false;

  call.on('data', (bytes: Buffer) => {
    bytesIn += bytes.length;
    responses++;
    const head = scanResponse(bytes);
    const t = typeIndex.get(head.typeUrl);
    if (t === undefined) return noteError(`response of unexpected type ${head.typeUrl}`);
    call.write(Buffer.concat([ackHead(head.version, head.nonce), tails[t]!]));
    const at = now();
    acked |= 1 << t;
    if (t === EDS) {
      endpointSets += head.resources;
      if (head.version !== lastEdsVersion) {
        lastEdsVersion = head.version;
        let entry = edsAcks.get(head.version);
        if (!entry) edsAcks.set(head.version, (entry = { times: [], resources: [] }));
        entry.times.push(at);
        entry.resources.push(head.resources);
        checkAwaits();
      }
    }
    if (!isSynced && acked === ALL_ACKED && endpointSets >= config.expectEndpoints) {
      isSynced = true;
      synced++;
      lastSyncAt = at;
      afterSettled();
    }
  });
  const end = (message: string) => {
    if (done) return;
    done = true;
    if (stopping) return;
    failed++;
    noteError(message);
    if (!isSynced) afterSettled();
    else synced--;
    checkAwaits();
  };
  call.on('error', (e: grpc.ServiceError) => end(`stream ended: ${grpc.status[e.code] ?? e.code} ${e.details ?? e.message}`));
  call.on('end', () => end('stream ended by the server'));

  // Like a SotW ADS client starting up: one request per type, the node on the first.
  for (let t = 0; t < TYPES.length; t++) {
    call.write(t === 0 ? Buffer.concat([nodeField(`bench-g${config.generator}-s${index}`), tails[t]!]) : tails[t]!);
  }
}

let syncedReported = false;

/** A stream synced or failed: open the next one, report when all settled. */
function afterSettled(): void {
  if (opened < config.streams) {
    openStream(opened++);
    return;
  }
  if (!syncedReported && synced + failed >= config.streams) {
    syncedReported = true;
    const m: GeneratorSynced = { event: 'synced', generator: config.generator, synced, failed, at: lastSyncAt, errors };
    send(m);
  }
}

// --- awaiting a change -----------------------------------------------------

interface Await {
  req: Extract<GeneratorRequest, { cmd: 'await' }>;
  timer: NodeJS.Timeout;
}
const awaits: Await[] = [];

function checkAwaits(): void {
  for (const a of [...awaits]) {
    const entry = edsAcks.get(a.req.version);
    if ((entry?.times.length ?? 0) >= synced) settleAwait(a);
  }
}

function settleAwait(a: Await): void {
  clearTimeout(a.timer);
  awaits.splice(awaits.indexOf(a), 1);
  const entry = edsAcks.get(a.req.version) ?? { times: [], resources: [] };
  edsAcks.delete(a.req.version);
  const m: GeneratorAwaited = {
    id: a.req.id,
    version: a.req.version,
    ackTimes: entry.times,
    resources: entry.resources,
    missing: Math.max(0, synced - entry.times.length),
  };
  send(m);
}

let stopping = false;

process.on('message', (raw: unknown) => {
  const req = raw as GeneratorRequest;
  switch (req.cmd) {
    case 'start': {
      const first = Math.min(config.window, config.streams);
      while (opened < first) openStream(opened++);
      if (config.streams === 0) afterSettled();
      setTimeout(() => {
        if (syncedReported) return;
        noteError(`sync timeout: ${synced} of ${config.streams} streams synced after ${config.syncTimeoutMs} ms`);
        syncedReported = true;
        const m: GeneratorSynced = { event: 'synced', generator: config.generator, synced, failed, at: lastSyncAt, errors };
        send(m);
      }, config.syncTimeoutMs).unref();
      return;
    }
    case 'report': {
      const m: GeneratorReport = {
        id: req.id,
        cpu: process.cpuUsage(),
        rss: process.memoryUsage().rss,
        open: opened - failed,
        synced,
        failed,
        connections,
        bytesIn,
        responses,
        errors,
      };
      send(m);
      return;
    }
    case 'await': {
      // Initial-sync versions are no longer interesting.
      for (const v of edsAcks.keys()) if (v !== req.version && !awaits.some((a) => a.req.version === v)) edsAcks.delete(v);
      const a: Await = { req, timer: setTimeout(() => settleAwait(a), req.timeoutMs) };
      awaits.push(a);
      checkAwaits();
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

send({ event: 'ready', generator: config.generator });
