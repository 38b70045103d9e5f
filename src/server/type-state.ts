/**
 * One stream's state for one resource type, its transitions (request,
 * send, ACK, NACK) and the pure computation of what to send next. The
 * fields are private: the stream variants drive it through its methods, and
 * everyone else reads status() (sync-status.ts).
 *
 * What the client holds is kept as (the TypeSet we last sent from, the
 * Subscription it covered) — two references shared with every other stream at
 * the same point — instead of a per-name copy. Every send sends *all* the
 * differences, so that pair always describes the client exactly. This keeps a
 * stream's memory independent of the mesh size (DESIGN: ≤ 100 KiB a stream).
 */
import type { TypeSet, VersionedResource } from '../cache/config-watcher.ts';
import type { ResourceTypeUrl } from '../xds/type-urls.ts';
import { internSubscription, Subscription } from './subscription.ts';
import type { HeldResource, NackStatus, TypeSyncStatus } from './sync-status.ts';
import { firstAnswer, layeredFields, upsertFields } from './shared-fields.ts';

/** Bounded so a client that never ACKs cannot grow it. */
const MAX_INFLIGHT = 8;

/** Shared between streams where it can be (shared-fields.ts): read, never changed. */
export interface Diff {
  upsert: readonly VersionedResource[];
  removed: readonly string[];
  /** names the client holds that the subscription no longer asks for */
  dropped: string[];
}

const UNKNOWN = Symbol('unknown');
const ABSENT = Symbol('absent');

export class TypeState {
  private sub: Subscription = Subscription.NONE;
  /** The client has sent at least one request for this type. */
  private isRequested = false;
  /** Answer the next flush even if nothing differs (first wildcard request: XDS_RULES 17). */
  private answerEvenIfEmpty = false;
  /** Something may differ between what the client holds and what it should hold. */
  private isDirty = false;

  private sent: TypeSet | null = null;
  private sentSub: Subscription = Subscription.NONE;
  private sentAt = 0;
  /** version_info of the last response actually sent (`sent` may move on without a send). */
  private sentVersion = '';
  private lastNonce = '';
  /** Names to send again even if unchanged (XDS_RULES 16, 20). */
  private forced: Set<string> | null = null;
  /** Delta reconnect: versions the client says it holds, until our first send (XDS_RULES 14). */
  private clientHas: Map<string, string> | null = null;

  private acked: TypeSet | null = null;
  private ackedVersion = '';
  private ackedAt = 0;
  private lastNack: NackStatus | null = null;
  /** The client's latest answer was a NACK. */
  private rejected = false;
  /** Sent and not yet superseded by an ACK, by nonce, oldest first. */
  private readonly inflight = new Map<string, TypeSet>();

  constructor(readonly typeUrl: ResourceTypeUrl) {}

  // --- requests --------------------------------------------------------------

  get subscription(): Subscription {
    return this.sub;
  }

  get requested(): boolean {
    return this.isRequested;
  }

  get dirty(): boolean {
    return this.isDirty;
  }

  /** The first request of the type on the stream: it gets an answer. */
  open(): void {
    this.isRequested = true;
    this.answerEvenIfEmpty = this.sub.wildcard; // XDS_RULES 17
    this.isDirty = true;
  }

  /** A request changed the subscription (or not); `resend` are names to send again even if unchanged. */
  subscribe(next: Subscription, resend: readonly string[]): void {
    if (next !== this.sub) {
      this.sub = internSubscription(next);
      this.isDirty = true;
    }
    for (const n of resend) this.force(n);
  }

  force(name: string): void {
    (this.forced ??= new Set()).add(name);
    this.isDirty = true;
  }

  /** Something changed that may concern the client; false if it never asked for the type. */
  markDirty(): boolean {
    if (!this.isRequested) return false;
    this.isDirty = true;
    return true;
  }

  /** A flush takes the type: the send below decides what, if anything, goes out. */
  clearDirty(): void {
    this.isDirty = false;
  }

  /** Delta reconnect: the versions the client says it holds (XDS_RULES 14). */
  clientHolds(versions: ReadonlyMap<string, string>): void {
    if (versions.size > 0) this.clientHas = new Map(versions);
  }

  /** The client holds nothing of this type that we know of: the next send carries everything subscribed. */
  get holdsNothing(): boolean {
    return this.sent === null && this.clientHas === null;
  }

  /** Delta: the client said what it holds (initial_resource_versions) and nothing was sent since. */
  get reconnecting(): boolean {
    return this.clientHas !== null && this.sent === null;
  }

  /** SotW: a response nonce other than the latest sent for the type (XDS_RULES 11). */
  isStale(nonce: string): boolean {
    return nonce !== '' && nonce !== this.lastNonce;
  }

  /** The set sent with `nonce`, while it may still be ACKed. */
  inflightSet(nonce: string): TypeSet | undefined {
    return this.inflight.get(nonce);
  }

