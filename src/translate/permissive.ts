/**
 * Incremental adoption (docs/intents.md "Incremental adoption"), both sides:
 *
 * - Inbound, a Permissive workload: each port takes mTLS and plaintext. The
 *   tls_inspector listener filter reads the first bytes; a ClientHello picks
 *   the mTLS chain (`transport_protocol: tls`), anything else the plaintext
 *   twin (`raw_buffer`), which runs the same HTTP filters — the same RBAC,
 *   whose principals are SPIFFE IDs from a verified certificate, so a
 *   plaintext caller never matches a TrafficTarget.
 * - Outbound, a destination without a sidecar (model Endpoint.plaintext): the
 *   caller connects in plaintext. All endpoints so: the cluster has no TLS.
 *   Some: mTLS stays the cluster's default and the endpoints marked in EDS
 *   (`envoy.transport_socket_match: {plaintext: true}`) match a raw_buffer
 *   transport socket, so the choice is per endpoint and an unmarked one is
 *   never sent plaintext. Pure.
 */
import type { Endpoint } from '../model/types.ts';
import type { Cluster, FilterChain, ListenerFilter } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { PLAINTEXT_MATCH, plaintextChainName } from './names.ts';
import { upstreamTls } from './tls.ts';

/** Envoy's filter_metadata key the cluster's transport_socket_matches read endpoint metadata from. */
const TRANSPORT_SOCKET_MATCH = 'envoy.transport_socket_match';

export function tlsInspector(): ListenerFilter {
  return extension('TlsInspector', {});
}

/**
 * `tls` (an mTLS chain as Strict builds it) and its plaintext twin, whose
 * filters are `plaintextFilters` (the same filters with their own stat prefix).
 */
export function permissiveChains(tls: FilterChain, plaintextFilters: FilterChain['filters']): FilterChain[] {
  const match = tls.filter_chain_match ?? {};
  return [
    { ...tls, filter_chain_match: { ...match, transport_protocol: 'tls' } },
    {
      ...(tls.name ? { name: plaintextChainName(tls.name) } : {}),
      filter_chain_match: { ...match, transport_protocol: 'raw_buffer' },
      filters: plaintextFilters,
    },
  ];
}

/** An outbound cluster's transport: mTLS, plaintext, or mTLS with plaintext for the marked endpoints. */
export function upstreamTransport(tls: { peerIdentities: readonly string[]; sni: string }, plaintext: 'some' | 'all' | undefined): Pick<Cluster, 'transport_socket' | 'transport_socket_matches'> {
  if (plaintext === 'all') return {};
  const socket = { transport_socket: upstreamTls(tls) };
  if (plaintext === undefined) return socket;
  return {
    ...socket,
    transport_socket_matches: [{ name: PLAINTEXT_MATCH, match: { [PLAINTEXT_MATCH]: true }, transport_socket: extension('RawBuffer', {}) }],
  };
}

/** EDS metadata of an endpoint without a sidecar (what `upstreamTransport`'s match reads). */
export function endpointMetadata(e: Endpoint): { metadata: { filter_metadata: Record<string, Record<string, boolean>> } } | Record<string, never> {
  return e.plaintext ? { metadata: { filter_metadata: { [TRANSPORT_SOCKET_MATCH]: { [PLAINTEXT_MATCH]: true } } } } : {};
}
