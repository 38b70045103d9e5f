/**
 * One stream's state for one resource type, and the pure computation of what
 * to send next.
 *
 * What the client holds is kept as (the TypeSet we last sent from, the
 * Subscription it covered) — two references shared with every other stream at
 * the same point — instead of a per-name copy. Every send sends *all* the
 * differences, so that pair always describes the client exactly. This keeps a
 * stream's memory independent of the mesh size (DESIGN: ≤ 100 KiB a stream).
 */
import { changedNames } from '../cache/snapshot-cache.ts';
import type { VersionedResource } from '../cache/resource.ts';
import type { TypeSet } from '../cache/snapshot.ts';
import type { ResourceTypeUrl } from '../xds/type-urls.ts';
import { Subscription } from './subscription.ts';

/** Bounded so a client that never ACKs cannot grow it. */
const MAX_INFLIGHT = 8;

export interface NackRecord {
  nonce: string;
  /** the version the client still runs (XDS_RULES 3: a NACK leaves it) */
  version: string;
  /** the version it rejected */
  rejectedVersion: string;
  message: string;
  at: number;
}

export class TypeState {
  sub: Subscription = Subscription.NONE;
  /** The client has sent at least one request for this type. */
  requested = false;
  /** Answer the next flush even if nothing differs (first wildcard request: XDS_RULES 17). */
  answerEvenIfEmpty = false;
  /** Something may differ between what the client holds and what it should hold. */
  dirty = false;

  sentSet: TypeSet | null = null;
  sentSub: Subscription = Subscription.NONE;
  sentAt = 0;
  /** version_info of the last response actually sent (sentSet may move on without a send). */
  sentVersion = '';
  lastNonce = '';
  /** Names to send again even if unchanged (XDS_RULES 16, 20). */
  forced: Set<string> | null = null;
  /** Delta reconnect: versions the client says it holds, until our first send (XDS_RULES 14). */
  clientHas: Map<string, string> | null = null;

  ackedSet: TypeSet | null = null;
  ackedVersion = '';
  ackedAt = 0;
  lastNack: NackRecord | null = null;
  readonly inflight = new Map<string, TypeSet>();

  constructor(readonly typeUrl: ResourceTypeUrl) {}

  force(name: string): void {
    (this.forced ??= new Set()).add(name);
    this.dirty = true;
  }

  recordSent(nonce: string, set: TypeSet, now: number): void {
    this.sentSet = set;
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
   * An ACK of `nonce`: responses sent before it are superseded (a client
   * applies responses in order), so only it and later ones may be running.
   */
  supersedeBefore(nonce: string): void {
    if (!this.inflight.has(nonce)) return;
    for (const n of this.inflight.keys()) {
      if (n === nonce) break;
      this.inflight.delete(n);
    }
  }

  /** Is `name` among what the client holds, and at which version? */
  private clientView(name: string): string | typeof UNKNOWN | typeof ABSENT {
    if (this.clientHas) return this.clientHas.get(name) ?? UNKNOWN;
    const sent = this.sentSet;
    if (!sent) return UNKNOWN;
    const r = sent.get(name);
    if (this.sentSub.names.has(name) || (this.sentSub.wildcard && r)) return r ? r.version : ABSENT;
    return UNKNOWN;
  }

  private candidates(current: TypeSet): Iterable<string> {
    if (this.sentSet && this.sentSub === this.sub && !this.forced && !this.clientHas) {
      return changedNames(this.sentSet, current);
    }
    const names = new Set<string>(this.sub.names);
    if (this.sub.wildcard) for (const n of current.items.keys()) names.add(n);
    if (this.sentSet) {
      for (const n of this.sentSub.names) names.add(n);
      if (this.sentSub.wildcard) for (const n of this.sentSet.items.keys()) names.add(n);
    }
    for (const n of this.forced ?? []) names.add(n);
    for (const n of this.clientHas?.keys() ?? []) names.add(n);
    return names;
  }

  /** What differs between what the client holds and `current`, restricted to the subscription. */
  diff(current: TypeSet): Diff {
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

  /** Everything the subscription covers in `current` (SotW full-state responses). */
  covered(current: TypeSet): VersionedResource[] {
    if (this.sub.wildcard) return [...current.items.values()];
    const out: VersionedResource[] = [];
    for (const n of this.sub.names) {
      const r = current.get(n);
      if (r) out.push(r);
    }
    return out;
  }

  /** Names the client holds now (per what we sent), for config dumps. */
  held(): VersionedResource[] {
    if (!this.sentSet) return [];
    if (this.sentSub.wildcard) return [...this.sentSet.items.values()];
    const out: VersionedResource[] = [];
    for (const n of this.sentSub.names) {
      const r = this.sentSet.get(n);
      if (r) out.push(r);
    }
    return out;
  }
}

export interface Diff {
  upsert: VersionedResource[];
  removed: string[];
  /** names the client holds that the subscription no longer asks for */
  dropped: string[];
}

const UNKNOWN = Symbol('unknown');
const ABSENT = Symbol('absent');
