/**
 * One xDS stream, state-of-the-world or delta, on ADS or a per-type service.
 *
 * Requests change subscriptions and acknowledge responses; snapshot changes
 * mark types dirty; a flush (coalesced, and only when the transport can take
 * more) computes per type what the client lacks and writes it. Nothing is
 * queued per change: a stream whose client does not read keeps at most "this
 * type is dirty", and on drain sends the latest state (XDS_RULES 25).
 */
import type { Logger } from '../log.ts';
import { SnapshotCache } from '../cache/snapshot-cache.ts';
import { Snapshot, TypeSet } from '../cache/snapshot.ts';
import type { VersionedResource } from '../cache/resource.ts';
import {
  FULL_STATE_TYPES,
  isKnownTypeUrl,
  PUSH_ORDER,
  SHORT_NAMES,
  TypeUrl,
  type ResourceTypeUrl,
} from '../xds/type-urls.ts';
import { encodeDeltaResponse, encodeSotwResponse, type DeltaRequest, type NodeInfo, type SotwRequest } from '../xds/wire.ts';
import type { IdentityResult, IdentityVerifier, ProvenIdentity } from '../identity/verifier.ts';
import type { XdsMetrics } from './metrics.ts';
import { StreamError } from './errors.ts';
import { TypeState } from './type-state.ts';
import type { Subscription } from './subscription.ts';
import { secretsVisibleTo, withRetainedClusters, withRetainedEndpoints } from './effective-sets.ts';

export type StreamMode = 'sotw' | 'delta';

/**
 * Subscriptions interned by content: a thousand Envoys subscribed to the same
 * thousand EDS names share one Set instead of holding one each (~50 KiB a
 * stream otherwise; DESIGN: ≤ 100 KiB a stream). Safe because a Subscription
 * is immutable; the key keeps the names' order, so lists that differ only in
 * order are merely not shared.
 */
const internedSubs = new Map<string, WeakRef<Subscription>>();
const internedSubsGone = new FinalizationRegistry<string>((key) => {
  if (internedSubs.get(key)?.deref() === undefined) internedSubs.delete(key);
});

function internSubscription(sub: Subscription): Subscription {
  const key = `${sub.wildcard ? 1 : 0}${sub.everNamed ? 1 : 0}\0${[...sub.names].join('\0')}`;
  const existing = internedSubs.get(key)?.deref();
  if (existing) return existing;
  internedSubs.set(key, new WeakRef(sub));
  internedSubsGone.register(sub, key);
  return sub;
}

/**
 * The SotW request names exactly `sub`'s names in the same order: the usual
 * ACK, which repeats the list. Checked without building a Set, because on a
 * change every stream ACKs with the full list (1,000 EDS names in the
 * benchmark) and building and comparing a new Subscription per ACK was the
 * largest cost of a push. Equivalent to `sub.applySotw(list) === sub`.
 */
function repeatsSubscription(sub: Subscription, list: readonly string[]): boolean {
  if (list.length === 0 || sub.wildcard || !sub.everNamed || list.length !== sub.names.size) return false;
  let i = 0;
  for (const n of sub.names) if (list[i++] !== n) return false;
  return true;
}

/** What a stream needs from the gRPC call; xds-server.ts adapts grpc-js to it. */
export interface StreamTransport {
  /** false when the client is not reading fast enough: wait for onDrain */
  write(bytes: Buffer): boolean;
  metadata: Readonly<Record<string, string>>;
  peer: string;
  /** The connection is TLS (private keys may be sent on it). */
  secure: boolean;
}

export interface StreamDeps {
  cache: SnapshotCache;
  metrics: XdsMetrics;
  log: Logger;
  verifier?: IdentityVerifier;
  /** Close streams that fail to prove an identity instead of serving them config without secrets. */
  requireIdentity: boolean;
  onNode(stream: XdsStream): void;
  onClose(stream: XdsStream): void;
}

/** 4 MiB is the default receive limit of gRPC clients; warn before reaching it (XDS_RULES 27). */
export const LARGE_RESPONSE_BYTES = 3.5 * 1024 * 1024;

