/**
 * The gRPC side: ADS (state-of-the-world and delta) and the per-type
 * discovery services, on one grpc-js server.
 *
 * Service definitions are written here rather than generated from the
 * service protos because the serializers are ours: responses are bytes framed
 * from pre-encoded resources (xds/wire.ts), requests are decoded in the
 * handler so a malformed one becomes a clear status instead of a crash.
 */
import * as grpc from '@grpc/grpc-js';
import { clientText, LogLimiter, SERVER_LOG_RATE, type Logger } from '../log.ts';
import type { ConfigWatcher } from '../cache/config-watcher.ts';
import { TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';
import type { ResponseBytes } from '../xds/response-bytes.ts';
import { grpcStatusOf, StreamError } from './errors.ts';
import type { IdentityVerifier } from '../identity/verifier.ts';
import { XdsMetrics } from './metrics.ts';
import { serverWithConnectionAge } from './connection-age.ts';
import { onHttp2Server } from './http2-servers.ts';
import type { StreamDeps, StreamMode, StreamTransport, XdsStream } from './stream.ts';
import { SotwStream } from './sotw-stream.ts';
import { DeltaStream } from './delta-stream.ts';
import type { HeldResource, NodeSyncStatus } from './sync-status.ts';
import { XDS_LIMITS, type XdsLimits } from './limits.ts';
import { compressionGuard, UNDECLARED_COMPRESSION } from './compression-guard.ts';
import { frameWriter } from './frame-writer.ts';
import { frameReader } from './frame-reader.ts';

export interface XdsServerOptions {
  /** All the server knows of the cache (see its contract). */
  cache: ConfigWatcher;
  log: Logger;
  metrics?: XdsMetrics;
  verifier?: IdentityVerifier;
  requireIdentity?: boolean;
  /** The memory budget of the port (limits.ts); defaults to XDS_LIMITS. */
  limits?: Partial<XdsLimits>;
  /** XDS_RULES 28 */
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
  maxConnectionAgeMs?: number;
  maxConnectionAgeGraceMs?: number;
  /**
   * Tests only: treat plaintext connections as secure, so proven identities
   * receive their secrets without TLS. Never set in production: private keys
   * would cross the network in the clear.
   */
  allowSecretsOverPlaintext?: boolean;
  /**
   * A TLS handshake on a secure listener failed (the client's alert or a
   * protocol error): ca/untrusted-root.ts watches for clients that trust
   * another root.
   */
  onTlsClientError?: (err: Error) => void;
}

/**
 * The grpc-js server options (XDS_RULES 27, 28), exported so tests can check
 * them: keepalive detects dead peers; a maximum connection age with grace
 * sends GOAWAY so clients reconnect and streams rebalance across replicas.
 */
export function grpcServerOptions(opts: Omit<XdsServerOptions, 'cache' | 'log'>): grpc.ServerOptions {
  const limits = { ...XDS_LIMITS, ...opts.limits };
  return {
    // XDS_RULES 27 and the memory budget (limits.ts): grpc-js buffers a whole message before handing it over.
    'grpc.max_receive_message_length': limits.maxRequestBytes,
    'grpc.max_send_message_length': -1,
    'grpc.keepalive_time_ms': opts.keepaliveMs ?? 30_000,
    'grpc.keepalive_timeout_ms': opts.keepaliveTimeoutMs ?? 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    'grpc.max_connection_age_ms': opts.maxConnectionAgeMs ?? 30 * 60_000,
    'grpc.max_connection_age_grace_ms': opts.maxConnectionAgeGraceMs ?? 5 * 60_000,
    'grpc.max_concurrent_streams': limits.maxStreamsPerConnection,
  };
}

/**
 * Bytes written to a call and not yet taken by HTTP/2 before the stream counts
 * as blocked (XDS_RULES 25). grpc-js's own signal (`write()` returning false)
 * comes only after 16 queued messages, which for a client that stops reading
 * meant 16 stale full states held per stream instead of one per type.
 */
export const WRITE_BUDGET_BYTES = 256 * 1024;

const identity = (b: Buffer): Buffer => b;

/**
 * A response goes to grpc-js as its parts: grpc-js reads `byteLength` and
 * calls `copy()` on what the serializer returns, which ResponseBytes provides
 * with Buffer's meaning (see xds/response-bytes.ts for why and the contract).
 */
const framedOnce = (r: ResponseBytes): Buffer => r as unknown as Buffer;

function method(path: string): grpc.MethodDefinition<Buffer, ResponseBytes> {
  return {
    path,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: framedOnce,
    responseDeserialize: () => {
      throw new Error('the server never reads its own responses');
    },
  };
}

/** Per-type services: package, service and the word in their method names. */
const PER_TYPE: ReadonlyArray<[ResourceTypeUrl, string, string]> = [
  [TypeUrl.Cluster, 'envoy.service.cluster.v3.ClusterDiscoveryService', 'Clusters'],
  [TypeUrl.Endpoint, 'envoy.service.endpoint.v3.EndpointDiscoveryService', 'Endpoints'],
  [TypeUrl.Listener, 'envoy.service.listener.v3.ListenerDiscoveryService', 'Listeners'],
  [TypeUrl.Route, 'envoy.service.route.v3.RouteDiscoveryService', 'Routes'],
  [TypeUrl.Secret, 'envoy.service.secret.v3.SecretDiscoveryService', 'Secrets'],
];

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

function metadataMap(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) out[k] = typeof v === 'string' ? v : Buffer.from(v).toString('utf8');
  return out;
}

