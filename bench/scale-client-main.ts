/**
 * The scale benchmark's sidecars (bench/scale.ts): one ADS stream per
 * workload, each with its own node id (`ns/pod`, so Trellis translates each
 * its own view), behaving like Envoy: CDS and LDS by wildcard, then EDS for
 * the endpoint sets its clusters name and RDS for `outbound`; every response
 * ACKed. State of the world or delta (`mode`).
 *
 * Cheap on purpose — the server's figures are the output and both share two
 * cores: responses are walked, not decoded; of a cluster only its name and
 * EDS service name are read. The timing is read on the server (sync status:
 * each stream's ACK times), so this process reports nothing but readiness.
 * Field numbers: envoy/service/discovery/v3/discovery.proto,
 * envoy/config/cluster/v3/cluster.proto, google/protobuf/any.proto.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { TypeUrl } from '../src/xds/type-urls.ts';

export interface ScaleClientConfig {
  address: string;
  workloads: string[];
  mode: 'sotw' | 'delta';
  /** streams per HTTP/2 connection (Envoy: one; more keeps the client process cheap) */
  perConnection: number;
}

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';
const LEN = 2;
const ROUTE = 'outbound';

type Writer = protobuf.Writer;
const str = (w: Writer, field: number, s: string) => w.uint32((field << 3) | LEN).string(s);

function node(w: Writer, field: number, id: string): void {
  w.uint32((field << 3) | LEN).fork();
  str(w, 1, id);
  str(w, 2, 'bench');
  str(w, 6, 'envoy');
  w.ldelim();
}

/** Of each resource (an Any's value, or a delta Resource's Any), the endpoint set it names: clusters only. */
function edsNameOfCluster(value: Uint8Array): string | undefined {
  const r = protobuf.Reader.create(value);
  let name = '';
  let eds = false;
  let service = '';
  while (r.pos < r.len) {
    const tag = r.uint32();
    const f = tag >>> 3;
    if (f === 1) name = r.string();
    else if (f === 2) eds = r.int32() === 3;
    else if (f === 3) {
      const sub = protobuf.Reader.create(r.bytes());
      while (sub.pos < sub.len) {
        const t = sub.uint32();
        if (t >>> 3 === 2) service = sub.string();
        else sub.skipType(t & 7);
      }
    } else r.skipType(tag & 7);
  }
  return eds ? service || name : undefined;
}

function anyValue(bytes: Uint8Array): Uint8Array {
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 2) return r.bytes();
    r.skipType(tag & 7);
  }
  return new Uint8Array();
}

interface Head {
  version: string;
  typeUrl: string;
  nonce: string;
  /** clusters only: the endpoint sets named (delta: by the resources in this response) */
  eds: string[];
  /** delta: names removed */
  removed: string[];
}

function scan(bytes: Buffer, delta: boolean): Head {
  const r = protobuf.Reader.create(bytes);
  const h: Head = { version: '', typeUrl: '', nonce: '', eds: [], removed: [] };
  const resources: Uint8Array[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const f = tag >>> 3;
    if (f === 1) h.version = r.string();
    else if (f === 2) resources.push(r.bytes());
    else if (f === 4) h.typeUrl = r.string();
    else if (f === 5) h.nonce = r.string();
    else if (delta && f === 6) h.removed.push(r.string());
    else r.skipType(tag & 7);
  }
  if (h.typeUrl === TypeUrl.Cluster) {
    for (const res of resources) {
      let any = res;
      if (delta) {
        // Resource { resource = 2 (Any) }
        const rr = protobuf.Reader.create(res);
        any = new Uint8Array();
        while (rr.pos < rr.len) {
          const t = rr.uint32();
          if (t >>> 3 === 2) any = rr.bytes();
          else rr.skipType(t & 7);
        }
      }
      const name = edsNameOfCluster(anyValue(any));
      if (name) h.eds.push(name);
    }
  }
  return h;
}

function sotwRequest(typeUrl: string, names: readonly string[], ack?: Head, nodeId?: string): Buffer {
  const w = protobuf.Writer.create();
  if (ack?.version) str(w, 1, ack.version);
  if (nodeId) node(w, 2, nodeId);
  for (const n of names) str(w, 3, n);
  str(w, 4, typeUrl);
  if (ack) str(w, 5, ack.nonce);
  return Buffer.from(w.finish());
}

function deltaRequest(typeUrl: string, subscribe: readonly string[], unsubscribe: readonly string[], nonce?: string, nodeId?: string): Buffer {
  const w = protobuf.Writer.create();
  if (nodeId) node(w, 1, nodeId);
  str(w, 2, typeUrl);
  for (const n of subscribe) str(w, 3, n);
  for (const n of unsubscribe) str(w, 4, n);
  if (nonce) str(w, 6, nonce);
  return Buffer.from(w.finish());
}

function openStream(client: grpc.Client, id: string, mode: 'sotw' | 'delta'): grpc.ClientDuplexStream<Buffer, Buffer> {
  const delta = mode === 'delta';
  const call = client.makeBidiStreamRequest(ADS + (delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources'), (b: Buffer) => b, (b: Buffer) => b, new grpc.Metadata());
  let edsNames = new Set<string>();
  call.on('data', (bytes: Buffer) => {
    const h = scan(bytes, delta);
    if (!delta) {
      const names = h.typeUrl === TypeUrl.Endpoint ? [...edsNames] : h.typeUrl === TypeUrl.Route ? [ROUTE] : [];
      call.write(sotwRequest(h.typeUrl, names, h));
      if (h.typeUrl === TypeUrl.Cluster) {
        const next = new Set(h.eds);
        if (next.size !== edsNames.size || [...next].some((n) => !edsNames.has(n))) {
          edsNames = next;
          call.write(sotwRequest(TypeUrl.Endpoint, [...edsNames]));
        }
      }
      return;
    }
    call.write(deltaRequest(h.typeUrl, [], [], h.nonce));
    if (h.typeUrl === TypeUrl.Cluster) {
      const add = h.eds.filter((n) => !edsNames.has(n));
      for (const n of add) edsNames.add(n);
      // A removed cluster's endpoint set is no longer wanted (names: cluster = EDS name but for zonal variants).
      const drop = h.removed.filter((n) => edsNames.delete(n));
      if (add.length > 0 || drop.length > 0) call.write(deltaRequest(TypeUrl.Endpoint, add, drop));
    }
  });
  call.on('error', () => {});
  if (delta) {
    call.write(deltaRequest(TypeUrl.Cluster, [], [], undefined, id));
    call.write(deltaRequest(TypeUrl.Listener, [], []));
    call.write(deltaRequest(TypeUrl.Route, [ROUTE], []));
  } else {
    call.write(sotwRequest(TypeUrl.Cluster, [], undefined, id));
    call.write(sotwRequest(TypeUrl.Listener, []));
    call.write(sotwRequest(TypeUrl.Route, [ROUTE]));
  }
  return call;
}

if (!process.send) {
  process.stderr.write('bench/scale-client-main.ts is started by bench/scale.ts\n');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
process.once('message', (raw: unknown) => {
  const config = raw as ScaleClientConfig;
  const clients: grpc.Client[] = [];
  config.workloads.forEach((w, i) => {
    if (i % config.perConnection === 0) {
      clients.push(new grpc.Client(config.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1 }));
    }
    openStream(clients.at(-1)!, w, config.mode);
  });
  process.send!('started');
});