  // --- answers ---------------------------------------------------------------

  /**
   * An ACK of `nonce` at `version`: the client runs it. Responses sent before
   * it are superseded (a client applies responses in order), so only it and
   * later ones may still be running. Returns the set it acknowledged, if known.
   */
  ack(nonce: string, version: string, now: number): TypeSet | undefined {
    const set = this.inflight.get(nonce);
    this.ackedVersion = version;
    this.ackedAt = now;
    this.rejected = false;
    if (set) {
      this.acked = set;
      for (const n of this.inflight.keys()) {
        if (n === nonce) break;
        this.inflight.delete(n);
      }
    }
    return set;
  }

  /**
   * XDS_RULES 2–3: a NACK of `nonce` is recorded and leaves the applied
   * version; the rejected content is not resent until it changes (the sent
   * state already holds it).
   */
  nack(nonce: string, message: string, now: number): NackStatus {
    const rejectedVersion = this.inflight.get(nonce)?.version ?? '';
    this.lastNack = { rejectedVersion, stillRunning: this.ackedVersion, message, at: now };
    this.rejected = true;
    return this.lastNack;
  }

  /**
   * A reconnecting client already runs `current` (its request named that
   * version): record it as sent and ACKed, so nothing is resent.
   */
  resume(current: TypeSet, now: number): void {
    this.clientHas = null;
    this.sent = current;
    this.sentSub = this.sub;
    this.sentVersion = current.version;
    this.acked = current;
    this.ackedVersion = current.version;
    this.ackedAt = now;
    this.answerEvenIfEmpty = false;
    this.isDirty = false;
  }

  // --- sending ---------------------------------------------------------------

  /** Whether the next flush must answer even if nothing differs. */
  get mustAnswer(): boolean {
    return this.answerEvenIfEmpty;
  }

  recordSent(nonce: string, set: TypeSet, now: number): void {
    this.sent = set;
    this.sentSub = this.sub;
    this.sentAt = now;
    this.sentVersion = set.version;
    this.lastNonce = nonce;
    this.forced = null;
    this.clientHas = null;
    this.answerEvenIfEmpty = false;
    this.inflight.set(nonce, set);
    if (this.inflight.size > MAX_INFLIGHT) this.inflight.delete(this.inflight.keys().next().value!);
  }

  /**
   * Nothing to send: the client already holds what `current` says for
   * everything it subscribes to, so later diffs may start from `current`.
   * (SotW cannot express an EDS/RDS removal; the client drops those with
   * their cluster or listener.)
   */
  nothingToSend(current: TypeSet): void {
    this.forced = null; // else a forced name that does not exist would stay forced forever
    if (!this.sent) return;
    this.sent = current;
    this.sentSub = this.sub;
  }

  /** The set the client's view is computed from (what was last sent, or found equal since). */
  get sentSet(): TypeSet | null {
    return this.sent;
  }

  /**
   * Sets the client may be running: the ACKed one, the last sent and any
   * unACKed in flight (one whose ACK arrived stale, XDS_RULES 11, may be what
   * the client runs if it NACKs the newer one).
   */
  *mayRun(): Iterable<TypeSet> {
    if (this.acked) yield this.acked;
    if (this.sent) yield this.sent;
    yield* this.inflight.values();
  }

  /** Is `name` among what the client holds, and at which version? */
  private clientView(name: string): string | typeof UNKNOWN | typeof ABSENT {
    if (this.clientHas) return this.clientHas.get(name) ?? UNKNOWN;
    const sent = this.sent;
    if (!sent) return UNKNOWN;
    const r = sent.get(name);
    if (this.sentSub.names.has(name) || (this.sentSub.wildcard && r)) return r ? r.version : ABSENT;
    return UNKNOWN;
  }

  private candidates(current: TypeSet): Iterable<string> {
    if (this.sent && this.sentSub === this.sub && !this.clientHas) {
      const changed = current.changedSince(this.sent);
      if (!this.forced) return changed;
      // XDS_RULES 20 after a cluster change: the changed names and the few forced, not every subscribed name.
      const names = new Set(changed);
      for (const n of this.forced) names.add(n);
      return names;
    }
    const names = new Set<string>(this.sub.names);
    if (this.sub.wildcard) for (const n of current.items.keys()) names.add(n);
    if (this.sent) {
      for (const n of this.sentSub.names) names.add(n);
      if (this.sentSub.wildcard) for (const n of this.sent.items.keys()) names.add(n);
    }
    for (const n of this.forced ?? []) names.add(n);
    for (const n of this.clientHas?.keys() ?? []) names.add(n);
    return names;
  }

