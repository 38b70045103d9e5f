/**
 * What one stream asked for, for one type. Immutable values: a change makes a
 * new Subscription, so "what the client asked for when we last sent" can be
 * kept by reference, with no per-name copy per stream.
 *
 * Wildcard rules (xds_protocol.rst, "How the client specifies what resources
 * to return"; XDS_RULES 9): an empty first request is a legacy wildcard; `*`
 * asks for wildcard explicitly and may sit beside names; once names were
 * given, an empty list means nothing.
 */
import { Interner } from '../interner.ts';

const EMPTY: ReadonlySet<string> = new Set();

export class Subscription {
  private constructor(
    readonly wildcard: boolean,
    readonly names: ReadonlySet<string>,
    /** A non-empty name list was sent at some point on this stream for this type. */
    readonly everNamed: boolean,
  ) {}

  static readonly NONE = new Subscription(false, EMPTY, false);

  private charCount = -1;

  /** Characters of all the names: the stream's memory budget counts them (limits.ts). */
  get chars(): number {
    if (this.charCount < 0) {
      let n = 0;
      for (const name of this.names) n += name.length;
      this.charCount = n;
    }
    return this.charCount;
  }

  /** State-of-the-world: each request carries the whole list. */
  applySotw(list: readonly string[]): Subscription {
    if (list.length === 0) {
      const next = new Subscription(!this.everNamed, EMPTY, this.everNamed);
      return this.equals(next) ? this : next;
    }
    const names = new Set(list);
    const wildcard = names.delete('*');
    const next = new Subscription(wildcard, names, true);
    return this.equals(next) ? this : next;
  }

  /**
   * Delta: changes relative to the current subscription. `first` is true for
   * the first request of the type on the stream, where an empty subscribe
   * list is the legacy wildcard.
   */
  applyDelta(subscribe: readonly string[], unsubscribe: readonly string[], first: boolean): Subscription {
    // An ACK names nothing: no copy of a 1,200-name set per ACK (issue 14: 1,000 streams ACKing a push).
    if (!first && subscribe.length === 0 && unsubscribe.length === 0) return this;
    let wildcard = this.wildcard;
    let everNamed = this.everNamed;
    const names = new Set(this.names);
    if (first && subscribe.length === 0) wildcard = true;
    for (const n of subscribe) {
      if (n === '*') wildcard = true;
      else {
        names.add(n);
        everNamed = true;
      }
    }
    for (const n of unsubscribe) {
      if (n === '*') wildcard = false;
      else names.delete(n);
    }
    const next = new Subscription(wildcard, names, everNamed);
    return this.equals(next) ? this : next;
  }

  /** Does the subscription ask for `name`, given the names that exist? */
  covers(name: string, exists: (name: string) => boolean): boolean {
    return this.names.has(name) || (this.wildcard && exists(name));
  }

  get isEmpty(): boolean {
    return !this.wildcard && this.names.size === 0;
  }

  equals(other: Subscription): boolean {
    if (this.wildcard !== other.wildcard || this.everNamed !== other.everNamed) return false;
    if (this.names.size !== other.names.size) return false;
    for (const n of this.names) if (!other.names.has(n)) return false;
    return true;
  }

  toJSON(): { wildcard: boolean; names: string[] } {
    return { wildcard: this.wildcard, names: [...this.names].sort() };
  }
}

/** What one request does to a type's subscription (sotw-stream.ts, delta-stream.ts). */
export interface SubscriptionChange {
  sub: Subscription;
  /** names to send again even if the client holds them at the current version (XDS_RULES 8, 16) */
  resend: readonly string[];
}

/**
 * Subscriptions shared by content: a thousand Envoys subscribed to the same
 * thousand EDS names share one Set instead of holding one each (~50 KiB a
 * stream otherwise; DESIGN: ≤ 100 KiB a stream). Safe because a Subscription
 * is immutable; the key keeps the names' order, so lists that differ only in
 * order are merely not shared.
 */
const interned = new Interner<Subscription>();

/** Subscriptions that are their content's interned one: interning them again builds no key (issue 14). */
const isInterned = new WeakSet<Subscription>();

export function internSubscription(sub: Subscription): Subscription {
  if (isInterned.has(sub)) return sub;
  const shared = interned.intern(`${sub.wildcard ? 1 : 0}${sub.everNamed ? 1 : 0}\0${[...sub.names].join('\0')}`, () => sub);
  isInterned.add(shared);
  return shared;
}

/** (shared name list, subscription before) -> interned subscription after: see applySotwShared. */
const appliedSotw = new WeakMap<readonly string[], WeakMap<Subscription, Subscription>>();

/**
 * `before.applySotw(list)`, interned, remembered when `list` is a frozen list
 * shared by many streams (xds/sotw-request-reader.ts shares equal name lists):
 * a thousand sidecars' first EDS request with the same thousand names then
 * build one Set and one interning key between them, not one each (issue 14:
 * ~a quarter of the server's CPU in an initial sync).
 */
export function applySotwShared(before: Subscription, list: readonly string[]): Subscription {
  if (!Object.isFrozen(list)) return before.applySotw(list);
  let byBefore = appliedSotw.get(list);
  if (!byBefore) appliedSotw.set(list, (byBefore = new WeakMap()));
  let after = byBefore.get(before);
  if (!after) {
    const next = before.applySotw(list);
    after = next === before ? before : internSubscription(next);
    byBefore.set(before, after);
  }
  return after;
}
