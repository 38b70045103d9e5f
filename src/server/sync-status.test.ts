/**
 * "In sync", defined once (sync-status.ts), as a table: a type's history of
 * requests, sends, ACKs and NACKs, and what the view then says.
 */
import { describe, expect, it } from 'vitest';
import { encodeResource } from '../cache/resource.ts';
import { TypeSet } from '../cache/snapshot.ts';
import { TypeUrl, type ResourceTypeUrl } from '../xds/type-urls.ts';
import { Subscription } from './subscription.ts';
import { nodeInSync, proxiesInSync, typeInSync, typeSyncState, worstSyncState, type NodeSyncStatus, type StreamSyncStatus, type SyncState } from './sync-status.ts';
import { TypeState } from './type-state.ts';

const set = (port: number) =>
  TypeSet.of(TypeUrl.Endpoint, [encodeResource(TypeUrl.Endpoint, { cluster_name: 'a', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: port } } } }] }] })]);
const V1 = set(1);
const V2 = set(2);

type Step = (st: TypeState) => void;
const request: Step = (st) => {
  st.subscribe(Subscription.NONE.applySotw(['a']), []);
  st.open();
};
const send =
  (nonce: string, s: TypeSet): Step =>
  (st) => {
    st.clearDirty();
    st.recordSent(nonce, s, 1);
  };
const ack =
  (nonce: string, s: TypeSet): Step =>
  (st) =>
    st.ack(nonce, s.version, 2);
const nack =
  (nonce: string): Step =>
  (st) =>
    st.nack(nonce, 'bad', 3);

const cases: Array<{ name: string; steps: Step[]; want: { state: SyncState; pending: boolean; awaitingAck: boolean; rejected: boolean; inSync: boolean; running: string | null } }> = [
  { name: 'first request, nothing sent yet: pending', steps: [request], want: { state: 'STALE', pending: true, awaitingAck: false, rejected: false, inSync: false, running: null } },
  { name: 'sent, not ACKed yet', steps: [request, send('1', V1)], want: { state: 'STALE', pending: false, awaitingAck: true, rejected: false, inSync: false, running: null } },
  { name: 'ACKed at the version sent: in sync', steps: [request, send('1', V1), ack('1', V1)], want: { state: 'SYNCED', pending: false, awaitingAck: false, rejected: false, inSync: true, running: V1.version } },
  {
    name: 'a newer version sent after the ACK: awaiting its ACK',
    steps: [request, send('1', V1), ack('1', V1), send('2', V2)],
    want: { state: 'STALE', pending: false, awaitingAck: true, rejected: false, inSync: false, running: V1.version },
  },
  {
    name: 'a change not yet sent: pending',
    steps: [request, send('1', V1), ack('1', V1), (st) => st.markDirty()],
    want: { state: 'STALE', pending: true, awaitingAck: false, rejected: false, inSync: false, running: V1.version },
  },
  {
    name: 'NACKed: rejected, still running the ACKed version (rule 3)',
    steps: [request, send('1', V1), ack('1', V1), send('2', V2), nack('2')],
    want: { state: 'NACKED', pending: false, awaitingAck: true, rejected: true, inSync: false, running: V1.version },
  },
  {
    name: 'NACKed, then the next version ACKed: in sync again',
    steps: [request, send('1', V1), ack('1', V1), send('2', V2), nack('2'), send('3', V1), ack('3', V1)],
    want: { state: 'SYNCED', pending: false, awaitingAck: false, rejected: false, inSync: true, running: V1.version },
  },
  {
    name: 'a resend of the ACKed version NACKed: rejected, though the versions agree',
    steps: [request, send('1', V1), ack('1', V1), send('2', V1), nack('2')],
    want: { state: 'NACKED', pending: false, awaitingAck: false, rejected: true, inSync: false, running: V1.version },
  },
  {
    name: 'nothing exists and nothing was sent: in sync (the client holds what it should)',
    steps: [request, (st) => st.clearDirty(), (st) => st.nothingToSend(TypeSet.of(TypeUrl.Endpoint, []))],
    want: { state: 'SYNCED', pending: false, awaitingAck: false, rejected: false, inSync: true, running: null },
  },
  { name: 'a reconnecting client that already runs the current version: in sync', steps: [request, (st) => st.resume(V1, 1)], want: { state: 'SYNCED', pending: false, awaitingAck: false, rejected: false, inSync: true, running: V1.version } },
];

describe('typeInSync, and the state an operator reads (typeSyncState)', () => {
  it.each(cases)('$name', ({ steps, want }) => {
    const st = new TypeState(TypeUrl.Endpoint);
    for (const step of steps) step(st);
    const s = st.status();
    expect({ state: typeSyncState(s), pending: s.pending, awaitingAck: s.awaitingAck, rejected: s.rejected, inSync: typeInSync(s), running: s.ackedVersion }).toEqual(want);
  });
});

describe('a node is in sync when every stream and type is', () => {
  const typeStatus = (typeUrl: ResourceTypeUrl, steps: Step[]) => {
    const st = new TypeState(typeUrl);
    for (const step of steps) step(st);
    return st.status();
  };
  const synced = [request, send('1', V1), ack('1', V1)];
  const stream = (types: StreamSyncStatus['types']): StreamSyncStatus => ({
    id: 1,
    api: 'ads',
    mode: 'sotw',
    connectedAt: 0,
    identity: null,
    identityState: 'none',
    secure: false,
    blocked: false,
    types,
  });
  const node = (id: string, streams: StreamSyncStatus[]): NodeSyncStatus => ({ node: { id, cluster: 't' }, streams });

  it.each([
    { name: 'no stream: not in sync', streams: [], required: [], want: false },
    { name: 'every type of every stream in sync', streams: [stream([typeStatus(TypeUrl.Cluster, synced), typeStatus(TypeUrl.Listener, synced)])], required: [], want: true },
    { name: 'one type awaiting its ACK', streams: [stream([typeStatus(TypeUrl.Cluster, synced)]), stream([typeStatus(TypeUrl.Listener, [request, send('1', V1)])])], required: [], want: false },
    { name: 'a required type never asked for', streams: [stream([typeStatus(TypeUrl.Cluster, synced)])], required: [TypeUrl.Cluster, TypeUrl.Secret], want: false },
    { name: 'every required type asked for and in sync', streams: [stream([typeStatus(TypeUrl.Cluster, synced), typeStatus(TypeUrl.Secret, synced)])], required: [TypeUrl.Cluster, TypeUrl.Secret], want: true },
  ])('$name', ({ streams, required, want }) => {
    expect(nodeInSync(node('n', streams), required)).toBe(want);
  });

  it('worstSyncState: the streams of a node show their worst state per type', () => {
    expect(worstSyncState(['SYNCED', 'STALE', 'NACKED'])).toBe('NACKED');
    expect(worstSyncState(['SYNCED', 'STALE'])).toBe('STALE');
    expect(worstSyncState(['SYNCED', 'SYNCED'])).toBe('SYNCED');
  });

  it('proxiesInSync: every named node connected and in sync', () => {
    const view = [node('a', [stream([typeStatus(TypeUrl.Cluster, synced)])]), node('b', [stream([typeStatus(TypeUrl.Cluster, [request])])])];
    expect(proxiesInSync(view, ['a'])).toBe(true);
    expect(proxiesInSync(view, ['a', 'b'])).toBe(false);
    expect(proxiesInSync(view, ['a', 'c'])).toBe(false);
  });
});