const nodeLabel = (s: XdsStream): string | undefined => s.node && clientText(s.node.id);

export class XdsServer {
  readonly metrics: XdsMetrics;
  /** One grpc.Server per listener, so each knows whether its connections are TLS. */
  private readonly servers: grpc.Server[] = [];
  private readonly streams = new Set<XdsStream>();
  private readonly byNode = new Map<string, Set<XdsStream>>();
  private readonly log: Logger;
  private readonly limits: XdsLimits;
  /** What all streams together may log of what clients can repeat (issue 16 bug 9). */
  private readonly logLimit: LogLimiter;
  private readonly logFlush: NodeJS.Timeout;

  constructor(private readonly opts: XdsServerOptions) {
    this.metrics = opts.metrics ?? new XdsMetrics();
    this.log = opts.log;
    this.limits = { ...XDS_LIMITS, ...opts.limits };
    this.logLimit = new LogLimiter(this.log, SERVER_LOG_RATE);
    // Without it, the count of a flood that stopped would be told only when the same kind came up again.
    this.logFlush = setInterval(() => this.logLimit.flushExpired(), SERVER_LOG_RATE.windowMs).unref();
    this.metrics.queueDepth = () => {
      let n = 0;
      for (const s of this.streams) if (s.isBlocked) n += s.pendingTypes;
      return n;
    };
  }

  private newServer(secure: boolean): grpc.Server {
    const server = serverWithConnectionAge({ ...grpcServerOptions(this.opts), interceptors: [compressionGuard((peer) => this.undeclaredCompression(peer)), frameWriter(), frameReader()] });
    const onTlsClientError = this.opts.onTlsClientError;
    // A handshake the client refuses is reported only by the HTTP/2 server ('tlsClientError').
    if (secure && onTlsClientError && !onHttp2Server(server, (h2) => h2.on('tlsClientError', (err: Error) => onTlsClientError(err)))) {
      this.log.warn('cannot watch TLS handshakes on the xDS port (grpc-js internals changed): clients that trust another root go unnoticed');
    }
    server.addService(
      {
        StreamAggregatedResources: method(`/${ADS_SERVICE}/StreamAggregatedResources`),
        DeltaAggregatedResources: method(`/${ADS_SERVICE}/DeltaAggregatedResources`),
      },
      {
        StreamAggregatedResources: (call: grpc.ServerDuplexStream<Buffer, ResponseBytes>) => this.serve(call, 'sotw', 'ads', secure),
        DeltaAggregatedResources: (call: grpc.ServerDuplexStream<Buffer, ResponseBytes>) => this.serve(call, 'delta', 'ads', secure),
      },
    );
    for (const [typeUrl, service, word] of PER_TYPE) {
      server.addService(
        { [`Stream${word}`]: method(`/${service}/Stream${word}`), [`Delta${word}`]: method(`/${service}/Delta${word}`) },
        {
          [`Stream${word}`]: (call: grpc.ServerDuplexStream<Buffer, ResponseBytes>) => this.serve(call, 'sotw', typeUrl, secure),
          [`Delta${word}`]: (call: grpc.ServerDuplexStream<Buffer, ResponseBytes>) => this.serve(call, 'delta', typeUrl, secure),
        },
      );
    }
    return server;
  }

  /** A call ended by the compression guard (issue 16 bug 14): grpc-js sent the status; say so. */
  private undeclaredCompression(peer: string): void {
    this.metrics.rejectedStreams.inc({ reason: 'undeclared_compression' });
    this.logLimit.line('warn', 'stream_ended:undeclared_compression', { peer, code: 'INTERNAL', reason: 'undeclared_compression' }, UNDECLARED_COMPRESSION);
  }

  /** Bind and start. `credentials` defaults to plaintext. Returns the bound port. */
  listen(address: string, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    // grpc-js reports TLS in a call's auth context only when the client sent
    // a certificate; the listener a call arrived on says whether it is TLS.
    const server = this.newServer(credentials._isSecure());
    this.servers.push(server);
    return new Promise<number>((resolve, reject) => {
      server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
    }).then((port) => {
      return port;
    });
  }

