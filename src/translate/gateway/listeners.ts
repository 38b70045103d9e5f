/**
 * A Trellis gateway's Envoy listeners: one per port of its Gateway
 * (names.ts gatewayListenerName). Pure.
 *
 * - HTTP: one HttpConnectionManager over the port's route configuration,
 *   which routes by Host (gateway/routes.ts).
 * - HTTPS: one filter chain per Gateway listener, chosen by SNI
 *   (`server_names`: the listener's hostname; a listener without one is the
 *   chain for every other name), terminating TLS with the listener's
 *   certificates from SDS (gateway/secrets.ts), then an HttpConnectionManager
 *   over that listener's own route configuration.
 *
 * The gateway is the edge: it sets X-Forwarded-For from the peer it sees
 * (use_remote_address), normalizes paths before matching, and strips the
 * port from Host so a route's hostnames match on any port.
 */
import type { GatewayListener, GatewayPort } from '../../model/types.ts';
import type { Filter, FilterChain, Listener, SdsSecretConfig } from '../../xds/envoy-types.ts';
import { extension } from '../../xds/extensions.ts';
import { adsConfigSource, socketAddress } from '../fragments.ts';
import { httpFilters } from '../http-filters.ts';
import { gatewayCertificateSecretName, gatewayListenerName, gatewayRouteConfigName } from '../names.ts';
import { tlsInspector } from '../permissive.ts';

/** Where a gateway's listeners bind: every address, unless its bootstrap says otherwise. */
export const GATEWAY_BIND_ADDRESS = '0.0.0.0';

function gatewayHcm(statPrefix: string, routeConfig: string): Filter {
  return extension('HttpConnectionManager', {
    stat_prefix: statPrefix,
    codec_type: 'AUTO',
    rds: { route_config_name: routeConfig, config_source: adsConfigSource() },
    upgrade_configs: [{ upgrade_type: 'websocket' }],
    use_remote_address: { value: true },
    normalize_path: { value: true },
    merge_slashes: true,
    strip_any_host_port: true,
    http_filters: httpFilters('outbound', {}),
  });
}

function sdsRef(name: string): SdsSecretConfig {
  return { name, sds_config: adsConfigSource() };
}

function httpsChain(port: number, l: GatewayListener): FilterChain {
  return {
    name: l.name,
    ...(l.hostname !== undefined ? { filter_chain_match: { server_names: [l.hostname] } } : {}),
    transport_socket: extension('DownstreamTls', {
      common_tls_context: {
        tls_certificate_sds_secret_configs: l.certificates.map((c) => {
          const [namespace, name] = c.secret.split('/') as [string, string];
          return sdsRef(gatewayCertificateSecretName(namespace, name));
        }),
        alpn_protocols: ['h2', 'http/1.1'],
      },
    }),
    filters: [gatewayHcm(`${gatewayListenerName(port)}_${l.name}`, gatewayRouteConfigName(port, l.name))],
  };
}

export function gatewayListener(p: GatewayPort, address = GATEWAY_BIND_ADDRESS): Listener {
  const name = gatewayListenerName(p.port);
  if (p.protocol === 'HTTP') {
    return { name, address: socketAddress(address, p.port), traffic_direction: 'INBOUND', filter_chains: [{ filters: [gatewayHcm(name, gatewayRouteConfigName(p.port))] }] };
  }
  return {
    name,
    address: socketAddress(address, p.port),
    traffic_direction: 'INBOUND',
    listener_filters: [tlsInspector()],
    filter_chains: p.listeners.map((l) => httpsChain(p.port, l)),
  };
}
