/**
 * One xDS stream, on ADS or a per-type service: its lifecycle and its
 * identity gate, shared by the two protocol variants (sotw-stream.ts,
 * delta-stream.ts), which say how a request changes a type's state and how a
 * response is framed.
 *
 * Requests change subscriptions and acknowledge responses; config changes
 * mark types dirty; a flush (coalesced, and only when the transport can take
 * more) computes per type what the client lacks and writes it. Nothing is
 * queued per change: a stream whose client does not read keeps at most "this
 * type is dirty", and on drain sends the latest state (XDS_RULES 25).
 *
 * Error boundary: a throw while pushing (our bug, never the client's input)
 * ends this stream alone with INTERNAL, logged with node and type and counted
 * in trellis_xds_push_errors_total; the process and the other streams go on.
 */
import { clientText, LogLimiter, STREAM_LOG_RATE, type Logger, type LogLevel } from '../log.ts';
import { errorMessage } from '../errors.ts';
import type { ConfigWatch, ConfigWatcher, Snapshot, TypeSet, VersionedResource } from '../cache/config-watcher.ts';
import { isKnownTypeUrl, PUSH_ORDER, SHORT_NAMES, TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';
import type { DeltaRequest, ErrorDetail, NodeInfo, SotwRequest } from '../xds/wire.ts';
import type { ResponseBytes } from '../xds/response-bytes.ts';
import type { IdentityResult, IdentityVerifier, ProvenIdentity } from '../identity/verifier.ts';
import type { XdsMetrics } from './metrics.ts';
import { StreamError } from './errors.ts';
import { TypeState } from './type-state.ts';
import type { HeldResource, StreamSyncStatus } from './sync-status.ts';
import { secretsVisibleTo, withRetainedClusters, withRetainedEndpoints } from './effective-sets.ts';
import { OverBudget, type RequestBudget } from '../xds/request-scan.ts';
import { admitSubscription, LIMITS_DOC, requestBudgetOf, type XdsLimits } from './limits.ts';
import type { Subscription } from './subscription.ts';

export type StreamMode = 'sotw' | 'delta';

/** What a stream needs from the gRPC call; xds-server.ts adapts grpc-js to it. */
export interface StreamTransport {
  /** false when the client is not reading fast enough: wait for onDrain */
  write(bytes: ResponseBytes): boolean;
  metadata: Readonly<Record<string, string>>;
  peer: string;
  /** The connection is TLS (private keys may be sent on it). */
  secure: boolean;
}

export interface StreamDeps {
  cache: ConfigWatcher;
  metrics: XdsMetrics;
  log: Logger;
  verifier?: IdentityVerifier;
  /** Close streams that fail to prove an identity instead of serving them config without secrets. */
  requireIdentity: boolean;
  limits: Readonly<XdsLimits>;
  /** The server's limiter: bounds what all streams together log (issue 16 bug 9). */
  logLimit?: LogLimiter;
  onNode(stream: XdsStream): void;
  onClose(stream: XdsStream): void;
}

/** 4 MiB is the default receive limit of gRPC clients; warn before reaching it (XDS_RULES 27). */
export const LARGE_RESPONSE_BYTES = 3.5 * 1024 * 1024;

let nextStreamId = 1;

export abstract class XdsStream<Req extends SotwRequest | DeltaRequest = SotwRequest | DeltaRequest> {
  readonly id = nextStreamId++;
  readonly connectedAt = Date.now();
  abstract readonly mode: StreamMode;
  protected readonly types = new Map<ResourceTypeUrl, TypeState>();
  protected readonly log: Logger;
  /** Lines the client can repeat at will go through here (issue 16 bug 9); made on first use, as most streams never log. */
  private logLimiter?: LogLimiter;
  /** The node id for log lines, cut to CLIENT_TEXT_LIMIT. */
  private nodeLabel?: string;

  private nodeInfo?: NodeInfo;
  private identity?: ProvenIdentity;
  private identityState: StreamSyncStatus['identityState'] = 'pending';
  private watch?: ConfigWatch;
  private nonce = 0;
  private blocked = false;
  private flushScheduled = false;
  private closed = false;

  constructor(
    protected readonly deps: StreamDeps,
    private readonly transport: StreamTransport,
    /** 'ads', or the one type a per-type service carries */
    readonly api: 'ads' | ResourceTypeUrl,
  ) {
    this.log = deps.log.child({ stream: this.id, peer: transport.peer });
  }

  /** One line of a kind the client can repeat, with the node; rate-limited per stream and server-wide. */
  private logLine(level: LogLevel, kind: string, fields: Record<string, unknown>, msg: string): void {
    this.logLimiter ??= new LogLimiter(this.log, STREAM_LOG_RATE, this.deps.logLimit);
    this.logLimiter.line(level, kind, { node: this.nodeLabel, ...fields }, msg);
  }

  /** The node the first request announced. */
  get node(): NodeInfo | undefined {
    return this.nodeInfo;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  get pendingTypes(): number {
    let n = 0;
    for (const st of this.types.values()) if (st.dirty) n++;
    return n;
  }

  /** One request's bytes from the transport. Throws StreamError for requests that end the stream. */
  receive(bytes: Buffer): void {
    let req: Req;
    try {
      req = this.decode(bytes);
    } catch (e) {
      if (e instanceof OverBudget) throw new StreamError('RESOURCE_EXHAUSTED', e.reason, `request over the limit: ${e.message} (see ${LIMITS_DOC})`);
      // Any decode failure is the client's bytes, not our bug (matching protobufjs's message text missed some).
      throw new StreamError('INVALID_ARGUMENT', 'malformed', `request is not a valid ${this.requestName}: ${clientText(errorMessage(e))}`);
    }
    this.handle(req);
  }

  /** What a request may carry before it is decoded (limits.ts). */
  protected get requestBudget(): RequestBudget {
    return requestBudgetOf(this.deps.limits);
  }

  /** The variant's request message, for errors. */
  protected abstract readonly requestName: string;

  protected abstract decode(bytes: Buffer): Req;

  private handle(req: Req): void {
    if (this.closed) return;
    this.acceptNode(req.node);
    const typeUrl = this.resolveType(req.type_url);
    if (!typeUrl) return;
    let st = this.types.get(typeUrl);
    const first = !st;
    if (!st) {
      st = new TypeState(typeUrl);
      this.types.set(typeUrl, st);
    }
    this.request(st, req, first);
  }

  /** Throws StreamError if `next` would take `st` over its budget (limits.ts). */
  protected admit(st: TypeState, next: Subscription): void {
    if (next !== st.subscription) admitSubscription(this.deps.limits, SHORT_NAMES[st.typeUrl], next);
  }

  /** The variant's handling of one request for one type; `first` is the type's first request on the stream. */
  protected abstract request(st: TypeState, req: Req, first: boolean): void;

  /**
   * Send what `st`'s client lacks of `current`, framed for the variant.
   * @returns the resources whose content was sent, or null if nothing was sent
   */
  protected abstract send(st: TypeState, current: TypeSet): readonly VersionedResource[] | null;

  /** The transport can take more bytes again. */
  drained(): void {
    if (!this.blocked) return;
    this.blocked = false;
    this.deps.metrics.blockedStreams.dec();
    this.scheduleFlush();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch?.cancel();
    this.watch = undefined;
    if (this.blocked) this.deps.metrics.blockedStreams.dec();
    this.blocked = false; // a write completing after close would call drained() and decrement the gauge again
    this.types.clear();
    this.logLimiter?.close();
    this.deps.onClose(this);
  }

  /** Set by xds-server.ts: ends the call with a status. */
  onFatal: (err: StreamError) => void = () => {};

  status(): StreamSyncStatus {
    const types = [];
    for (const st of this.types.values()) if (st.requested) types.push(st.status());
    return {
      id: this.id,
      api: this.api,
      mode: this.mode,
      connectedAt: this.connectedAt,
      identity: this.identity?.spiffeId ?? null,
      identityState: this.identityState,
      secure: this.transport.secure,
      blocked: this.blocked,
      types,
    };
  }

  held(): HeldResource[] {
    return [...this.types.values()].flatMap((st) => st.held());
  }

  // --- the identity gate ---------------------------------------------------

  private acceptNode(node: NodeInfo | undefined): void {
    if (this.nodeInfo) {
      // XDS_RULES 21: later requests may omit the node; another one is an error.
      if (node && node.id !== this.nodeInfo.id) {
        throw new StreamError('INVALID_ARGUMENT', 'node_changed', `node changed on the stream from "${clientText(this.nodeInfo.id)}" to "${clientText(node.id)}"`);
      }
      return;
    }
    if (!node || !node.id) {
      throw new StreamError('INVALID_ARGUMENT', 'no_node', 'the first request on a stream must carry node.id');
    }
    const { maxNodeIdChars } = this.deps.limits;
    if (node.id.length > maxNodeIdChars) {
      throw new StreamError('INVALID_ARGUMENT', 'node_id_too_long', `node.id of ${node.id.length} characters; at most ${maxNodeIdChars} (see ${LIMITS_DOC})`);
    }
    this.nodeInfo = node;
    this.nodeLabel = clientText(node.id);
    // The listener may run before createWatch returns (see ConfigWatcher): it reads nothing but `types`.
    this.watch = this.deps.cache.createWatch(node, (_next, changed) => this.onConfig(changed));
    this.deps.onNode(this);
    void this.proveIdentity();
  }

  private resolveType(typeUrl: string): ResourceTypeUrl | undefined {
    if (this.api !== 'ads') {
      // Per-type services imply their type; a different one is a client bug.
      if (typeUrl === '' || typeUrl === this.api) return this.api;
      throw new StreamError('INVALID_ARGUMENT', 'wrong_type', `type_url ${clientText(typeUrl)} on the ${SHORT_NAMES[this.api]} service`);
    }
    if (typeUrl === '') {
      // XDS_RULES 22: on ADS the type cannot be inferred.
      throw new StreamError('INVALID_ARGUMENT', 'no_type_url', 'type_url is required on the aggregated discovery service');
    }
    if (!isKnownTypeUrl(typeUrl)) {
      // Unknown types are ignored, not fatal: the other types carry on.
      this.logLine('warn', 'unknown_type', { typeUrl: clientText(typeUrl) }, 'request for a resource type Trellis does not serve; ignored');
      this.deps.metrics.rejectedStreams.inc({ reason: 'unknown_type' });
      return undefined;
    }
    return typeUrl;
  }

  /** Secrets wait until the verifier has answered (XDS_RULES 23). */
  protected get identityPending(): boolean {
    return this.identityState === 'pending';
  }

  private async proveIdentity(): Promise<void> {
    const verifier = this.deps.verifier;
    if (!verifier) {
      this.identityState = 'none';
      return;
    }
    // A verifier that throws must not become an unhandled rejection (which ends the process).
    const result = await verifier
      .verify(this.transport.metadata, this.nodeInfo!.id)
      .catch((e: unknown): IdentityResult => ({ ok: false, reason: 'unavailable', message: errorMessage(e) }));
    if (this.closed) return;
    if (result.ok) {
      this.identity = result.identity;
      this.identityState = 'proven';
    } else {
      this.identityState = 'refused';
      this.deps.metrics.identityFailures.inc({ reason: result.reason });
      this.logLine('warn', 'identity_refused', { reason: result.reason, message: clientText(result.message) }, 'stream did not prove an identity; no secrets');
      if (this.deps.requireIdentity) {
        this.onFatal(new StreamError('UNAUTHENTICATED', 'identity', `identity not proven: ${result.message}`));
        return;
      }
    }
    // Either answer ends the wait: flush skipped SDS while the identity was
    // pending, so send it now — the workload's secrets, or after a refusal
    // what is not secret (the trust bundle; docs/kubernetes.md).
    if (this.types.get(TypeUrl.Secret)?.markDirty()) this.scheduleFlush();
  }

  // --- answers ---------------------------------------------------------------

  /** An ACK or NACK (XDS_RULES 2–3) of the response sent with `nonce`. */
  protected acknowledge(st: TypeState, nonce: string, version: string, error: ErrorDetail | undefined): void {
    const type = SHORT_NAMES[st.typeUrl];
    const now = Date.now();
    if (error) {
      const nack = st.nack(nonce, clientText(error.message, this.deps.limits.maxNackMessageChars), now);
      this.deps.metrics.nacks.inc({ type });
      this.logLine('warn', 'nack', { type, version: nack.rejectedVersion || undefined, message: clientText(error.message) }, 'NACK');
      return;
    }
    const set = st.ack(nonce, version, now);
    if (set && set.createdAt >= this.connectedAt) this.deps.metrics.changeToAck.observe({ type }, (now - set.createdAt) / 1000);
    this.deps.metrics.acks.inc({ type });
    // Clusters kept only because the client's acked routes named them may go now.
    if (st.typeUrl === TypeUrl.Listener || st.typeUrl === TypeUrl.Route) {
      if (this.types.get(TypeUrl.Cluster)?.markDirty()) this.scheduleFlush();
    }
  }

  // --- config and sending ----------------------------------------------------

  private onConfig(changed: ReadonlySet<ResourceTypeUrl>): void {
    let any = false;
    for (const t of changed) if (this.types.get(t)?.markDirty()) any = true;
    if (any) this.scheduleFlush();
  }

  /** The node's config now; undefined until the first snapshot for it. */
  protected get snapshot(): Snapshot | undefined {
    return this.watch?.current();
  }

  protected scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    // setImmediate coalesces the requests and changes of one event-loop turn.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** The set of a type this stream should hold (see effective-sets.ts); the snapshot must exist. */
  protected effectiveSet(typeUrl: ResourceTypeUrl): TypeSet {
    const set = this.snapshot!.get(typeUrl);
    if (typeUrl === TypeUrl.Secret) {
      return secretsVisibleTo(set, this.transport.secure ? this.identity?.spiffeId : undefined);
    }
    if (this.api !== 'ads') return set;
    if (typeUrl === TypeUrl.Cluster) return withRetainedClusters(set, this.types);
    if (typeUrl === TypeUrl.Endpoint) return withRetainedEndpoints(set, this.effectiveSet(TypeUrl.Cluster), this.types);
    return set;
  }

  private flush(): void {
    if (this.closed || this.blocked || !this.nodeInfo) return;
    // No config for this node yet (a restart before the source synced): say
    // nothing rather than an empty LDS/CDS, which would make a reconnecting
    // Envoy delete everything it is serving. The first snapshot flushes.
    if (!this.snapshot) return;
    let typeUrl: ResourceTypeUrl | undefined;
    try {
      // XDS_RULES 18: one pass in push order, so within a flush the client
      // receives secrets and clusters before endpoints, listeners and routes.
      for (typeUrl of PUSH_ORDER) {
        const st = this.types.get(typeUrl);
        if (!st || !st.requested || !st.dirty) continue;
        if (typeUrl === TypeUrl.Secret && this.identityPending) continue;
        st.clearDirty();
        const sent = this.send(st, this.effectiveSet(typeUrl));
        if (sent && typeUrl === TypeUrl.Cluster) this.resendEndpointsOf(sent);
        // Endpoints kept only for clusters the client held may go once CDS moved on (XDS_RULES 18).
        if (typeUrl === TypeUrl.Cluster) this.types.get(TypeUrl.Endpoint)?.markDirty();
        if (this.blocked) break;
      }
    } catch (e) {
      this.pushFailed(e, typeUrl);
    }
  }

  /** The error boundary of the push path (see the file comment). */
  private pushFailed(e: unknown, typeUrl: ResourceTypeUrl | undefined): void {
    const type = typeUrl ? SHORT_NAMES[typeUrl] : 'none';
    this.deps.metrics.pushErrors.inc({ type });
    this.logLine('error', 'push_failed', { err: e, type }, 'bug while pushing config; ending this stream only');
    this.onFatal(new StreamError('INTERNAL', 'push_failed', `internal error in the control plane while pushing ${type} (logged); reconnect`));
  }

  /** XDS_RULES 20: after a cluster update, send its endpoints again so warming ends. */
  private resendEndpointsOf(clusters: readonly VersionedResource[]): void {
    const eds = this.types.get(TypeUrl.Endpoint);
    // A client holding no endpoints yet gets every subscribed set with its first EDS answer anyway.
    if (!eds?.requested || eds.holdsNothing) return;
    for (const c of clusters) for (const e of c.references.endpoints) if (eds.subscription.covers(e, () => true)) eds.force(e);
  }

  protected nextNonce(): string {
    return (++this.nonce).toString(36);
  }

  protected write(typeUrl: ResourceTypeUrl, bytes: ResponseBytes): void {
    const type = SHORT_NAMES[typeUrl];
    this.deps.metrics.responses.inc({ type });
    this.deps.metrics.responseBytes.inc({ type }, bytes.byteLength);
    if (bytes.byteLength > LARGE_RESPONSE_BYTES) {
      this.deps.metrics.oversized.inc({ type });
      this.logLine('warn', 'large_response', { type, bytes: bytes.byteLength }, 'response nears the 4 MiB default receive limit of gRPC clients');
    }
    if (!this.transport.write(bytes)) {
      this.blocked = true;
      this.deps.metrics.blockedStreams.inc();
    }
  }
}