  /** What differs between what the client holds and `current`, restricted to the subscription. */
  diff(current: TypeSet): Diff {
    // A first wildcard answer (what every sidecar asks first for CDS and LDS):
    // everything, in the set's order; what the loop below would find, without
    // a name set and a lookup per resource (issue 14: initial sync).
    if (!this.sent && !this.clientHas && !this.forced && this.sub.wildcard && this.sub.names.size === 0) {
      return { upsert: [...current.items.values()], removed: [], dropped: [] };
    }
    // A first answer to explicit names (what every sidecar asks first for EDS
    // and RDS): each existing name, and each missing one as removed (XDS_RULES 13).
    if (!this.sent && !this.clientHas && !this.forced && !this.sub.wildcard) return { ...firstAnswer(current, this.sub), dropped: [] };
    const upsert: VersionedResource[] = [];
    const removed: string[] = [];
    const dropped: string[] = [];
    for (const name of this.candidates(current)) {
      const now = current.get(name);
      const before = this.clientView(name);
      const forced = this.forced?.has(name) ?? false;
      const explicit = this.sub.names.has(name);
      // Whether the subscription wants the name, existing or not: `covers()` is
      // false for a deleted name under a wildcard, which hid every removal from
      // wildcard subscribers (XDS_RULES 7, 12, 14).
      if (!explicit && !this.sub.wildcard) {
        if (typeof before === 'string') dropped.push(name);
        continue;
      }
      if (!now) {
        if (before === ABSENT && !forced) continue;
        // Under a wildcard, a name the client never had needs no removal;
        // an explicitly subscribed one is answered as removed (XDS_RULES 13).
        if (before === UNKNOWN && !forced && !explicit) continue;
        removed.push(name);
      } else if (forced || before !== now.version) {
        upsert.push(now);
      }
    }
    return { upsert, removed, dropped };
  }

  /**
   * Everything the subscription covers in `current`, as the response's
   * resource fields (SotW full-state responses). A wildcard over a layered set
   * (a proxy's clusters: its scope's shared base and its own) takes the base's
   * fields as one buffer made once per base: a thousand streams sending the
   * same 1,200 shared clusters then copy one buffer each instead of gathering
   * 1,200 (issue 14).
   */
  coveredFields(current: TypeSet): Buffer[] {
    if (this.sub.wildcard && current.layers) return layeredFields(current.layers, 'sotwField');
    return upsertFields(this.covered(current), current, this.sub, 'sotwField');
  }

  /**
   * A SotW response's resource fields for `upsert` (types that may send only
   * what changed): one buffer shared by every stream of the same
   * subscription when it is everything covered (shared-fields.ts).
   */
  sotwFields(upsert: readonly VersionedResource[], current: TypeSet): Buffer[] {
    return upsertFields(upsert, current, this.sub, 'sotwField');
  }

  /**
   * A delta response's resource fields for `upsert`. When it is the whole of
   * a layered set (a sidecar's first CDS answer, or a resend of everything),
   * the shared base goes as one buffer made once per base, as in
   * coveredFields. `upsert` comes from diff(current): distinct names, each
   * current's resource, so its size equal to the set's means all of it.
   */
  deltaFields(upsert: readonly VersionedResource[], current: TypeSet): Buffer[] {
    if (current.layers && upsert.length === current.items.size) return layeredFields(current.layers, 'deltaField');
    return upsertFields(upsert, current, this.sub, 'deltaField');
  }

  /** Everything the subscription covers in `current`. */
  covered(current: TypeSet): VersionedResource[] {
    if (this.sub.wildcard) return [...current.items.values()];
    const out: VersionedResource[] = [];
    for (const n of this.sub.names) {
      const r = current.get(n);
      if (r) out.push(r);
    }
    return out;
  }

  // --- reading -----------------------------------------------------------------

  status(): TypeSyncStatus {
    return {
      typeUrl: this.typeUrl,
      subscription: this.sub,
      sentVersion: this.sentVersion || null,
      sentAt: this.sentAt || null,
      ackedVersion: this.ackedVersion || null,
      ackedAt: this.ackedAt || null,
      pending: this.isDirty,
      awaitingAck: this.ackedVersion !== this.sentVersion,
      lastNack: this.lastNack,
      rejected: this.rejected,
    };
  }

  /** What the client holds now (per what we sent), each ACKed, NACKed or only sent. */
  held(): HeldResource[] {
    if (!this.sent) return [];
    const list = this.sentSub.wildcard ? [...this.sent.items.values()] : [...this.sentSub.names].flatMap((n) => this.sent!.get(n) ?? []);
    const nack = this.lastNack !== null && this.lastNack.rejectedVersion === this.sentVersion ? this.lastNack : null;
    return list.map((resource) => {
      if (this.acked?.get(resource.name) === resource) return { typeUrl: this.typeUrl, resource, status: 'ACKED' };
      if (nack) return { typeUrl: this.typeUrl, resource, status: 'NACKED', nackMessage: nack.message };
      return { typeUrl: this.typeUrl, resource, status: 'SENT' };
    });
  }
}
