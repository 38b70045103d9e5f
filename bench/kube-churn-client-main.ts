/**
 * One client process of bench/kube-churn.ts: opens its share of ADS streams
 * (real gRPC, `perConnection` streams per HTTP/2 connection) as Envoy
 * sidecars of the bench pods (node id "bench/pod-N", user agent "envoy"),
 * subscribes CDS and LDS (wildcard), EDS (every service's outbound cluster)
 * and RDS ("outbound"), and ACKs every response at once.
 *
 * Unlike bench/load-generator-main.ts it decodes EDS: each churn update k
 * writes an endpoint address that encodes k (10.(100 + k>>16).(k>>8 & 255).(k & 255))
 * into the EndpointSlice of service k mod S, so the newest k a
 * ClusterLoadAssignment carries says which updates a stream has received.
 * When a stream ACKs a CLA of service s whose newest k rose from a to b,
 * every update of s in (a, b] has reached it at that moment (a later update
 * of the same slice, coalesced, carries the earlier one's effect away).
 * Receipt times are kept per (update, stream); the update times arrive from
 * the orchestrator at the end and latencies go back as a 1 ms histogram.
 *
 * Field numbers: envoy/service/discovery/v3/discovery.proto (DiscoveryResponse
 * version_info 1, resources 2, type_url 4, nonce 5), google/protobuf/any.proto
 * (value 2), envoy/config/endpoint/v3/endpoint.proto (ClusterLoadAssignment
 * cluster_name 1, endpoints 2; LocalityLbEndpoints lb_endpoints 2;
 * LbEndpoint endpoint 1; Endpoint address 1), envoy/config/core/v3/address.proto
 * (Address socket_address 1; SocketAddress address 2), base.proto (Node id 1,
 * cluster 2, user_agent_name 6).
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { TypeUrl } from '../src/xds/type-urls.ts';
import { now } from './ipc.ts';
import { ackHead, nodeField, requestTail } from './request-bytes.ts';

const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const TYPES = [TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route] as const;
const EDS = 1;
const ALL_ACKED = 0b1111;
const LEN = 2;
export const HISTOGRAM_MS = 120_000;

export interface ChurnClientConfig {
  generator: number;
  address: string;
  /** global index of this process's first stream */
  firstStream: number;
  streams: number;
  perConnection: number;
  window: number;
  /** EDS names, index = service number */
  edsNames: string[];
  routeName: string;
  /** updates that will be written (k = 0..updates-1, service k mod edsNames.length) */
  updates: number;
  syncTimeoutMs: number;
}

export type ChurnClientRequest =
  | { id: number; cmd: 'start' }
  | { id: number; cmd: 'report' }
  /** the times the updates were written (ms, `now()` clock): latencies come back */
  | { id: number; cmd: 'results'; writtenAt: number[]; measuredFrom: number }
  | { id: number; cmd: 'stop' };

export interface ChurnClientReport {
  id: number;
  cpu: { user: number; system: number };
  rss: number;
  synced: number;
  failed: number;
  edsResponses: number;
  edsResources: number;
  errors: string[];
}

export interface ChurnClientResults {
  id: number;
  /** counts per 1 ms bucket of change→ACK (the last bucket holds everything beyond) */
  histogram: number[];
  samples: number;
  /** (update, stream) pairs never received */
  missing: number;
  maxMs: number;
}

if (!process.send) {
  process.stderr.write('bench/kube-churn-client-main.ts is started by bench/kube-churn.ts\n');
  process.exit(2);
}
const send = (m: unknown) => process.send!(m);
process.on('disconnect', () => process.exit(0));
const config = await new Promise<ChurnClientConfig>((resolve) => process.once('message', (m) => resolve(m as ChurnClientConfig)));

const tails = [requestTail(TypeUrl.Cluster, []), requestTail(TypeUrl.Endpoint, config.edsNames), requestTail(TypeUrl.Listener, []), requestTail(TypeUrl.Route, [config.routeName])];

/** Fields of one message: calls `f(field, reader)` for LEN fields, skips the rest. */
function each(bytes: Uint8Array, f: (field: number, sub: Uint8Array) => unknown): void {
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if ((tag & 7) === LEN) f(tag >>> 3, r.bytes());
    else r.skipType(tag & 7);
  }
}

const serviceIndex = new Map(config.edsNames.map((n, i) => [n, i]));
const text = new TextDecoder();

/** k of a marker address, or -1. */
function markerOf(address: string): number {
  const p = address.split('.');
  if (p.length !== 4 || p[0] !== '10') return -1;
  const x = Number(p[1]);
  if (!(x >= 100)) return -1;
  return ((x - 100) << 16) | (Number(p[2]) << 8) | Number(p[3]);
}

/** The head of a response and, for EDS, [service, newest k] of each ClusterLoadAssignment. */
function scan(bytes: Uint8Array): { version: string; nonce: string; typeUrl: string; resources: number; clas: Array<[number, number]> } {
  const out = { version: '', nonce: '', typeUrl: '', resources: 0, clas: [] as Array<[number, number]> };
  const anys: Uint8Array[] = [];
  each(bytes, (field, sub) => {
    if (field === 1) out.version = text.decode(sub);
    else if (field === 4) out.typeUrl = text.decode(sub);
    else if (field === 5) out.nonce = text.decode(sub);
    else if (field === 2) anys.push(sub);
  });
  out.resources = anys.length;
  if (out.typeUrl !== TypeUrl.Endpoint) return out;
  for (const any of anys) {
    each(any, (af, value) => {
      if (af !== 2) return;
      let service = -1;
      let newest = -1;
      each(value, (cf, cv) => {
        if (cf === 1) service = serviceIndex.get(text.decode(cv)) ?? -1;
        else if (cf === 2) {
          // LocalityLbEndpoints.lb_endpoints → LbEndpoint.endpoint → Endpoint.address → Address.socket_address → SocketAddress.address
          each(cv, (lf, lbe) => lf === 2 && each(lbe, (ef, ep) => ef === 1 && each(ep, (xf, addr) => xf === 1 && each(addr, (sf, sock) => sf === 1 && each(sock, (kf, a) => {
            if (kf === 2) newest = Math.max(newest, markerOf(text.decode(a)));
          })))));
        }
      });
      if (service >= 0) out.clas.push([service, newest]);
    });
  }
  return out;
}

