/**
 * Listener builders: the sidecar's outbound listener, its inbound listeners
 * (mTLS + RBAC + forward to the application), and the API listeners that
 * proxyless gRPC clients ask for by name. Pure.
 */
import type { AccessLog, Filter, FilterChain, HttpFilter, Listener, ListenerFilter } from '../xds/envoy-types.ts';
import { extension, typedConfig } from '../xds/extensions.ts';
import { adsConfigSource, socketAddress } from './fragments.ts';
import {
  INBOUND_DIRECT_CHAIN,
  INBOUND_DIRECT_STAT_PREFIX,
  INBOUND_PASSTHROUGH_CHAIN,
  INBOUND_PASSTHROUGH_STAT_PREFIX,
  INBOUND_VIRTUAL_HOST,
  inboundStatPrefix,
  OUTBOUND_HTTP_CHAIN,
  OUTBOUND_ROUTE,
  OUTBOUND_STAT_PREFIX,
  plaintextChainName,
  PROXYLESS_STAT_PREFIX,
} from './names.ts';
import { permissiveChains, tlsInspector } from './permissive.ts';
import { downstreamTls } from './tls.ts';

function router(): HttpFilter {
  return extension('Router', {});
}

/** Transparent mode: where a redirected connection was going (iptables REDIRECT keeps it). */
function originalDst(): ListenerFilter {
  return extension('OriginalDst', {});
}

/** Transparent mode's egress parts (egress.ts): chains for declared TLS/TCP ports, the default chain, inspectors, the refusal log. */
export interface OutboundEgress {
  chains: FilterChain[];
  defaultChain: FilterChain;
  listenerFilters: ListenerFilter[];
  accessLog: AccessLog[];
}

export function outboundListener(options: { name: string; address: string; port: number; transparent: boolean; egress?: OutboundEgress }): Listener {
  const egress = options.egress;
  const hcm = extension('HttpConnectionManager', {
    stat_prefix: OUTBOUND_STAT_PREFIX,
    codec_type: 'AUTO',
    rds: { route_config_name: OUTBOUND_ROUTE, config_source: adsConfigSource() },
    http_filters: [router()],
    ...(egress ? { access_log: egress.accessLog } : {}),
  });
  const listener: Listener = {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ filters: [hcm] }],
  };
  if (egress) {
    // HTTP (as http_inspector tells) is routed by Host; other traffic by SNI, port and address, else the default chain.
    listener.filter_chains = [...egress.chains, { name: OUTBOUND_HTTP_CHAIN, filter_chain_match: { application_protocols: ['http/1.0', 'http/1.1', 'h2c'] }, filters: [hcm] }];
    listener.default_filter_chain = egress.defaultChain;
    listener.listener_filters = egress.listenerFilters;
    // A server-first protocol (MySQL, SMTP) sends nothing for the inspectors to read: after this, the default chain.
    listener.listener_filters_timeout = '1s';
    listener.continue_on_listener_filters_timeout = true;
  } else if (options.transparent) {
    // iptables redirected the connection here; recover where it was going.
    listener.listener_filters = [originalDst()];
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
  rbac?: HttpFilter;
  /** Permissive mTLS mode: plaintext accepted beside mTLS (permissive.ts). */
  acceptPlaintext?: boolean;
}): Listener {
  return {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'INBOUND',
    ...(options.acceptPlaintext ? { listener_filters: [tlsInspector()] } : {}),
    filter_chains: inboundChains({ name: options.name, cluster: options.cluster, rbac: options.rbac, acceptPlaintext: options.acceptPlaintext }),
  };
}

/** The mTLS chain of one inbound port, with its plaintext twin when the workload is Permissive. */
function inboundChains(c: { name: string; port?: number; cluster: string; rbac?: HttpFilter; acceptPlaintext?: boolean }, named = false): FilterChain[] {
  const tls: FilterChain = {
    ...(named ? { name: c.name } : {}),
    ...(c.port !== undefined ? { filter_chain_match: { destination_port: c.port } } : {}),
    transport_socket: downstreamTls(),
    filters: [inboundHcm(c.name, c.cluster, c.rbac)],
  };
  return c.acceptPlaintext ? permissiveChains({ ...tls, name: c.name }, [inboundHcm(plaintextChainName(c.name), c.cluster, c.rbac)]) : [tls];
}

/**
 * mTLS is terminated before it; `name` is its listener's or filter chain's,
 * which names its inline route configuration and makes its stat prefix.
 */
function inboundHcm(name: string, cluster: string, rbac: HttpFilter | undefined): Filter {
  return extension('HttpConnectionManager', {
    stat_prefix: inboundStatPrefix(name),
    codec_type: 'AUTO',
    // The application learns its caller's SPIFFE ID from the
    // verified certificate, never from a header the caller sent.
    forward_client_cert_details: 'SANITIZE_SET',
    set_current_client_cert_details: { uri: true },
    route_config: {
      name,
      virtual_hosts: [{ name: INBOUND_VIRTUAL_HOST, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster, timeout: '0s' } }] }],
    },
    http_filters: rbac ? [rbac, router()] : [router()],
  });
}

function tcpProxy(statPrefix: string, cluster: string): Filter {
  return extension('TcpProxy', { stat_prefix: statPrefix, cluster });
}

export interface InboundChain {
  /** Filter chain name, and its route configuration's. */
  name: string;
  /** The port the caller connected to (the targetPort, what its endpoints name): the redirect's original destination. */
  port: number;
  /** Cluster forwarding to the application on that port. */
  cluster: string;
  /** RBAC filter, or undefined in permissive mode. */
  rbac?: HttpFilter;
  /** Permissive mTLS mode: plaintext accepted beside mTLS (permissive.ts). */
  acceptPlaintext?: boolean;
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
}): Listener {
  // ALLOW with no policy: nothing is allowed.
  const denyAll = extension('NetworkRbac', { stat_prefix: INBOUND_DIRECT_STAT_PREFIX, rules: { action: 'ALLOW' } });
  const chains: FilterChain[] = options.chains.flatMap((c) => inboundChains(c, true));
  return {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'INBOUND',
    listener_filters: options.chains.some((c) => c.acceptPlaintext) ? [originalDst(), tlsInspector()] : [originalDst()],
    filter_chains: [
      ...chains,
      {
        name: INBOUND_DIRECT_CHAIN,
        filter_chain_match: { destination_port: options.port },
        filters: [denyAll, tcpProxy(INBOUND_DIRECT_STAT_PREFIX, options.passthroughCluster)],
      },
    ],
    default_filter_chain: { name: INBOUND_PASSTHROUGH_CHAIN, filters: [tcpProxy(INBOUND_PASSTHROUGH_STAT_PREFIX, options.passthroughCluster)] },
  };
}

/** What gRPC's xDS client resolves `xds:///name` to (gRFC A27): an HCM over RDS, no socket. */
export function apiListener(name: string): Listener {
  return {
    name,
    api_listener: {
      api_listener: typedConfig('HttpConnectionManager', {
        stat_prefix: PROXYLESS_STAT_PREFIX,
        rds: { route_config_name: OUTBOUND_ROUTE, config_source: adsConfigSource() },
        http_filters: [router()],
      }),
    },
  };
}
