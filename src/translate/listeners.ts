/**
 * Listener builders: the sidecar's outbound listener, its inbound listeners
 * (mTLS + RBAC + forward to the application), and the API listeners that
 * proxyless gRPC clients ask for by name. Pure.
 */
import { INBOUND_DIRECT_CHAIN, INBOUND_PASSTHROUGH_CHAIN, OUTBOUND_ROUTE } from './names.ts';
import { downstreamTls } from './tls.ts';

const ADS = { ads: {}, resource_api_version: 'V3' };
const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };
/** Transparent mode: where a redirected connection was going (iptables REDIRECT keeps it). */
const ORIGINAL_DST = { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } };

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
    listener.listener_filters = [ORIGINAL_DST];
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
    filter_chains: [{ transport_socket: downstreamTls(), filters: [inboundHcm(options.name, options.cluster, options.rbac)] }],
  };
}

/** mTLS is terminated before it; `name` is its route configuration's, and its stat prefix. */
function inboundHcm(name: string, cluster: string, rbac: Record<string, unknown> | undefined): Record<string, unknown> {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HCM_TYPE,
      stat_prefix: name.replace(':', '_'),
      codec_type: 'AUTO',
      // The application learns its caller's SPIFFE ID from the
      // verified certificate, never from a header the caller sent.
      forward_client_cert_details: 'SANITIZE_SET',
      set_current_client_cert_details: { uri: true },
      route_config: {
        name,
        virtual_hosts: [{ name: 'app', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster, timeout: '0s' } }] }],
      },
      http_filters: rbac ? [rbac, ROUTER] : [ROUTER],
    },
  };
}

function tcpProxy(statPrefix: string, cluster: string): Record<string, unknown> {
  return {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: statPrefix, cluster },
  };
}

export interface InboundChain {
  /** Filter chain name, and its route configuration's. */
  name: string;
  /** The port the caller connected to (the targetPort, what its endpoints name): the redirect's original destination. */
  port: number;
  /** Cluster forwarding to the application on that port. */
  cluster: string;
  /** RBAC filter, or undefined in permissive mode. */
  rbac?: Record<string, unknown>;
}

/**
 * Transparent mode's one inbound listener (names.ts INBOUND_LISTENER): every
 * inbound connection of the pod is redirected to it, original_dst recovers
 * the port the caller connected to, and the filter chain of that port
 * terminates mTLS and routes to the application. A port with no chain is
 * passed through to the application as plain TCP (not a mesh port: what it
 * got before the sidecar); a connection made to this listener's own port is
 * refused, since passing it through would come back here.
 */
export function transparentInboundListener(options: {
  name: string;
  address: string;
  port: number;
  chains: readonly InboundChain[];
  /** ORIGINAL_DST cluster for ports the mesh does not serve. */
  passthroughCluster: string;
}): Record<string, unknown> {
  const denyAll = {
    name: 'envoy.filters.network.rbac',
    // ALLOW with no policy: nothing is allowed.
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', stat_prefix: 'inbound_direct', rules: { action: 'ALLOW' } },
  };
  return {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'INBOUND',
    listener_filters: [ORIGINAL_DST],
    filter_chains: [
      ...options.chains.map((c) => ({
        name: c.name,
        filter_chain_match: { destination_port: c.port },
        transport_socket: downstreamTls(),
        filters: [inboundHcm(c.name, c.cluster, c.rbac)],
      })),
      { name: INBOUND_DIRECT_CHAIN, filter_chain_match: { destination_port: options.port }, filters: [denyAll, tcpProxy('inbound_direct', options.passthroughCluster)] },
    ],
    default_filter_chain: { name: INBOUND_PASSTHROUGH_CHAIN, filters: [tcpProxy('inbound_passthrough', options.passthroughCluster)] },
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
