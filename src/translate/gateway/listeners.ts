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
import type { GatewayListener, GatewayPort, RequestAuthn } from '../../model/types.ts';
import type { Filter, FilterChain, Listener, SdsSecretConfig } from '../../xds/envoy-types.ts';
import { extension } from '../../xds/extensions.ts';
import { adsConfigSource, socketAddress } from '../fragments.ts';
import { claimRbacFilter } from '../claim-rbac.ts';
import { httpFilters, type HttpFiltersByRole } from '../http-filters.ts';
import { jwtAuthnFilter } from '../jwt-authn.ts';
import { gatewayCertificateSecretName, gatewayListenerName, gatewayRouteConfigName } from '../names.ts';
import { tlsInspector } from '../permissive.ts';

/** Where a gateway's listeners bind: every address, unless its bootstrap says otherwise. */
export const GATEWAY_BIND_ADDRESS = '0.0.0.0';

/** A RequestAuthentication on the Gateway: every connection manager checks tokens and claims so (translate/jwt-authn.ts, claim-rbac.ts). */
function authnFilters(authn: RequestAuthn | undefined): HttpFiltersByRole {
  if (!authn) return {};
  const claims = claimRbacFilter(authn);
  return { jwt_authn: jwtAuthnFilter(authn), ...(claims ? { claim_rbac: claims } : {}) };
}

function gatewayHcm(statPrefix: string, routeConfig: string, authn: RequestAuthn | undefined): Filter {
  return extension('HttpConnectionManager', {
    stat_prefix: statPrefix,
    codec_type: 'AUTO',
    rds: { route_config_name: routeConfig, config_source: adsConfigSource() },
    upgrade_configs: [{ upgrade_type: 'websocket' }],
    use_remote_address: { value: true },
    normalize_path: { value: true },
    merge_slashes: true,
    strip_any_host_port: true,
    http_filters: httpFilters('gateway', authnFilters(authn)),
  });
}

function sdsRef(name: string): SdsSecretConfig {
  return { name, sds_config: adsConfigSource() };
}

function httpsChain(port: number, l: GatewayListener, authn: RequestAuthn | undefined): FilterChain {
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
    filters: [gatewayHcm(`${gatewayListenerName(port)}_${l.name}`, gatewayRouteConfigName(port, l.name), authn)],
  };
}

/** `authn`: the Gateway's RequestAuthentication, if any. */
export function gatewayListener(p: GatewayPort, address = GATEWAY_BIND_ADDRESS, authn?: RequestAuthn): Listener {
  const name = gatewayListenerName(p.port);
  if (p.protocol === 'HTTP') {
    return { name, address: socketAddress(address, p.port), traffic_direction: 'INBOUND', filter_chains: [{ filters: [gatewayHcm(name, gatewayRouteConfigName(p.port), authn)] }] };
  }
  return {
    name,
    address: socketAddress(address, p.port),
    traffic_direction: 'INBOUND',
    listener_filters: [tlsInspector()],
    filter_chains: p.listeners.map((l) => httpsChain(p.port, l, authn)),
  };
}
