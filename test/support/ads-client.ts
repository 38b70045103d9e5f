/**
 * A raw xDS client for protocol tests: a real gRPC stream to the server that
 * sends exactly the requests a test writes and hands back decoded responses.
 */
import * as grpc from '@grpc/grpc-js';
import {
  decodeDeltaResponse,
  decodeSotwResponse,
  encodeDeltaRequest,
  encodeSotwRequest,
  type DeltaRequest,
  type SotwRequest,
} from '../../src/xds/wire.ts';

export type SotwResponseView = ReturnType<typeof decodeSotwResponse> & { names: string[]; bytes: number };
export type DeltaResponseView = ReturnType<typeof decodeDeltaResponse> & { names: string[]; bytes: number };

const id = (b: Buffer) => b;

export const ADS_PATHS = {
  sotw: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
  delta: '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources',
};

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

class Stream<Res> {
  readonly received: Res[] = [];
  private readonly queue: Res[] = [];
  private waiters: Waiter<Res>[] = [];
  status?: grpc.StatusObject;
  private readonly statusWaiters: Array<(s: grpc.StatusObject) => void> = [];

  constructor(
    readonly call: grpc.ClientDuplexStream<Buffer, Buffer>,
    decode: (b: Buffer) => Res,
  ) {
    call.on('data', (b: Buffer) => {
      const r = decode(b);
      this.received.push(r);
      const w = this.waiters.shift();
      if (w) {
        clearTimeout(w.timer);
        w.resolve(r);
      } else this.queue.push(r);
    });
    const onStatus = (s: grpc.StatusObject) => {
      if (this.status) return;
      this.status = s;
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`stream ended: ${grpc.status[s.code]} ${s.details}`));
      }
      this.waiters = [];
      for (const f of this.statusWaiters) f(s);
    };
    call.on('status', onStatus);
    call.on('error', (e: grpc.ServiceError) => onStatus({ code: e.code, details: e.details, metadata: e.metadata }));
  }

  /** The next response, or an error after `ms`. */
  next(ms = 2000): Promise<Res> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.status) return Promise.reject(new Error(`stream ended: ${grpc.status[this.status.code]} ${this.status.details}`));
    return new Promise((resolve, reject) => {
      const w: Waiter<Res> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new Error(`no response within ${ms} ms`));
        }, ms),
      };
      this.waiters.push(w);
    });
  }

  /** Resolves to true if no response arrives within `ms` (for "nothing sent" rules). */
  async silentFor(ms = 300): Promise<boolean> {
    if (this.queue.length > 0) return false;
    try {
      await this.next(ms).then((r) => this.queue.unshift(r));
      return false;
    } catch {
      return true;
    }
  }

  ended(ms = 3000): Promise<grpc.StatusObject> {
    if (this.status) return Promise.resolve(this.status);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('stream did not end')), ms);
      this.statusWaiters.push((s) => {
        clearTimeout(t);
        resolve(s);
      });
    });
  }

  close(): void {
    this.call.cancel();
  }
}

export class SotwStream extends Stream<SotwResponseView> {
  send(req: Partial<SotwRequest>): void {
    this.call.write(encodeSotwRequest(req));
  }
  /** ACK `res` with the same names the client subscribed. */
  ack(res: SotwResponseView, resource_names: string[] = []): void {
    this.send({ type_url: res.type_url, version_info: res.version_info, response_nonce: res.nonce, resource_names });
  }
}

export class DeltaStream extends Stream<DeltaResponseView> {
  send(req: Partial<DeltaRequest>): void {
    this.call.write(encodeDeltaRequest(req));
  }
  ack(res: DeltaResponseView): void {
    this.send({ type_url: res.type_url, response_nonce: res.nonce });
  }
}

function nameOf(r: { typeUrl: string; name?: string; value: Record<string, unknown> }): string {
  return r.name || String(r.value.name ?? r.value.cluster_name ?? '');
}

export class XdsTestClient {
  readonly client: grpc.Client;

  constructor(
    readonly address: string,
    options: grpc.ChannelOptions = {},
    credentials = grpc.credentials.createInsecure(),
  ) {
    this.client = new grpc.Client(address, credentials, options);
  }

  sotw(metadata = new grpc.Metadata(), path = ADS_PATHS.sotw): SotwStream {
    const call = this.client.makeBidiStreamRequest(path, id, id, metadata);
    return new SotwStream(call, (b) => {
      const r = decodeSotwResponse(b);
      return { ...r, names: r.resources.map(nameOf), bytes: b.length };
    });
  }

  delta(metadata = new grpc.Metadata(), path = ADS_PATHS.delta): DeltaStream {
    const call = this.client.makeBidiStreamRequest(path, id, id, metadata);
    return new DeltaStream(call, (b) => {
      const r = decodeDeltaResponse(b);
      return { ...r, names: r.resources.map(nameOf), bytes: b.length };
    });
  }

  close(): void {
    this.client.close();
  }
}

export const node = (id: string) => ({ id, cluster: 'test', locality: { zone: 'z1' } });
