/**
 * What the admin API says about connected proxies (XDS_RULES 30): per node
 * and type, what was sent, what was ACKed, what was NACKed and why; and the
 * resources a proxy holds, decoded. Reads the server's sync-status view;
 * writes nothing.
 */
import type { XdsServer } from '../server/xds-server.ts';
import { typeInSync, typeSyncState, worstSyncState, type StreamSyncStatus, type SyncState, type TypeSyncStatus } from '../server/sync-status.ts';
import { SHORT_NAMES, TypeUrl } from '../xds/type-urls.ts';
import { envoyJson } from '../xds/envoy-json.ts';

function iso(ms: number | null): string | null {
  return ms ? new Date(ms).toISOString() : null;
}

function typeSummary(t: TypeSyncStatus) {
  return {
    subscription: t.subscription.toJSON(),
    sentVersion: t.sentVersion,
    sentAt: iso(t.sentAt),
    ackedVersion: t.ackedVersion,
    ackedAt: iso(t.ackedAt),
    inSync: typeInSync(t),
    state: typeSyncState(t),
    lastNack: t.lastNack ? { ...t.lastNack, at: iso(t.lastNack.at) } : null,
    pending: t.pending,
  };
}

function streamSummary(s: StreamSyncStatus) {
  const types: Record<string, ReturnType<typeof typeSummary>> = {};
  for (const t of s.types) types[SHORT_NAMES[t.typeUrl]] = typeSummary(t);
  return {
    id: s.id,
    api: s.api === 'ads' ? 'ads' : SHORT_NAMES[s.api],
    mode: s.mode,
    connectedSince: iso(s.connectedAt),
    identity: s.identity,
    identityState: s.identityState,
    transport: s.secure ? 'tls' : 'plaintext',
    blocked: s.blocked,
    types,
  };
}

/** Per type a node asked for on any stream: one state (the worst of its streams) and the NACK message with it. */
export interface NodeTypeSync {
  state: SyncState;
  /** the latest rejection's message, when state is NACKED */
  message?: string;
}

function nodeSync(streams: readonly StreamSyncStatus[]): Record<string, NodeTypeSync> {
  const byType = new Map<string, TypeSyncStatus[]>();
  for (const s of streams) for (const t of s.types) byType.set(SHORT_NAMES[t.typeUrl], [...(byType.get(SHORT_NAMES[t.typeUrl]) ?? []), t]);
  const out: Record<string, NodeTypeSync> = {};
  for (const [short, ts] of [...byType].sort(([a], [b]) => a.localeCompare(b))) {
    const state = worstSyncState(ts.map(typeSyncState));
    const nack = ts.filter((t) => t.rejected && t.lastNack).sort((a, b) => b.lastNack!.at - a.lastNack!.at)[0];
    out[short] = state === 'NACKED' && nack ? { state, message: nack.lastNack!.message } : { state };
  }
  return out;
}

/** The proven identity of a node's streams (the first proven), for display. */
function provenIdentity(streams: readonly StreamSyncStatus[]): string | null {
  return streams.find((s) => s.identityState === 'proven')?.identity ?? null;
}

/**
 * The node metadata Trellis reads: its own `trellis.*` keys (translate/sidecar.ts
 * NODE_METADATA, written by `trellis bootstrap`: workload, interception mode,
 * ports and addresses). Nothing secret travels there (the identity token is
 * the stream's gRPC header, not node metadata); other keys are left out all
 * the same, since a hand-written bootstrap may put anything in them.
 */
function trellisMetadata(metadata: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(metadata ?? {}).filter(([k]) => k.startsWith(TRELLIS_METADATA_PREFIX)));
}

const TRELLIS_METADATA_PREFIX = 'trellis.';

export function listProxies(server: XdsServer) {
  return server
    .syncStatus()
    .map(({ node, streams }) => ({
      node: node.id,
      cluster: node.cluster ?? '',
      locality: node.locality ?? null,
      userAgent: [node.user_agent_name, node.user_agent_version].filter(Boolean).join(' ') || null,
      /** what the translator reads of the node besides id and locality (`trellis diff` translates for it) */
      userAgentName: node.user_agent_name ?? null,
      metadata: trellisMetadata(node.metadata),
      connectedSince: iso(Math.min(...streams.map((s) => s.connectedAt))),
      identity: provenIdentity(streams),
      /** per type (cds, eds, lds, rds, sds) the node asked for: SYNCED, STALE or NACKED (trellis status) */
      sync: nodeSync(streams),
      streams: streams.map(streamSummary),
    }))
    .sort((a, b) => a.node.localeCompare(b.node));
}

/** One entry of GET /api/v1/proxies (what `trellis status` reads). */
export type ProxySummary = ReturnType<typeof listProxies>[number];

/**
 * Secrets are shown without their key material, ever: the private key, and
 * also its password, a PKCS#12 bundle and generic secrets, which the first
 * version showed in full.
 */
function redact(typeUrl: string, value: Record<string, unknown>): Record<string, unknown> {
  if (typeUrl !== TypeUrl.Secret) return value;
  const out = { ...value };
  const tls = value.tls_certificate as Record<string, unknown> | undefined;
  if (tls) {
    const t = { ...tls };
    for (const k of ['private_key', 'password', 'pkcs12']) if (k in t) t[k] = '[redacted]';
    out.tls_certificate = t;
  }
  if (value.generic_secret) out.generic_secret = { secret: '[redacted]' };
  if (value.session_ticket_keys) out.session_ticket_keys = '[redacted]';
  return out;
}

/** One resource of GET /api/v1/proxies/{node}/config (what `trellis config-dump` reads). */
export interface HeldResourceView {
  name: string;
  version: string;
  status: 'ACKED' | 'NACKED' | 'SENT';
  nackMessage?: string;
  /** proto JSON with its '@type'; secrets redacted */
  resource: Record<string, unknown>;
}

export interface ProxyConfigView {
  node: string;
  /** by short type name (cds, eds, lds, rds, sds) */
  types: Record<string, HeldResourceView[]>;
}

export function proxyConfig(server: XdsServer, nodeId: string): ProxyConfigView | undefined {
  const held = server.heldResources(nodeId);
  if (!held) return undefined;
  const types: Record<string, HeldResourceView[]> = {};
  for (const { typeUrl, resource: r, status, nackMessage } of held) {
    (types[SHORT_NAMES[typeUrl]] ??= []).push({
      name: r.name,
      version: r.version,
      status,
      nackMessage,
      resource: redact(typeUrl, { '@type': typeUrl, ...envoyJson(typeUrl, r.value) }),
    });
  }
  return { node: nodeId, types };
}
