/**
 * Finding things in served resources (proto JSON as the admin API shows
 * them): a listener's filter chain for a port, its HTTP connection manager,
 * the route configuration it names, a cluster's upstream TLS, the RBAC
 * filters of an inbound chain. Pure.
 */
export type Json = Record<string, unknown>;

const HCM = 'envoy.filters.network.http_connection_manager';
const HCM_TYPE = 'HttpConnectionManager';

function hcmOf(chain: Json): Json | undefined {
  const f = ((chain.filters as Json[] | undefined) ?? []).find((x) => x.name === HCM || String((x.typed_config as Json | undefined)?.['@type'] ?? '').endsWith(HCM_TYPE));
  return f?.typed_config as Json | undefined;
}

function chainPort(chain: Json): number | undefined {
  const p = (chain.filter_chain_match as Json | undefined)?.destination_port;
  return p === undefined ? undefined : Number(p);
}

function socketOf(listener: Json): { address: string; port: number } {
  const s = ((listener.address as Json | undefined)?.socket_address as Json | undefined) ?? {};
  return { address: String(s.address ?? ''), port: Number(s.port_value ?? 0) };
}

/** The chain for `port`: one matching its destination port, else one matching any port. */
function chainFor(listener: Json, port: number): Json | undefined {
  const chains = (listener.filter_chains as Json[] | undefined) ?? [];
  return chains.find((c) => chainPort(c) === port) ?? chains.find((c) => chainPort(c) === undefined && !(c.filter_chain_match as Json | undefined)?.prefix_ranges) ?? (listener.default_filter_chain as Json | undefined);
}

/** The caller's outbound HTTP chain for a destination port. */
export function outboundChain(listeners: readonly Json[], port: number): { listener: string; hcm: Json } | undefined {
  for (const l of listeners.filter((x) => x.traffic_direction === 'OUTBOUND')) {
    const chain = chainFor(l, port);
    const hcm = chain && hcmOf(chain);
    if (hcm) return { listener: String(l.name), hcm };
  }
  return undefined;
}

/** The route configuration an HCM uses: inline, or the RDS resource it names. */
export function routeConfigOf(hcm: Json, routes: readonly Json[]): Json | undefined {
  if (hcm.route_config) return hcm.route_config as Json;
  const name = (hcm.rds as Json | undefined)?.route_config_name;
  return routes.find((r) => r.name === name);
}

function upstreamTls(cluster: Json): Json | undefined {
  const tls = (cluster.transport_socket as Json | undefined)?.typed_config as Json | undefined;
  return tls && String(tls['@type'] ?? '').endsWith('UpstreamTlsContext') ? tls : undefined;
}

/** The SAN matchers the caller checks the peer's certificate with (SubjectAltNameMatcher JSON). */
export function sanMatchersOf(cluster: Json): Json[] {
  const ctx = (upstreamTls(cluster)?.common_tls_context as Json | undefined) ?? {};
  const vc = ((ctx.combined_validation_context as Json | undefined)?.default_validation_context as Json | undefined) ?? (ctx.validation_context as Json | undefined) ?? {};
  return (vc.match_typed_subject_alt_names as Json[] | undefined) ?? [];
}

/** Upstream TLS: the SNI and the SANs the caller checks (StringMatcher JSON, shown as written). */
export function tlsOf(cluster: Json): { sni?: string; sans: string[] } | undefined {
  const tls = upstreamTls(cluster);
  if (!tls) return undefined;
  const sans = sanMatchersOf(cluster).map((m) => {
    const [kind, value] = Object.entries((m.matcher as Json | undefined) ?? {})[0] ?? ['?', '?'];
    return `${String(m.san_type ?? 'SAN')} ${kind} ${typeof value === 'string' ? value : JSON.stringify(value)}`;
  });
  return { sni: tls.sni as string | undefined, sans };
}

export interface InboundChain {
  listener: string;
  hcm: Json;
  mtlsRequired: boolean;
}

function inbound(listener: Json, chain: Json, hcm: Json, name: string): InboundChain {
  const tls = (chain.transport_socket as Json | undefined)?.typed_config as Json | undefined;
  return { listener: name, hcm, mtlsRequired: tls?.require_client_certificate === true };
}

/** Explicit mode: the inbound HTTP chain of a listener bound to `address:port` on one proxy, if it has one. */
export function inboundChain(listeners: readonly Json[], address: string, port: number): InboundChain | undefined {
  for (const l of listeners.filter((x) => x.traffic_direction === 'INBOUND')) {
    const s = socketOf(l);
    if (s.address !== address || s.port !== port) continue;
    const chain = chainFor(l, port);
    const hcm = chain && hcmOf(chain);
    if (!chain || !hcm) continue;
    return inbound(l, chain, hcm, String(l.name));
  }
  return undefined;
}

const ORIGINAL_DST = 'envoy.filters.listener.original_dst';

/**
 * Transparent mode: iptables sends every inbound connection of the pod to one
 * listener whose original_dst filter recovers the port the caller connected
 * to, and the filter chain matching that port serves it. Its HTTP chain for
 * `port`, if the proxy has one (a port without one is passed through as TCP).
 */
export function transparentInboundChain(listeners: readonly Json[], port: number): InboundChain | undefined {
  for (const l of listeners.filter((x) => x.traffic_direction === 'INBOUND' && ((x.listener_filters as Json[] | undefined) ?? []).some((f) => f.name === ORIGINAL_DST))) {
    const chain = ((l.filter_chains as Json[] | undefined) ?? []).find((c) => chainPort(c) === port);
    const hcm = chain && hcmOf(chain);
    if (!chain || !hcm) continue;
    return inbound(l, chain, hcm, `${String(l.name)} (filter chain ${String(chain.name ?? port)})`);
  }
  return undefined;
}

/** The HCM's RBAC filters' configs, in order. */
export function rbacFilters(hcm: Json): Json[] {
  return ((hcm.http_filters as Json[] | undefined) ?? []).filter((f) => String((f.typed_config as Json | undefined)?.['@type'] ?? '').endsWith('rbac.v3.RBAC')).map((f) => f.typed_config as Json);
}
