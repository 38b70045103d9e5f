/**
 * A Trellis gateway's TLS passthrough and TCP listeners (issues 10/11). Pure.
 *
 * - TLS (mode Passthrough): tls_inspector reads the client's SNI; a filter
 *   chain per attached TLSRoute matches the SNI names it takes on that Gateway
 *   listener (`server_names`, wildcards as Envoy reads them) and tcp_proxy
 *   sends the bytes, still the client's TLS, to the route's backends. The
 *   gateway never sees inside: the client gets the backend's certificate.
 * - TCP: the listener's one TCPRoute, tcp_proxy by weight.
 *
 * Backends are reached over mTLS as the gateway's identity (the clusters of
 * its scope, translate.ts), so their sidecars authorize the gateway like any
 * caller. A connection no route takes (an SNI name nobody names, a port with
 * no route yet) finds no chain, or the refusing one, and is closed.
 */
import type { GatewayPort } from '../../model/types.ts';
import type { FilterChain, Listener } from '../../xds/envoy-types.ts';
import { socketAddress } from '../fragments.ts';
import { gatewayListenerName, gatewayStreamChainName, TCP_ROUTE_REFUSED } from '../names.ts';
import { tlsInspector } from '../permissive.ts';
import { tcpProxy, type TcpTarget } from '../tcp-listeners.ts';
import { backendsTarget } from '../tcp-outbound.ts';
import { GATEWAY_BIND_ADDRESS } from './listeners.ts';

/** The port's filter chains with their targets (translate.ts adds the refusing cluster when one is named). */
export function gatewayStreamChains(p: GatewayPort): { chain: FilterChain; target: TcpTarget }[] {
  const statPrefix = gatewayListenerName(p.port);
  const chains: { chain: FilterChain; target: TcpTarget }[] = [];
  for (const l of p.listeners) {
    for (const r of l.streams) {
      const target = backendsTarget(r.backends);
      const name = gatewayStreamChainName(l.name, r);
      const match = p.protocol === 'TLS' ? { filter_chain_match: { server_names: [...r.hostnames] } } : {};
      chains.push({ chain: { name, ...match, filters: [tcpProxy(`${statPrefix}_${l.name}`, target)] }, target });
      // A TCP port takes one route (model: the oldest).
      if (p.protocol === 'TCP') return chains;
    }
  }
  if (chains.length === 0) {
    // Envoy needs a chain to bind the port: nothing is routed, so every connection is refused.
    const name = gatewayStreamChainName(p.listeners[0]?.name ?? statPrefix);
    chains.push({ chain: { name, filters: [tcpProxy(`${statPrefix}_refused`, TCP_ROUTE_REFUSED)] }, target: TCP_ROUTE_REFUSED });
  }
  return chains;
}

export function gatewayStreamListener(p: GatewayPort, address = GATEWAY_BIND_ADDRESS): Listener {
  return {
    name: gatewayListenerName(p.port),
    address: socketAddress(address, p.port),
    traffic_direction: 'INBOUND',
    ...(p.protocol === 'TLS' ? { listener_filters: [tlsInspector()] } : {}),
    filter_chains: gatewayStreamChains(p).map((c) => c.chain),
  };
}
