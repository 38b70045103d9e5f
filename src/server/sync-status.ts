/**
 * What each connected proxy holds, per node, stream and type (XDS_RULES 30):
 * what it asked for, what was sent, what it ACKed, what is pending and its
 * last NACK. The one read-only view of the server's stream state: the admin
 * API, the "Programmed on N of M proxies" status, the demo's readiness check,
 * the benchmarks and the tests all read this, never the streams.
 *
 * "In sync" is defined here and nowhere else (typeInSync).
 */
import type { VersionedResource } from '../cache/config-watcher.ts';
import type { ResourceTypeUrl } from '../xds/type-urls.ts';
import type { NodeInfo } from '../xds/wire.ts';
import type { Subscription } from './subscription.ts';

export interface NackStatus {
  /** the version the client rejected */
  rejectedVersion: string;
  /** the version it still runs (XDS_RULES 3: a NACK leaves it) */
  stillRunning: string;
  message: string;
  /** ms since epoch */
  at: number;
}

/** One stream, one type. Times are ms since epoch, null when it never happened. */
export interface TypeSyncStatus {
  typeUrl: ResourceTypeUrl;
  /** What the client asks for (immutable, shared between streams: do not hold it for long). */
  subscription: Subscription;
  /** version_info of the last response sent */
  sentVersion: string | null;
  sentAt: number | null;
  /** the version the client last ACKed: what it runs */
  ackedVersion: string | null;
  ackedAt: number | null;
  /** Something may differ between what the client holds and what it should hold: a send is due. */
  pending: boolean;
  /** The last response sent is not ACKed (yet, or it was NACKed). */
  awaitingAck: boolean;
  lastNack: NackStatus | null;
  /** The client's latest answer for this type is a NACK (lastNack stays visible after a later ACK). */
  rejected: boolean;
}

export interface StreamSyncStatus {
  id: number;
  api: 'ads' | ResourceTypeUrl;
  mode: 'sotw' | 'delta';
  connectedAt: number;
  /** SPIFFE ID the stream proved, if it did */
  identity: string | null;
  identityState: 'pending' | 'proven' | 'refused' | 'none';
  /** TLS connection (secrets may be sent on it) */
  secure: boolean;
  /** the client is not reading: the stream waits with at most the latest state per type */
  blocked: boolean;
  /** in the order the client first asked for them */
  types: TypeSyncStatus[];
}

export interface NodeSyncStatus {
  node: NodeInfo;
  streams: StreamSyncStatus[];
}

/** A resource a proxy holds (per what was sent to it) and what became of it. */
export interface HeldResource {
  typeUrl: ResourceTypeUrl;
  resource: VersionedResource;
  status: 'ACKED' | 'NACKED' | 'SENT';
  nackMessage?: string;
}

/**
 * The definition of "in sync", for one stream and type: nothing is due to be
 * sent, and the client has ACKed the version last sent and not rejected it
 * since. Versions, not set identity, are compared: a stream replaces what it
 * sent with an equal set when nothing needs sending. A type for which nothing
 * exists and nothing was sent is in sync (the client holds what it should:
 * nothing); a type waiting for its first config or for a proven identity is
 * pending, so not in sync.
 */
export function typeInSync(t: TypeSyncStatus): boolean {
  return !t.pending && !t.awaitingAck && !t.rejected;
}

/**
 * What an operator reads for one stream and type (`trellis status`, the admin
 * API): SYNCED is typeInSync; NACKED when the client's latest answer is a NACK
 * (it still runs what it ACKed before); STALE otherwise: sent and not yet
 * ACKed, or a send is due. Decided here, once, so no reader re-derives it.
 */
export type SyncState = 'SYNCED' | 'STALE' | 'NACKED';

export function typeSyncState(t: TypeSyncStatus): SyncState {
  if (t.rejected) return 'NACKED';
  return typeInSync(t) ? 'SYNCED' : 'STALE';
}

/** One state for several streams of a node: the worst wins (NACKED, then STALE). */
export function worstSyncState(states: readonly SyncState[]): SyncState {
  if (states.includes('NACKED')) return 'NACKED';
  return states.includes('STALE') ? 'STALE' : 'SYNCED';
}

export function streamInSync(s: StreamSyncStatus): boolean {
  return s.types.every(typeInSync);
}

/**
 * A proxy is in sync when it has a stream and every type it asked for, on
 * every stream, is in sync. `required`: types each stream must have asked
 * for too (a readiness check that should not pass before a sidecar asked for
 * its clusters, listeners and secrets).
 */
export function nodeInSync(n: NodeSyncStatus, required: readonly ResourceTypeUrl[] = []): boolean {
  if (n.streams.length === 0) return false;
  return n.streams.every((s) => streamInSync(s) && required.every((t) => s.types.some((x) => x.typeUrl === t)));
}

/** Each of `nodeIds` is connected and in sync (see nodeInSync). */
export function proxiesInSync(view: readonly NodeSyncStatus[], nodeIds: readonly string[], required: readonly ResourceTypeUrl[] = []): boolean {
  const byId = new Map(view.map((n) => [n.node.id, n]));
  return nodeIds.every((id) => {
    const n = byId.get(id);
    return n !== undefined && nodeInSync(n, required);
  });
}