const S = config.edsNames.length;
/** receipt time per (update k, local stream i), NaN = not received; relative to `base` */
const base = now();
const receivedAt = new Float32Array(config.updates * config.streams).fill(NaN);
const connections = Math.max(1, Math.ceil(config.streams / config.perConnection));
const clients: grpc.Client[] = [];
for (let c = 0; c < connections; c++) {
  clients.push(new grpc.Client(config.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 }));
}
const typeIndex = new Map<string, number>(TYPES.map((t, i) => [t, i]));
const errors: string[] = [];
const calls: grpc.ClientDuplexStream<Buffer, Buffer>[] = [];
let opened = 0;
let synced = 0;
let failed = 0;
let edsResponses = 0;
let edsResources = 0;
let syncedReported = false;
let stopping = false;

function noteError(m: string): void {
  if (errors.length < 5 && !errors.includes(m)) errors.push(m);
}

function openStream(i: number): void {
  const call = clients[i % connections]!.makeBidiStreamRequest(ADS_PATH, (b: Buffer) => b, (b: Buffer) => b, new grpc.Metadata());
  calls.push(call);
  let acked = 0;
  let isSynced = false;
  let done = false;
  const seen = new Set<number>();
  /** newest k received per service */
  const newest = new Int32Array(S).fill(-1);
  call.on('data', (bytes: Buffer) => {
    const head = scan(bytes);
    const t = typeIndex.get(head.typeUrl);
    if (t === undefined) return noteError(`response of unexpected type ${head.typeUrl}`);
    call.write(Buffer.concat([ackHead(head.version, head.nonce), tails[t]!]));
    const at = now() - base;
    acked |= 1 << t;
    if (t === EDS) {
      edsResponses++;
      edsResources += head.resources;
      for (const [s, k] of head.clas) {
        seen.add(s);
        if (k <= newest[s]!) continue;
        // Updates of s in (newest, k]: s, s+S, s+2S, ...
        const first = newest[s]! < 0 ? s : newest[s]! + S;
        for (let u = first; u <= k && u < config.updates; u += S) if (Number.isNaN(receivedAt[u * config.streams + i]!)) receivedAt[u * config.streams + i] = at;
        newest[s] = k;
      }
    }
    if (!isSynced && acked === ALL_ACKED && seen.size >= S) {
      isSynced = true;
      synced++;
      settled();
    }
  });
  const end = (m: string) => {
    if (done || stopping) return;
    done = true;
    failed++;
    noteError(m);
    if (!isSynced) settled();
    else synced--;
  };
  call.on('error', (e: grpc.ServiceError) => end(`stream ended: ${grpc.status[e.code] ?? e.code} ${e.details ?? e.message}`));
  call.on('end', () => end('stream ended by the server'));
  for (let t = 0; t < TYPES.length; t++) call.write(t === 0 ? Buffer.concat([nodeField(`bench/pod-${config.firstStream + i}`, 'envoy'), tails[t]!]) : tails[t]!);
}

function settled(): void {
  if (opened < config.streams) {
    openStream(opened++);
    return;
  }
  if (!syncedReported && synced + failed >= config.streams) {
    syncedReported = true;
    send({ event: 'synced', generator: config.generator, synced, failed, at: now(), errors });
  }
}

process.on('message', (raw: unknown) => {
  const req = raw as ChurnClientRequest;
  switch (req.cmd) {
    case 'start': {
      while (opened < Math.min(config.window, config.streams)) openStream(opened++);
      setTimeout(() => {
        if (syncedReported) return;
        syncedReported = true;
        noteError(`sync timeout: ${synced} of ${config.streams} streams synced after ${config.syncTimeoutMs} ms`);
        send({ event: 'synced', generator: config.generator, synced, failed, at: now(), errors });
      }, config.syncTimeoutMs).unref();
      return;
    }
    case 'report': {
      const m: ChurnClientReport = { id: req.id, cpu: process.cpuUsage(), rss: process.memoryUsage().rss, synced, failed, edsResponses, edsResources, errors };
      send(m);
      return;
    }
    case 'results': {
      const histogram = new Array<number>(HISTOGRAM_MS + 1).fill(0);
      let samples = 0;
      let missing = 0;
      let maxMs = 0;
      for (let u = 0; u < Math.min(config.updates, req.writtenAt.length); u++) {
        const written = req.writtenAt[u]!;
        if (!(written >= req.measuredFrom)) continue; // not written (the run stopped early)
        for (let i = 0; i < config.streams; i++) {
          const at = receivedAt[u * config.streams + i]!;
          if (Number.isNaN(at)) {
            missing++;
            continue;
          }
          const ms = Math.max(0, at + base - written);
          histogram[Math.min(HISTOGRAM_MS, Math.floor(ms))]!++;
          samples++;
          if (ms > maxMs) maxMs = ms;
        }
      }
      const m: ChurnClientResults = { id: req.id, histogram, samples, missing, maxMs };
      send(m);
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
