/**
 * The scale benchmark's sidecars (bench/scale.ts): one ADS stream per
 * workload, each with its own node id (`ns/pod`, so Trellis translates each
 * its own view), behaving like Envoy: CDS and LDS by wildcard, then EDS for
 * the endpoint sets its clusters name and RDS for `outbound`; every response
 * ACKed. State of the world or delta (`mode`).
 *
 * Cheap on purpose — the server's figures are the output and both share two
 * cores: responses are walked by hand, not decoded; of a cluster only its
 * name and EDS service name are read; an EDS name list is encoded once per
 * change, not per ACK. The timing is read on the server (sync status:
 * each stream's ACK times), so this process reports nothing but readiness.
 * Field numbers: envoy/service/discovery/v3/discovery.proto,
 * envoy/config/cluster/v3/cluster.proto, google/protobuf/any.proto.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { TypeUrl } from '../src/xds/type-urls.ts';
import { ENVOY_FLOW_WINDOW } from './options.ts';

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

/*
 * Responses are walked by hand over the received buffer (offsets, no
 * protobufjs Reader or sub-buffer per resource): with 1,000 streams each
 * receiving ~1,200 clusters per CDS response, the client's decoding was most
 * of its CPU and it shares the two cores with the server it measures.
 */
let at = 0;

function varint(b: Buffer): number {
  let x = 0;
  for (let shift = 0; ; shift += 7) {
    const c = b[at++]!;
    x += (c & 0x7f) * 2 ** shift;
    if (c < 0x80) return x;
  }
}

function skip(b: Buffer, wire: number): void {
  if (wire === 0) varint(b);
  else if (wire === 2) {
    const n = varint(b); // not `at += varint(b)`: that reads `at` before varint moves it
    at += n;
  }
  else if (wire === 1) at += 8;
  else if (wire === 5) at += 4;
  else throw new Error(`wire type ${wire}`);
}

/** The length-delimited field `field` inside [start, end): its [start, end), or undefined. */
function sub(b: Buffer, start: number, end: number, field: number): [number, number] | undefined {
  at = start;
  while (at < end) {
    const tag = varint(b);
    if (tag >>> 3 === field && (tag & 7) === LEN) {
      const n = varint(b);
      return [at, at + n];
    }
    skip(b, tag & 7);
  }
  return undefined;
}

/** A Cluster in [start, end): the endpoint set it names if it is an EDS cluster. */
function edsNameOfCluster(b: Buffer, start: number, end: number): string | undefined {
  let name = '';
  let eds = false;
  let config: [number, number] | undefined;
  at = start;
  while (at < end) {
    const tag = varint(b);
    const f = tag >>> 3;
    if (f === 1) {
      const n = varint(b);
      name = b.toString('utf8', at, at + n);
      at += n;
    } else if (f === 2) eds = varint(b) === 3;
    else if (f === 3) {
      const n = varint(b);
      config = [at, at + n];
      at += n;
    } else skip(b, tag & 7);
  }
  if (!eds) return undefined;
  const service = config && sub(b, config[0], config[1], 2);
  return service ? b.toString('utf8', service[0], service[1]) : name;
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

function scan(b: Buffer, delta: boolean): Head {
  const h: Head = { version: '', typeUrl: '', nonce: '', eds: [], removed: [] };
  const resources: number[] = [];
  const str = () => {
    const n = varint(b);
    at += n;
    return b.toString('latin1', at - n, at);
  };
  at = 0;
  while (at < b.length) {
    const tag = varint(b);
    const f = tag >>> 3;
    if (f === 1) h.version = str();
    else if (f === 2) {
      const n = varint(b);
      resources.push(at, at + n);
      at += n;
    } else if (f === 4) h.typeUrl = str();
    else if (f === 5) h.nonce = str();
    else if (delta && f === 6) {
      const n = varint(b);
      h.removed.push(b.toString('utf8', at, at + n));
      at += n;
    } else skip(b, tag & 7);
  }
  if (h.typeUrl === TypeUrl.Cluster) {
    for (let i = 0; i < resources.length; i += 2) {
      // delta: Resource { resource = 2 (Any) }; Any { value = 2 }
      const any = delta ? sub(b, resources[i]!, resources[i + 1]!, 2) : [resources[i]!, resources[i + 1]!];
      const value = any && sub(b, any[0], any[1], 2);
      const name = value && edsNameOfCluster(b, value[0], value[1]);
      if (name) h.eds.push(name);
    }
  }
  return h;
}

/** A request's resource_names (field 3), encoded once per list: an EDS ACK repeats ~1,200 names. */
function namesField(names: readonly string[]): Buffer {
  const w = protobuf.Writer.create();
  for (const n of names) str(w, 3, n);
  return Buffer.from(w.finish());
}

const NO_NAMES: Buffer = Buffer.alloc(0);
const ROUTE_NAMES = namesField([ROUTE]);

function sotwRequest(typeUrl: string, names: Buffer, ack?: Head, nodeId?: string): Buffer {
  const w = protobuf.Writer.create();
  if (ack?.version) str(w, 1, ack.version);
  if (nodeId) node(w, 2, nodeId);
  const head = w.finish();
  const tail = protobuf.Writer.create();
  str(tail, 4, typeUrl);
  if (ack) str(tail, 5, ack.nonce);
  return Buffer.concat([head, names, tail.finish()]);
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
  let edsField = NO_NAMES;
  call.on('data', (bytes: Buffer) => {
    const h = scan(bytes, delta);
    if (!delta) {
      const names = h.typeUrl === TypeUrl.Endpoint ? edsField : h.typeUrl === TypeUrl.Route ? ROUTE_NAMES : NO_NAMES;
      call.write(sotwRequest(h.typeUrl, names, h));
      if (h.typeUrl === TypeUrl.Cluster) {
        const next = new Set(h.eds);
        if (next.size !== edsNames.size || [...next].some((n) => !edsNames.has(n))) {
          edsNames = next;
          edsField = namesField([...edsNames]);
          call.write(sotwRequest(TypeUrl.Endpoint, edsField));
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
    call.write(sotwRequest(TypeUrl.Cluster, NO_NAMES, undefined, id));
    call.write(sotwRequest(TypeUrl.Listener, NO_NAMES));
    call.write(sotwRequest(TypeUrl.Route, ROUTE_NAMES));
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
      clients.push(new grpc.Client(config.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1, 'grpc-node.flow_control_window': ENVOY_FLOW_WINDOW }));
    }
    openStream(clients.at(-1)!, w, config.mode);
  });
  process.send!('started');
});
