/**
 * Listener builders: the sidecar's outbound listener, its inbound listeners
 * (mTLS + RBAC + forward to the application), and the API listeners that
 * proxyless gRPC clients ask for by name. Pure.
 */
import type { RateLimitService, ServerLimits } from '../model/types.ts';
import type { AccessLog, Filter, FilterChain, Listener, ListenerFilter } from '../xds/envoy-types.ts';
import { extension, typedConfig } from '../xds/extensions.ts';
import { DETECTION_TIMEOUT, httpInspector, SIDECAR_HTTP_ALPN, tlsInspector } from './detect.ts';
import { permissiveChains, tlsInspector as anyPortTlsInspector } from './permissive.ts';
import { adsConfigSource, socketAddress } from './fragments.ts';
import { httpFilters, limitFilters, type HttpFiltersByRole, type LimitFeatures } from './http-filters.ts';
import {
  INBOUND_DIRECT_CHAIN,
  INBOUND_DIRECT_STAT_PREFIX,
  INBOUND_PASSTHROUGH_CHAIN,
  INBOUND_PASSTHROUGH_STAT_PREFIX,
  inboundStatPrefix,
  OUTBOUND_HTTP_CHAIN,
  OUTBOUND_ROUTE,
  OUTBOUND_STAT_PREFIX,
  plaintextChainName,
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
/** `route`: the shared one by Host, or (transparent mode) a ClusterIP's own (http-destinations.ts). */
export function outboundHcm(features: LimitFeatures = {}, telemetry: HcmTelemetry = {}, route = OUTBOUND_ROUTE): Filter {
  return extension('HttpConnectionManager', {
    stat_prefix: OUTBOUND_STAT_PREFIX,
    codec_type: 'AUTO',
    rds: { route_config_name: route, config_source: adsConfigSource() },
    upgrade_configs: upgrades(),
    // gRPC status per destination cluster (cluster.<stat name>.grpc.{success,failure,total}): a gRPC
    // call that fails answers HTTP 200, so golden metrics need it (translate/stats.ts). No per-method
    // stats: a caller could make them grow without bound.
    http_filters: httpFilters('outbound', { grpc_stats: extension('GrpcStats', { stats_for_all_methods: false }), ...limitFilters('outbound', features) }),
    ...telemetry,
  });
}

/** Transparent mode's egress parts (egress.ts): chains for declared TLS/TCP ports, the default chain, inspectors, the refusal log. */
export interface OutboundEgress {
  chains: FilterChain[];
  defaultChain: FilterChain;
  listenerFilters: ListenerFilter[];
  accessLog: AccessLog[];
}

/**
 * `tcpChains`: transparent mode's TCP and undeclared services, matched by
 * original destination (tcp-listeners.ts); everything else is HTTP.
 * `detectPorts`: the destination ports of undeclared services, where the
 * http_inspector runs (detect.ts). `egress` (transparent mode): HTTP, as the
 * http_inspector tells, is routed by Host; other traffic by SNI, port and
 * address (ExternalServices, TCP services), else the default chain that
 * passes it through or refuses it.
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
  egress?: OutboundEgress;
}): Listener {
  const egress = options.egress;
  const telemetry: HcmTelemetry = egress ? { ...options.telemetry, access_log: [...(options.telemetry?.access_log ?? []), ...egress.accessLog] } : (options.telemetry ?? {});
  const hcm = outboundHcm(options.features, telemetry);
  const listener: Listener = {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'OUTBOUND',
    filter_chains: [...(options.tcpChains ?? []), { filters: [hcm] }],
  };
  if (egress) {
    // The egress listener filters include an http_inspector on every port: the TCP services' detection is covered.
    listener.filter_chains = [
      ...(options.tcpChains ?? []),
      ...egress.chains,
      { name: OUTBOUND_HTTP_CHAIN, filter_chain_match: { application_protocols: ['http/1.0', 'http/1.1', 'h2c'] }, filters: [hcm] },
    ];
    listener.default_filter_chain = egress.defaultChain;
    listener.listener_filters = egress.listenerFilters;
    // A server-first protocol (MySQL, SMTP) sends nothing for the inspectors to read: after this, the default chain.
    Object.assign(listener, detectionTimeout());
  } else if (options.transparent) {
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
  /** Permissive mTLS mode: plaintext accepted beside mTLS (permissive.ts). */
  acceptPlaintext?: boolean;
}

