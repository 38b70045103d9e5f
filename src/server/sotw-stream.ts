/**
 * The state-of-the-world variant: every request carries the type's whole
 * subscription and, after the first, the ACK or NACK of the latest response;
 * a response carries a version for the whole type, and for LDS and CDS the
 * full subscribed set (xds_protocol.rst, "Basic Protocol Overview").
 */
import type { TypeSet, VersionedResource } from '../cache/config-watcher.ts';
import { FULL_STATE_TYPES, SHORT_NAMES, TypeUrl } from '../xds/type-urls.ts';
import { decodeSotwRequest, encodeSotwResponse, type SotwRequest } from '../xds/wire.ts';
import { SotwRequestReader } from '../xds/sotw-request-reader.ts';
import { checkRequest, SOTW_SHAPE } from '../xds/request-scan.ts';
import { applySotwShared, type Subscription, type SubscriptionChange } from './subscription.ts';
import type { TypeState } from './type-state.ts';
import { XdsStream } from './stream.ts';

/**
 * The request names exactly `sub`'s names in the same order: the usual ACK,
 * which repeats the list. Checked without building a Set, because on a change
 * every stream ACKs with the full list (1,000 EDS names in the benchmark) and
 * building and comparing a new Subscription per ACK was the largest cost of a
 * push. Equivalent to `sub.applySotw(list) === sub`.
 */
function repeatsSubscription(sub: Subscription, list: readonly string[]): boolean {
  if (list.length === 0 || sub.wildcard || !sub.everNamed || list.length !== sub.names.size) return false;
  // Streams share both the subscription (interned) and the list (the request
  // reader's, shared by every stream that sent the same bytes): compare each
  // pair once, not once per ACK of every stream (issue 14, 10,000 streams).
  if (knownRepeats.get(sub) === list) return true;
  let i = 0;
  for (const n of sub.names) if (list[i++] !== n) return false;
  if (Object.isFrozen(list)) knownRepeats.set(sub, list);
  return true;
}

/** Per subscription, a frozen (so unchanging) name list found to repeat it. */
const knownRepeats = new WeakMap<Subscription, readonly string[]>();

/**
 * What a request's `resource_names` do to the type's subscription. `requested`:
 * the type was requested before on the stream. XDS_RULES 8: a name newly
 * added to the list is resent even if the client got it before (e.g. through
 * the wildcard); "must resend any newly requested resources" (xds_protocol.rst,
 * resource hints). XDS_RULES 9: wildcard rules in Subscription.applySotw.
 */
export function sotwSubscriptionChange(before: Subscription, names: readonly string[], requested: boolean): SubscriptionChange {
  const sub = repeatsSubscription(before, names) ? before : applySotwShared(before, names);
  const resend = requested && sub !== before ? [...sub.names].filter((n) => !before.names.has(n)) : [];
  return { sub, resend };
}

export class SotwStream extends XdsStream<SotwRequest> {
  readonly mode = 'sotw';
  protected readonly requestName = 'DiscoveryRequest';
  private readonly reader = new SotwRequestReader(this.deps.limits.maxNamesPerRequest);

  protected decode(bytes: Buffer): SotwRequest {
    const lean = this.reader.read(bytes);
    if (lean) return lean;
    checkRequest(bytes, SOTW_SHAPE, this.requestBudget);
    const req = decodeSotwRequest(bytes);
    this.reader.forget(req.type_url);
    return req;
  }

  protected request(st: TypeState, req: SotwRequest): void {
    const stale = st.isStale(req.response_nonce);
    if (!stale && req.response_nonce !== '') this.acknowledge(st, req.response_nonce, req.version_info, req.error_detail);
    const { sub, resend } = sotwSubscriptionChange(st.subscription, req.resource_names, st.requested);
    this.admit(st, sub);
    st.subscribe(sub, resend);
    if (!st.requested) {
      st.open();
      if (this.alreadyHolds(st, req)) return;
    }
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
    if (!req.version_info || req.response_nonce !== '' || !this.snapshot) return false;
    if (st.typeUrl === TypeUrl.Secret && this.identityPending) return false;
    const current = this.effectiveSet(st.typeUrl);
    if (current.version !== req.version_info) return false;
    st.resume(current, Date.now());
    this.deps.metrics.resumed.inc({ type: SHORT_NAMES[st.typeUrl] });
    return true;
  }

  protected send(st: TypeState, current: TypeSet): readonly VersionedResource[] | null {
    const { upsert, removed, dropped } = st.diff(current);
    const full = FULL_STATE_TYPES.has(st.typeUrl);
    // Full-state types also answer a shrunk subscription, so the client drops what it no longer asks for (XDS_RULES 9).
    if (upsert.length === 0 && !(full && (removed.length > 0 || dropped.length > 0)) && !st.mustAnswer) {
      st.nothingToSend(current);
      return null;
    }
    // XDS_RULES 7: LDS and CDS always carry the full subscribed set.
    const nonce = this.nextNonce();
    const bytes = encodeSotwResponse({
      versionInfo: current.version,
      typeUrl: st.typeUrl,
      nonce,
      resourceFields: full ? st.coveredFields(current) : st.sotwFields(upsert, current),
    });
    st.recordSent(nonce, current, Date.now());
    this.write(st.typeUrl, bytes);
    return upsert;
  }
}
