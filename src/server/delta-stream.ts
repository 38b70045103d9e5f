/**
 * The incremental (delta) variant: requests subscribe and unsubscribe names
 * relative to what came before and ACK by nonce; responses carry only what
 * changed, each resource with its own version, and removals by name
 * (xds_protocol.rst, "Incremental xDS"; XDS_RULES 12–17).
 */
import type { TypeSet, VersionedResource } from '../cache/config-watcher.ts';
import { decodeDeltaRequest, encodeDeltaResponse, type DeltaRequest } from '../xds/wire.ts';
import { SHORT_NAMES } from '../xds/type-urls.ts';
import { checkRequest, DELTA_SHAPE } from '../xds/request-scan.ts';
import type { Subscription, SubscriptionChange } from './subscription.ts';
import type { TypeState } from './type-state.ts';
import { XdsStream } from './stream.ts';

/**
 * What a request's subscribe and unsubscribe lists do to the type's
 * subscription. `first`: the type's first request on the stream, where an
 * empty subscribe list is the legacy wildcard (XDS_RULES 9) and
 * initial_resource_versions, not a resend, say what the client holds
 * (XDS_RULES 14).
 */
export function deltaSubscriptionChange(before: Subscription, subscribe: readonly string[], unsubscribe: readonly string[], first: boolean): SubscriptionChange {
  const sub = before.applyDelta(subscribe, unsubscribe, first);
  const resend: string[] = [];
  // XDS_RULES 16: a subscribed name is provided even if the server thinks the
  // client has it, explicitly or through the wildcard ("the server *must*
  // still provide those resources").
  if (!first) for (const n of subscribe) if (n !== '*') resend.push(n);
  // XDS_RULES 16: dropping an explicit name still covered by the wildcard:
  // send the resource (or its removal) so the client's view is exact.
  for (const n of unsubscribe) if (n !== '*' && sub.wildcard && before.names.has(n)) resend.push(n);
  return { sub, resend };
}

export class DeltaStream extends XdsStream<DeltaRequest> {
  readonly mode = 'delta';
  protected readonly requestName = 'DeltaDiscoveryRequest';

  protected decode(bytes: Buffer): DeltaRequest {
    checkRequest(bytes, DELTA_SHAPE, this.requestBudget);
    return decodeDeltaRequest(bytes);
  }

  protected request(st: TypeState, req: DeltaRequest, first: boolean): void {
    if (req.response_nonce !== '') {
      const acked = st.inflightSet(req.response_nonce);
      if (acked) this.acknowledge(st, req.response_nonce, acked.version, req.error_detail);
    }
    if (first) st.clientHolds(new Map(Object.entries(req.initial_resource_versions)));
    // XDS_RULES 15: subscription changes apply whatever the nonce.
    const { sub, resend } = deltaSubscriptionChange(st.subscription, req.resource_names_subscribe, req.resource_names_unsubscribe, first);
    this.admit(st, sub);
    st.subscribe(sub, resend);
    if (first) st.open();
    if (st.dirty) this.scheduleFlush();
  }

  protected send(st: TypeState, current: TypeSet): readonly VersionedResource[] | null {
    const { upsert, removed } = st.diff(current);
    if (upsert.length === 0 && removed.length === 0 && !st.mustAnswer) {
      if (st.reconnecting) {
        // XDS_RULES 14: the versions the client named on reconnect are exactly
        // `current` (the diff is over them too), so it runs this content, as a
        // SotW client that names the current version (SotwStream.alreadyHolds):
        // record it as sent and ACKed, so the proxies view and "in sync" say so.
        st.resume(current, Date.now());
        this.deps.metrics.resumed.inc({ type: SHORT_NAMES[st.typeUrl] });
        return null;
      }
      st.nothingToSend(current);
      return null;
    }
    const nonce = this.nextNonce();
    const bytes = encodeDeltaResponse({
      systemVersionInfo: current.version,
      typeUrl: st.typeUrl,
      nonce,
      resourceFields: st.deltaFields(upsert, current),
      removed,
    });
    st.recordSent(nonce, current, Date.now());
    this.write(st.typeUrl, bytes);
    return upsert;
  }
}
