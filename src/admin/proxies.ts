/**
 * What the admin API says about connected proxies (XDS_RULES 30): per node
 * and type, what was sent, what was ACKed, what was NACKed and why; and the
 * resources a proxy holds, decoded. Reads the server's streams; writes nothing.
 */
import type { XdsServer } from '../server/xds-server.ts';
import type { XdsStream } from '../server/stream.ts';
import type { TypeState } from '../server/type-state.ts';
import { SHORT_NAMES, TypeUrl } from '../xds/type-urls.ts';
import { envoyJson } from '../xds/envoy-json.ts';

function iso(ms: number): string | null {
  return ms ? new Date(ms).toISOString() : null;
}

function typeSummary(st: TypeState) {
  return {
    subscription: st.sub.toJSON(),
    sentVersion: st.sentVersion || null,
    sentAt: iso(st.sentAt),
    ackedVersion: st.ackedVersion || null,
    ackedAt: iso(st.ackedAt),
    // By version, not set identity: a stream replaces its sent set with an equal one when nothing needs sending.
    inSync: st.ackedVersion === st.sentVersion && !st.dirty,
    lastNack: st.lastNack
      ? { rejectedVersion: st.lastNack.rejectedVersion, stillRunning: st.lastNack.version, message: st.lastNack.message, at: iso(st.lastNack.at) }
      : null,
    pending: st.dirty,
  };
}

function streamSummary(s: XdsStream) {
  const types: Record<string, ReturnType<typeof typeSummary>> = {};
  for (const [t, st] of s.types) types[SHORT_NAMES[t]] = typeSummary(st);
  return {
    id: s.id,
    api: s.api === 'ads' ? 'ads' : SHORT_NAMES[s.api],
    mode: s.mode,
    connectedSince: iso(s.connectedAt),
    identity: s.identity?.spiffeId ?? null,
    identityState: s.identityState,
    transport: s.secure ? 'tls' : 'plaintext',
    blocked: s.isBlocked,
    types,
  };
}

export function listProxies(server: XdsServer) {
  const out = [];
  for (const [nodeId, streams] of server.nodes()) {
    const list = [...streams];
    const first = list[0]!;
    out.push({
      node: nodeId,
      cluster: first.node?.cluster ?? '',
      locality: first.node?.locality ?? null,
      userAgent: [first.node?.user_agent_name, first.node?.user_agent_version].filter(Boolean).join(' ') || null,
      connectedSince: iso(Math.min(...list.map((s) => s.connectedAt))),
      streams: list.map(streamSummary),
    });
  }
  return out.sort((a, b) => a.node.localeCompare(b.node));
}

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

export function proxyConfig(server: XdsServer, nodeId: string) {
  const streams = server.nodes().get(nodeId);
  if (!streams) return undefined;
  const types: Record<string, unknown[]> = {};
  for (const s of streams) {
    for (const [t, st] of s.types) {
      const list = (types[SHORT_NAMES[t]] ??= []);
      for (const r of st.held()) {
        const acked = st.ackedSet?.get(r.name) === r;
        const nacked = st.lastNack !== null && !acked && st.lastNack.rejectedVersion === st.sentVersion;
        list.push({
          name: r.name,
          version: r.version,
          status: acked ? 'ACKED' : nacked ? 'NACKED' : 'SENT',
          nackMessage: nacked ? st.lastNack!.message : undefined,
          resource: redact(t, { '@type': t, ...envoyJson(t, r.value) }),
        });
      }
    }
  }
  return { node: nodeId, types };
}
