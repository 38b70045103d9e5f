/**
 * Listener builders: the sidecar's outbound listener, its inbound listeners
 * (mTLS + RBAC + forward to the application), and the API listeners that
 * proxyless gRPC clients ask for by name. Pure.
 */
import type { RateLimitService, ServerLimits } from '../model/types.ts';
import type { Filter, FilterChain, Listener, ListenerFilter } from '../xds/envoy-types.ts';
import { extension, typedConfig } from '../xds/extensions.ts';
import { DETECTION_TIMEOUT, httpInspector, SIDECAR_HTTP_ALPN, tlsInspector } from './detect.ts';
import { adsConfigSource, socketAddress } from './fragments.ts';
import { httpFilters, limitFilters, type HttpFiltersByRole, type LimitFeatures } from './http-filters.ts';
import {
  INBOUND_DIRECT_CHAIN,
  INBOUND_DIRECT_STAT_PREFIX,
  INBOUND_PASSTHROUGH_CHAIN,
  INBOUND_PASSTHROUGH_STAT_PREFIX,
  inboundStatPrefix,
  OUTBOUND_ROUTE,
  OUTBOUND_STAT_PREFIX,
  PROXYLESS_STAT_PREFIX,
} from './names.ts';
import { connectionLimitFilter, inboundVirtualHost, serverFeatures } from './server-limits.ts';
import { tcpProxy } from './tcp-listeners.ts';
import type { HcmTelemetry } from './telemetry.ts';
import { downstreamTls } from './tls.ts';

/**
 * WebSocket (an HTTP/1.1 Upgrade, or an extended CONNECT over HTTP/2) on
 * every mesh HTTP route: Envoy refuses an upgrade no config names (403).
 * After the 101 the connection is a byte stream both sidecars proxy, still
 * over the mTLS between them; RBAC and routing apply to the upgrade request.
 */
function upgrades(): { upgrade_type: string }[] {
  return [{ upgrade_type: 'websocket' }];
}

/** Transparent mode: where a redirected connection was going (iptables REDIRECT keeps it). */
function originalDst(): ListenerFilter {
  return extension('OriginalDst', {});
}

/**
 * The outbound HTTP connection manager: routes by Host over the `outbound`
 * route configuration, with the fault and rate limit filters `features` asks
 * for (http-filters.ts), and the access log and tracing of `telemetry`.
 */
export function outboundHcm(features: LimitFeatures = {}, telemetry: HcmTelemetry = {}): Filter {
  return extension('HttpConnectionManager', {
    stat_prefix: OUTBOUND_STAT_PREFIX,
    codec_type: 'AUTO',
    rds: { route_config_name: OUTBOUND_ROUTE, config_source: adsConfigSource() },
    upgrade_configs: upgrades(),
    // gRPC status per destination cluster (cluster.<stat name>.grpc.{success,failure,total}): a gRPC
    // call that fails answers HTTP 200, so golden metrics need it (translate/stats.ts). No per-method
    // stats: a caller could make them grow without bound.
    http_filters: httpFilters('outbound', { grpc_stats: extension('GrpcStats', { stats_for_all_methods: false }), ...limitFilters('outbound', features) }),
    ...telemetry,
  });
}

/**
 * `tcpChains`: transparent mode's TCP and undeclared services, matched by
 * original destination (tcp-listeners.ts); everything else is HTTP.
 * `detectPorts`: the destination ports of undeclared services, where the
 * http_inspector runs (detect.ts).
 */
export function outboundListener(options: {
  name: string;
  address: string;
  port: number;
  transparent: boolean;
  features?: LimitFeatures;
  telemetry?: HcmTelemetry;
  tcpChains?: readonly FilterChain[];
  detectPorts?: readonly number[];
}): Listener {
  const listener: Listener = {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'OUTBOUND',
    filter_chains: [...(options.tcpChains ?? []), { filters: [outboundHcm(options.features, options.telemetry)] }],
  };
  if (options.transparent) {
    // iptables redirected the connection here; recover where it was going.
    listener.listener_filters = [originalDst()];
    if (options.detectPorts?.length) {
      listener.listener_filters.push(httpInspector(options.detectPorts));
      Object.assign(listener, detectionTimeout());
    }
  }
  return listener;
}

export interface InboundPort {
  /** Service port number: what callers' endpoints name. */
  port: number;
  /** Cluster forwarding to the application. */
  cluster: string;
}

/** What an inbound HTTP connection manager runs besides routing to the application. */
interface InboundHttp {
  /** Its authentication and authorization filters by role (http-filters.ts decides their order). */
  filters: HttpFiltersByRole;
  /** What the port's policy counts here (issue 15), and where global limits are asked. */
  limits?: ServerLimits;
  rateLimitService?: RateLimitService;
  /** Access log and tracing (MeshConfig), for this workload's inbound side. */
  telemetry?: HcmTelemetry;
}