export function inboundListener(options: InboundHttp & {
  name: string;
  address: string;
  port: number;
  cluster: string;
  /** An undeclared port's TCP filters (detect.ts): HTTP by the client sidecar's ALPN, else these. */
  tcpFilters?: Filter[];
}): Listener {
  const base = { name: options.name, address: socketAddress(options.address, options.port), traffic_direction: 'INBOUND' as const };
  if (!options.tcpFilters) {
    return {
      ...base,
      ...(options.acceptPlaintext ? { listener_filters: [anyPortTlsInspector()] } : {}),
      filter_chains: inboundChains({ ...options, port: undefined, chainName: options.name, named: false }),
    };
  }
  return {
    ...base,
    listener_filters: [options.acceptPlaintext ? anyPortTlsInspector() : tlsInspector([options.port])],
    ...detectionTimeout(),
    filter_chains: [
      ...inboundChains({ ...options, port: undefined, chainName: 'http', named: true, alpn: SIDECAR_HTTP_ALPN }),
      { name: 'tcp', transport_socket: downstreamTls(), filters: options.tcpFilters },
    ],
  };
}

/**
 * The mTLS HTTP chain of one inbound port (`alpn`: only for the client
 * sidecar's HTTP, an undeclared port's), with its plaintext twin when the
 * workload is Permissive (permissive.ts): told apart by the transport
 * protocol, the twin with its own stat prefix and no caller identity.
 */
function inboundChains(c: InboundHttp & { name: string; cluster: string; chainName: string; named: boolean; port?: number; alpn?: string[] }): FilterChain[] {
  const match = { ...(c.port !== undefined ? { destination_port: c.port } : {}), ...(c.alpn ? { application_protocols: c.alpn } : {}) };
  const tls: FilterChain = {
    ...(c.named ? { name: c.chainName } : {}),
    ...(Object.keys(match).length > 0 ? { filter_chain_match: match } : {}),
    transport_socket: downstreamTls(),
    filters: inboundFilters(c.name, c.cluster, c),
  };
  if (!c.acceptPlaintext) return [tls];
  const plaintext = plaintextChainName(c.name);
  const [secure, twin] = permissiveChains({ ...tls, name: c.chainName }, inboundFilters(plaintext, c.cluster, c));
  // The twin matches plaintext on the port whatever the ALPN (a plaintext caller offers none).
  return [secure!, { ...twin!, filter_chain_match: { ...(c.port !== undefined ? { destination_port: c.port } : {}), transport_protocol: 'raw_buffer' } }];
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
  /** A TCP port's chains (tcp-listeners.ts inboundTcpChains: mTLS, and a Permissive workload's plaintext twin), in place of the HTTP ones. */
  networkChains?: FilterChain[];
  /**
   * An undeclared port's TCP filters: the chain is doubled, HTTP when the
   * client sidecar's ALPN says so (`name`), else these (`name/tcp`); detect.ts.
   */
  tcpFilters?: Filter[];
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
  rateLimitService?: RateLimitService;
  telemetry?: HcmTelemetry;
}): Listener {
  // ALLOW with no policy: nothing is allowed.
  const denyAll = extension('NetworkRbac', { stat_prefix: INBOUND_DIRECT_STAT_PREFIX, rules: { action: 'ALLOW' } });
  const chains: FilterChain[] = options.chains.flatMap((c): FilterChain[] => {
    if (c.networkChains) return c.networkChains;
    const http = inboundChains({ ...c, rateLimitService: options.rateLimitService, telemetry: options.telemetry, chainName: c.name, named: true, ...(c.tcpFilters ? { alpn: SIDECAR_HTTP_ALPN } : {}) });
    if (!c.tcpFilters) return http;
    return [...http, { name: `${c.name}/tcp`, filter_chain_match: { destination_port: c.port }, transport_socket: downstreamTls(), filters: c.tcpFilters }];
  });
  const detectPorts = options.chains.filter((c) => c.tcpFilters).map((c) => c.port);
  const anyPlaintext = options.chains.some((c) => c.acceptPlaintext);
  const inspector = anyPlaintext ? [anyPortTlsInspector()] : detectPorts.length ? [tlsInspector(detectPorts)] : [];
  return {
    name: options.name,
    address: socketAddress(options.address, options.port),
    traffic_direction: 'INBOUND',
    listener_filters: [originalDst(), ...inspector],
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