  async close(graceMs = 1000): Promise<void> {
    clearInterval(this.logFlush);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        for (const server of this.servers) server.forceShutdown();
        resolve();
      }, graceMs);
      let pending = this.servers.length;
      if (pending === 0) resolve();
      for (const server of this.servers) {
        server.tryShutdown(() => {
          if (--pending === 0) {
            clearTimeout(t);
            resolve();
          }
        });
      }
      // Streams never end on their own; tell clients to go so shutdown can finish
      // (closing only our side left every call open until forceShutdown).
      for (const s of this.streams) s.onFatal(new StreamError('UNAVAILABLE', 'shutdown', 'control plane shutting down; reconnect'));
    });
    this.logLimit.close();
  }

  /** Every connected proxy, by node id: the one read-only view of stream state (sync-status.ts). */
  syncStatus(): NodeSyncStatus[] {
    const out: NodeSyncStatus[] = [];
    for (const streams of this.byNode.values()) {
      const list = [...streams];
      out.push({ node: list[0]!.node!, streams: list.map((s) => s.status()) });
    }
    return out.sort((a, b) => (a.node.id < b.node.id ? -1 : a.node.id > b.node.id ? 1 : 0));
  }

  /** What a connected proxy holds, per resource (config dumps); undefined if no stream has that node. */
  heldResources(nodeId: string): HeldResource[] | undefined {
    const streams = this.byNode.get(nodeId);
    return streams && [...streams].flatMap((s) => s.held());
  }

  streamCount(): number {
    return this.streams.size;
  }

  private serve(call: grpc.ServerDuplexStream<Buffer, ResponseBytes>, mode: StreamMode, api: 'ads' | ResourceTypeUrl, tls: boolean): void {
    const apiLabel = `${api === 'ads' ? 'ads' : api.split('.').at(-1)}-${mode}`;
    const peer = call.getPeer();
    const secure = this.opts.allowSecretsOverPlaintext === true || tls;
    let ended = false;
    let unflushed = 0;
    let waitingForDrain = false;
    const write = (b: ResponseBytes): boolean => {
      if (ended) return true;
      unflushed += b.byteLength;
      const more = call.write(b, () => {
        unflushed -= b.byteLength;
        if (waitingForDrain && unflushed <= WRITE_BUDGET_BYTES) {
          waitingForDrain = false;
          stream.drained();
        }
      });
      if (more && unflushed <= WRITE_BUDGET_BYTES) return true;
      waitingForDrain = true;
      return false;
    };
    const deps: StreamDeps = {
      cache: this.opts.cache,
      metrics: this.metrics,
      log: this.log,
      verifier: this.opts.verifier,
      requireIdentity: this.opts.requireIdentity ?? false,
      limits: this.limits,
      logLimit: this.logLimit,
      onNode: (s) => {
        let set = this.byNode.get(s.node!.id);
        if (!set) this.byNode.set(s.node!.id, (set = new Set()));
        set.add(s);
      },
      onClose: (s) => {
        this.streams.delete(s);
        if (s.node) {
          const set = this.byNode.get(s.node.id);
          set?.delete(s);
          if (set?.size === 0) this.byNode.delete(s.node.id);
        }
        this.metrics.streams.dec({ api: apiLabel });
      },
    };
    const transport: StreamTransport = { write, metadata: metadataMap(call.metadata), peer, secure };
    const stream: XdsStream = mode === 'sotw' ? new SotwStream(deps, transport, api) : new DeltaStream(deps, transport, api);
    this.streams.add(stream);
    this.metrics.streams.inc({ api: apiLabel });

    const finish = (err?: StreamError) => {
      if (ended) return;
      ended = true;
      stream.close();
      if (err) {
        const { code, details } = grpcStatusOf(err);
        this.metrics.rejectedStreams.inc({ reason: err.reason });
        // err.reason is one of our labels, so the key set stays small.
        this.logLimit.line('warn', `stream_ended:${err.reason}`, { node: nodeLabel(stream), peer, code: err.code, reason: err.reason }, err.message);
        call.emit('error', { code, details, metadata: new grpc.Metadata() });
      } else {
        call.end();
      }
    };
    stream.onFatal = finish;

    call.on('data', (bytes: Buffer) => {
      if (ended) return;
      try {
        stream.receive(bytes);
      } catch (e) {
        if (e instanceof StreamError) return finish(e);
        this.logLimit.line('error', 'request_failed', { err: e, node: nodeLabel(stream), peer }, 'bug while handling a discovery request');
        finish(new StreamError('UNAVAILABLE', 'internal', 'internal error in the control plane; retry'));
      }
    });
    call.on('end', () => finish());
    call.on('cancelled', () => {
      ended = true;
      stream.close();
    });
    call.on('error', () => {
      ended = true;
      stream.close();
    });
    call.on('close', () => {
      ended = true;
      stream.close();
    });
  }
}