export function inboundListener(options: InboundHttp & {
  name: string;
  address: string;
  port: number;
  cluster: string;
  /** An undeclared port's TCP filters (detect.ts): HTTP by the client sidecar's ALPN, else these. */
  tcpFilters?: Filter[];
}): Listener {
  const http = inboundFilters(options.name, options.cluster, options);
  if (!options.tcpFilters) {
    return { name: options.name, address: socketAddress(options.address, options.port), traffic_direction: 'INBOUND', filter_chains: [{ transport_socket: downstreamTls(), filters: http }] };
  }
  return {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'INBOUND',
    listener_filters: [tlsInspector([options.port])],
    ...detectionTimeout(),
    filter_chains: [
      { name: 'http', filter_chain_match: { application_protocols: SIDECAR_HTTP_ALPN }, transport_socket: downstreamTls(), filters: http },
      { name: 'tcp', transport_socket: downstreamTls(), filters: options.tcpFilters },
    ],
  };
}

/** Give up detecting after DETECTION_TIMEOUT and carry the connection as TCP (detect.ts). */
function detectionTimeout(): Pick<Listener, 'listener_filters_timeout' | 'continue_on_listener_filters_timeout'> {
  return { listener_filters_timeout: DETECTION_TIMEOUT, continue_on_listener_filters_timeout: true };
}

/** The inbound HTTP chain's network filters: the connection cap when there is one, then the HCM. */
function inboundFilters(name: string, cluster: string, o: InboundHttp): Filter[] {
  const hcm = inboundHcm(name, cluster, o);
  return o.limits?.connections ? [connectionLimitFilter(name, o.limits.connections.max), hcm] : [hcm];
}

/**
 * mTLS is terminated before it; `name` is its listener's or filter chain's,
 * which names its inline route configuration and makes its stat prefix.
 */
function inboundHcm(name: string, cluster: string, o: InboundHttp): Filter {
  return extension('HttpConnectionManager', {
    stat_prefix: inboundStatPrefix(name),
    codec_type: 'AUTO',
    // The application learns its caller's SPIFFE ID from the
    // verified certificate, never from a header the caller sent.
    forward_client_cert_details: 'SANITIZE_SET',
    set_current_client_cert_details: { uri: true },
    upgrade_configs: upgrades(),
    route_config: { name, virtual_hosts: [inboundVirtualHost(cluster, o.limits)] },
    http_filters: httpFilters('inbound', { ...o.filters, ...limitFilters('inbound', serverFeatures(o.limits, o.rateLimitService)) }),
    ...o.telemetry,
  });
}

export interface InboundChain {
  /** Filter chain name, and its route configuration's. */
  name: string;
  /** The port the caller connected to (the targetPort, what its endpoints name): the redirect's original destination. */
  port: number;
  /** Cluster forwarding to the application on that port. */
  cluster: string;
  /** Its HTTP authentication and authorization filters by role (http-filters.ts decides their order). */
  filters: HttpFiltersByRole;
  limits?: ServerLimits;
  /** A TCP port's network filters (tcp-listeners.ts inboundTcpFilters), in place of the HTTP connection manager. */
  networkFilters?: Filter[];
  /**
   * An undeclared port's TCP filters: the chain is doubled, HTTP when the
   * client sidecar's ALPN says so (`name`), else these (`name/tcp`); detect.ts.
   */
  tcpFilters?: Filter[];
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
  rateLimitService?: RateLimitService;
  telemetry?: HcmTelemetry;
}): Listener {
  // ALLOW with no policy: nothing is allowed.
  const denyAll = extension('NetworkRbac', { stat_prefix: INBOUND_DIRECT_STAT_PREFIX, rules: { action: 'ALLOW' } });
  const chains: FilterChain[] = options.chains.flatMap((c): FilterChain[] => {
    const filters = c.networkFilters ?? inboundFilters(c.name, c.cluster, { ...c, rateLimitService: options.rateLimitService, telemetry: options.telemetry });
    if (!c.tcpFilters) return [{ name: c.name, filter_chain_match: { destination_port: c.port }, transport_socket: downstreamTls(), filters }];
    return [
      { name: c.name, filter_chain_match: { destination_port: c.port, application_protocols: SIDECAR_HTTP_ALPN }, transport_socket: downstreamTls(), filters },
      { name: `${c.name}/tcp`, filter_chain_match: { destination_port: c.port }, transport_socket: downstreamTls(), filters: c.tcpFilters },
    ];
  });
  const detectPorts = options.chains.filter((c) => c.tcpFilters).map((c) => c.port);
  return {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'INBOUND',
    listener_filters: detectPorts.length ? [originalDst(), tlsInspector(detectPorts)] : [originalDst()],
    ...(detectPorts.length ? detectionTimeout() : {}),
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
        // gRPC clients run no fault or rate limit filter (routes.ts leaves their routes without).
        http_filters: httpFilters('outbound', {}),
      }),
    },
  };
}
