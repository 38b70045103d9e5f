/**
 * Listener builders: the sidecar's outbound listener, its inbound listeners
 * (mTLS + RBAC + forward to the application), and the API listeners that
 * proxyless gRPC clients ask for by name. Pure.
 */
import { OUTBOUND_ROUTE } from './names.ts';
import { downstreamTls } from './tls.ts';

const ADS = { ads: {}, resource_api_version: 'V3' };
const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

function socketAddress(address: string, port: number) {
  return { socket_address: { address, port_value: port } };
}

export function outboundListener(options: { name: string; address: string; port: number; transparent: boolean }): Record<string, unknown> {
  const listener: Record<string, unknown> = {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'OUTBOUND',
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM_TYPE,
              stat_prefix: 'outbound',
              codec_type: 'AUTO',
              rds: { route_config_name: OUTBOUND_ROUTE, config_source: ADS },
              http_filters: [ROUTER],
            },
          },
        ],
      },
    ],
  };
  if (options.transparent) {
    // iptables redirected the connection here; recover where it was going.
    listener.listener_filters = [
      { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } },
    ];
  }
  return listener;
}

export interface InboundPort {
  /** Service port number: what callers' endpoints name. */
  port: number;
  /** Cluster forwarding to the application. */
  cluster: string;
}

export function inboundListener(options: {
  name: string;
  address: string;
  port: number;
  cluster: string;
  /** RBAC filter, or undefined in permissive mode. */
  rbac?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'INBOUND',
    filter_chains: [
      {
        transport_socket: downstreamTls(),
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM_TYPE,
              stat_prefix: options.name.replace(':', '_'),
              codec_type: 'AUTO',
              // The application learns its caller's SPIFFE ID from the
              // verified certificate, never from a header the caller sent.
              forward_client_cert_details: 'SANITIZE_SET',
              set_current_client_cert_details: { uri: true },
              route_config: {
                name: options.name,
                virtual_hosts: [{ name: 'app', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: options.cluster, timeout: '0s' } }] }],
              },
              http_filters: options.rbac ? [options.rbac, ROUTER] : [ROUTER],
            },
          },
        ],
      },
    ],
  };
}

/** What gRPC's xDS client resolves `xds:///name` to (gRFC A27): an HCM over RDS, no socket. */
export function apiListener(name: string): Record<string, unknown> {
  return {
    name,
    api_listener: {
      api_listener: {
        '@type': HCM_TYPE,
        stat_prefix: 'proxyless',
        rds: { route_config_name: OUTBOUND_ROUTE, config_source: ADS },
        http_filters: [ROUTER],
      },
    },
  };
}