let nextStreamId = 1;

export class XdsStream {
  readonly id = nextStreamId++;
  readonly connectedAt = Date.now();
  node?: NodeInfo;
  key?: string;
  identity?: ProvenIdentity;
  identityState: 'pending' | 'proven' | 'refused' | 'none' = 'pending';
  readonly types = new Map<ResourceTypeUrl, TypeState>();

  private snapshot: Snapshot = Snapshot.empty();
  private unwatch?: () => void;
  private nonce = 0;
  private blocked = false;
  private flushScheduled = false;
  private closed = false;
  private readonly log: Logger;

  constructor(
    private readonly deps: StreamDeps,
    private readonly transport: StreamTransport,
    readonly mode: StreamMode,
    /** 'ads', or the one type a per-type service carries */
    readonly api: 'ads' | ResourceTypeUrl,
  ) {
    this.log = deps.log.child({ stream: this.id, peer: transport.peer });
  }

  /** The connection is TLS, so private keys may be sent on it. */
  get secure(): boolean {
    return this.transport.secure;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  get pendingTypes(): number {
    let n = 0;
    for (const st of this.types.values()) if (st.dirty) n++;
    return n;
  }

  /** Handle one request. Throws StreamError for requests that end the stream. */
  handle(req: SotwRequest | DeltaRequest): void {
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
    if (this.mode === 'sotw') this.handleSotw(st, req as SotwRequest);
    else this.handleDelta(st, req as DeltaRequest, first);
  }

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
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.blocked) this.deps.metrics.blockedStreams.dec();
    this.blocked = false; // a write completing after close would call drained() and decrement the gauge again
    this.types.clear();
    this.deps.onClose(this);
  }

  // --- requests -----------------------------------------------------------

  private acceptNode(node: NodeInfo | undefined): void {
    if (this.node) {
      // XDS_RULES 21: later requests may omit the node; another one is an error.
      if (node && node.id !== this.node.id) {
        throw new StreamError('INVALID_ARGUMENT', 'node_changed', `node changed on the stream from "${this.node.id}" to "${node.id}"`);
      }
      return;
    }
    if (!node || !node.id) {
      throw new StreamError('INVALID_ARGUMENT', 'no_node', 'the first request on a stream must carry node.id');
    }
    this.node = node;
    this.key = this.deps.cache.keyOf(node);
    this.snapshot = this.deps.cache.get(this.key) ?? Snapshot.empty();
    this.unwatch = this.deps.cache.watch(this.key, node, (next, changed) => this.onSnapshot(next, changed));
    this.deps.onNode(this);
    void this.proveIdentity();
  }

  private resolveType(typeUrl: string): ResourceTypeUrl | undefined {
    if (this.api !== 'ads') {
      // Per-type services imply their type; a different one is a client bug.
      if (typeUrl === '' || typeUrl === this.api) return this.api;
      throw new StreamError('INVALID_ARGUMENT', 'wrong_type', `type_url ${typeUrl} on the ${SHORT_NAMES[this.api]} service`);
    }
    if (typeUrl === '') {
      // XDS_RULES 22: on ADS the type cannot be inferred.
      throw new StreamError('INVALID_ARGUMENT', 'no_type_url', 'type_url is required on the aggregated discovery service');
    }
    if (!isKnownTypeUrl(typeUrl)) {
      // Unknown types are ignored, not fatal: the other types carry on.
      this.log.warn({ node: this.node?.id, typeUrl }, 'request for a resource type Trellis does not serve; ignored');
      this.deps.metrics.rejectedStreams.inc({ reason: 'unknown_type' });
      return undefined;
    }
    return typeUrl;
  }

  private handleSotw(st: TypeState, req: SotwRequest): void {
    const stale = req.response_nonce !== '' && req.response_nonce !== st.lastNonce;
    if (!stale && req.response_nonce !== '') this.acknowledge(st, req.response_nonce, req.version_info, req.error_detail);
    const before = st.sub;
    if (!repeatsSubscription(before, req.resource_names)) {
      const next = before.applySotw(req.resource_names);
      st.sub = next === before ? before : internSubscription(next);
    }
    // XDS_RULES 8: a name newly added to the list is resent even if the client
    // got it before (e.g. through the wildcard); "must resend any newly
    // requested resources" (xds_protocol.rst, resource hints).
    if (st.requested && st.sub !== before) for (const n of st.sub.names) if (!before.names.has(n)) st.force(n);
    if (!st.requested) {
      st.requested = true;
      st.answerEvenIfEmpty = st.sub.wildcard;
      st.dirty = true;
      if (this.alreadyHolds(st, req)) return;
    }
    if (st.sub !== before) st.dirty = true;
    // XDS_RULES 11: a stale nonce gets no response now. Its subscription is
    // kept (dirty) and is answered with the next response or with the
    // client's ACK of our latest response, so no change is lost.
    if (stale) return;
    if (st.dirty) this.scheduleFlush();
  }

  /**
   * A client reconnecting (after a Trellis restart, or to another replica)
   * names in its first request the version it runs. Versions are content
   * hashes (XDS_RULES 4), so if that is the version we would send, it holds
   * exactly this content: record it as sent and ACKed and send nothing.
   * That is what keeps a restart from becoming a push storm.
   */
  private alreadyHolds(st: TypeState, req: SotwRequest): boolean {
    if (!req.version_info || req.response_nonce !== '' || !this.deps.cache.get(this.key!)) return false;
    if (st.typeUrl === TypeUrl.Secret && this.identityState === 'pending') return false;
    const current = this.effectiveSet(st.typeUrl);
    if (current.version !== req.version_info) return false;
    st.sentSet = current;
    st.sentSub = st.sub;
    st.sentVersion = current.version;
    st.ackedSet = current;
    st.ackedVersion = req.version_info;
    st.ackedAt = Date.now();
    st.answerEvenIfEmpty = false;
    st.dirty = false;
    this.deps.metrics.resumed?.inc({ type: SHORT_NAMES[st.typeUrl] });
    return true;
  }

  private handleDelta(st: TypeState, req: DeltaRequest, first: boolean): void {
    if (req.response_nonce !== '') {
      const acked = st.inflight.get(req.response_nonce);
      if (acked) this.acknowledge(st, req.response_nonce, acked.version, req.error_detail);
    }
    if (first) {
      const initial = Object.entries(req.initial_resource_versions);
      if (initial.length > 0) st.clientHas = new Map(initial);
    }
    const prev = st.sub;
    // XDS_RULES 15: subscription changes apply whatever the nonce.
    const next = st.sub.applyDelta(req.resource_names_subscribe, req.resource_names_unsubscribe, first);
    st.sub = next === prev ? prev : internSubscription(next);
    for (const n of req.resource_names_subscribe) {
      // XDS_RULES 16: a subscribed name is provided even if the server thinks
      // the client has it, explicitly or through the wildcard ("the server
      // *must* still provide those resources"). Not on the first request, where
      // initial_resource_versions say what the client really holds (rule 14).
      if (n !== '*' && !first) st.force(n);
    }
    for (const n of req.resource_names_unsubscribe) {
      // XDS_RULES 16: dropping an explicit name still covered by the wildcard:
      // send the resource (or its removal) so the client's view is exact.
      if (n !== '*' && st.sub.wildcard && prev.names.has(n)) st.force(n);
    }
    if (first) {
      st.requested = true;
      st.answerEvenIfEmpty = st.sub.wildcard; // XDS_RULES 17
      st.dirty = true;
    }
    if (st.sub !== prev) st.dirty = true;
    if (st.dirty) this.scheduleFlush();
  }

  private acknowledge(st: TypeState, nonce: string, version: string, error: { code: number; message: string } | undefined): void {
    const type = SHORT_NAMES[st.typeUrl];
    const set = st.inflight.get(nonce);
    const now = Date.now();
    if (error) {
      // XDS_RULES 2–3: a NACK is a request with error_detail; record it, keep
      // the applied version, and do not resend until the resource changes
      // (the sent state already holds the rejected content).
      st.lastNack = { nonce, version: st.ackedVersion, rejectedVersion: set?.version ?? '', message: error.message, at: now };
      this.deps.metrics.nacks.inc({ type });
      this.log.warn({ node: this.node?.id, type, version: set?.version, message: error.message }, 'NACK');
      return;
    }
    st.ackedVersion = version;
    st.ackedAt = now;
    if (set) {
      st.ackedSet = set;
      st.supersedeBefore(nonce);
      if (set.createdAt >= this.connectedAt) this.deps.metrics.changeToAck.observe({ type }, (now - set.createdAt) / 1000);
    }
    this.deps.metrics.acks.inc({ type });
    // Clusters kept only because the client's acked routes named them may go now.
    if (st.typeUrl === TypeUrl.Listener || st.typeUrl === TypeUrl.Route) {
      const cds = this.types.get(TypeUrl.Cluster);
      if (cds?.requested) {
        cds.dirty = true;
        this.scheduleFlush();
      }
    }
  }

  private async proveIdentity(): Promise<void> {
    const verifier = this.deps.verifier;
    if (!verifier) {
      this.identityState = 'none';
      return;
    }
    // A verifier that throws must not become an unhandled rejection (which ends the process).
    const result = await verifier
      .verify(this.transport.metadata, this.node!.id)
      .catch((e: unknown): IdentityResult => ({ ok: false, reason: 'unavailable', message: e instanceof Error ? e.message : String(e) }));
    if (this.closed) return;
    if (result.ok) {
      this.identity = result.identity;
      this.identityState = 'proven';
      const sds = this.types.get(TypeUrl.Secret);
      if (sds) {
        sds.dirty = true;
        this.scheduleFlush();
      }
      return;
    }
    this.identityState = 'refused';
    this.deps.metrics.identityFailures.inc({ reason: result.reason });
    this.log.warn({ node: this.node?.id, reason: result.reason, message: result.message }, 'stream did not prove an identity; no secrets');
    if (this.deps.requireIdentity) {
      this.fail(new StreamError('UNAUTHENTICATED', 'identity', `identity not proven: ${result.message}`));
    }
  }

  /** Set by xds-server.ts: ends the call with a status. */
  onFatal: (err: StreamError) => void = () => {};

  private fail(err: StreamError): void {
    this.onFatal(err);
  }

  // --- snapshots and sending ---------------------------------------------

  private onSnapshot(next: Snapshot, changed: ReadonlySet<ResourceTypeUrl>): void {
    this.snapshot = next;
    let any = false;
    for (const t of changed) {
      const st = this.types.get(t);
      if (st?.requested) {
        st.dirty = true;
        any = true;
      }
    }
    if (any) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    // setImmediate coalesces the requests and changes of one event-loop turn.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private effectiveSet(typeUrl: ResourceTypeUrl): TypeSet {
    const set = this.snapshot.get(typeUrl);
    if (typeUrl === TypeUrl.Secret) {
      return secretsVisibleTo(set, this.transport.secure ? this.identity?.spiffeId : undefined);
    }
    if (this.api !== 'ads') return set;
    if (typeUrl === TypeUrl.Cluster) return withRetainedClusters(set, this.types);
    if (typeUrl === TypeUrl.Endpoint) return withRetainedEndpoints(set, this.effectiveSet(TypeUrl.Cluster), this.types);
    return set;
  }

  private flush(): void {
    if (this.closed || this.blocked || !this.node) return;
    // No config for this node yet (a restart before the source synced): say
    // nothing rather than an empty LDS/CDS, which would make a reconnecting
    // Envoy delete everything it is serving. The first snapshot flushes.
    if (!this.deps.cache.get(this.key!)) return;
    // XDS_RULES 18: one pass in push order, so within a flush the client
    // receives secrets and clusters before endpoints, listeners and routes.
    for (const typeUrl of PUSH_ORDER) {
      const st = this.types.get(typeUrl);
      if (!st || !st.requested || !st.dirty) continue;
      if (typeUrl === TypeUrl.Secret && this.identityState === 'pending') continue;
      st.dirty = false;
      const current = this.effectiveSet(typeUrl);
      const sent = this.mode === 'sotw' ? this.sendSotw(st, current) : this.sendDelta(st, current);
      if (sent && typeUrl === TypeUrl.Cluster) this.resendEndpointsOf(sent);
      // Endpoints kept only for clusters the client held may go once CDS moved on (XDS_RULES 18).
      if (typeUrl === TypeUrl.Cluster) this.markDirty(TypeUrl.Endpoint);
      if (this.blocked) break;
    }
  }

  private markDirty(typeUrl: ResourceTypeUrl): void {
    const st = this.types.get(typeUrl);
    if (st?.requested) st.dirty = true;
  }

  /** XDS_RULES 20: after a cluster update, send its endpoints again so warming ends. */
  private resendEndpointsOf(clusters: VersionedResource[]): void {
    const eds = this.types.get(TypeUrl.Endpoint);
    if (!eds?.requested) return;
    for (const c of clusters) for (const e of c.references.endpoints) if (eds.sub.covers(e, () => true)) eds.force(e);
  }

  /**
   * The client already holds what `current` says for everything it
   * subscribes to, so later diffs may start from `current`. (SotW cannot
   * express an EDS/RDS removal; the client drops those with their cluster or
   * listener.)
   */
  private nothingToSend(st: TypeState, current: TypeSet): void {
    st.forced = null; // else a forced name that does not exist would stay forced forever
    if (!st.sentSet) return;
    st.sentSet = current;
    st.sentSub = st.sub;
  }

  private nextNonce(): string {
    return (++this.nonce).toString(36);
  }

  /** @returns the clusters whose content changed in this response, or null if nothing was sent */
  private sendSotw(st: TypeState, current: TypeSet): VersionedResource[] | null {
    const { upsert, removed, dropped } = st.diff(current);
    const full = FULL_STATE_TYPES.has(st.typeUrl);
    // Full-state types also answer a shrunk subscription, so the client drops what it no longer asks for (XDS_RULES 9).
    if (upsert.length === 0 && !(full && (removed.length > 0 || dropped.length > 0)) && !st.answerEvenIfEmpty) {
      this.nothingToSend(st, current);
      return null;
    }
    // XDS_RULES 7: LDS and CDS always carry the full subscribed set.
    const resources = full ? st.covered(current) : upsert;
    const nonce = this.nextNonce();
    const bytes = encodeSotwResponse({
      versionInfo: current.version,
      typeUrl: st.typeUrl,
      nonce,
      resourceFields: resources.map((r) => r.sotwField),
    });
    st.recordSent(nonce, current, Date.now());
    this.write(st.typeUrl, bytes);
    return upsert;
  }

  private sendDelta(st: TypeState, current: TypeSet): VersionedResource[] | null {
    const { upsert, removed } = st.diff(current);
    if (upsert.length === 0 && removed.length === 0 && !st.answerEvenIfEmpty) {
      this.nothingToSend(st, current);
      return null;
    }
    const nonce = this.nextNonce();
    const bytes = encodeDeltaResponse({
      systemVersionInfo: current.version,
      typeUrl: st.typeUrl,
      nonce,
      resourceFields: upsert.map((r) => r.deltaField),
      removed,
    });
    st.recordSent(nonce, current, Date.now());
    this.write(st.typeUrl, bytes);
    return upsert;
  }

  private write(typeUrl: ResourceTypeUrl, bytes: Buffer): void {
    const type = SHORT_NAMES[typeUrl];
    this.deps.metrics.responses.inc({ type });
    this.deps.metrics.responseBytes.inc({ type }, bytes.length);
    if (bytes.length > LARGE_RESPONSE_BYTES) {
      this.deps.metrics.oversized.inc({ type });
      this.log.warn({ node: this.node?.id, type, bytes: bytes.length }, 'response nears the 4 MiB default receive limit of gRPC clients');
    }
    if (!this.transport.write(bytes)) {
      this.blocked = true;
      this.deps.metrics.blockedStreams.inc();
    }
  }
}
