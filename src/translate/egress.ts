/**
 * Egress (docs/intents.md "Egress"): what a sidecar does with traffic to
 * destinations outside the mesh. Pure.
 *
 * - Declared (ExternalService): each host and port gets its own
 *   DNS-resolved cluster (`external/<host>:<port>`, LOGICAL_DNS: one
 *   connection pool re-resolved as DNS says) with the service's timeouts,
 *   retries, circuit breaking and outlier detection, and TLS origination
 *   on its HTTP and TCP ports when it has a CA bundle. HTTP ports get a
 *   virtual host in the outbound route configuration (both interception
 *   modes). In transparent mode TLS ports get a filter chain matched on SNI
 *   and port, passed on without terminating TLS; TCP ports one matched on
 *   port and addresses. A caller its sources leave out is refused by its own sidecar:
 *   403 for HTTP, the connection closed for TLS and TCP.
 * - Not declared, transparent mode: HTTP meets a catch-all virtual host and
 *   anything else the listener's default chain; with MeshConfig egress
 *   Passthrough (the default) both go where they were going (the
 *   ORIGINAL_DST `passthrough` cluster), with RegistryOnly HTTP gets a 502
 *   naming why and other connections are closed (a tcp_proxy to
 *   `egress-blocked`, a cluster with no endpoints), each logged with its
 *   destination on the sidecar's stdout.
 */
import { circuitBreakers, outlier } from './cluster.ts';
import type { ExternalPort, ExternalService, MeshModel } from '../model/types.ts';
import type { AccessLog, Cluster, Filter, FilterChain, ListenerFilter, VirtualHost } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { singleAddress } from './fragments.ts';
import {
  DEFAULT_ROUTE,
  EGRESS_BLOCKED,
  EGRESS_BLOCKED_STAT_PREFIX,
  EGRESS_PASSTHROUGH,
  EGRESS_PASSTHROUGH_STAT_PREFIX,
  EXTERNAL_DENIED_STAT_PREFIX,
  externalName,
  externalStatPrefix,
  PASSTHROUGH_CLUSTER,
} from './names.ts';
import { routeMatch } from './match.ts';
import { envoyRoutes } from './routes.ts';

/** Whether the caller (its SPIFFE ID) may reach `es`: listed in its sources, else as the mesh's authorization mode says. */
export function mayReach(model: MeshModel, es: ExternalService, identity: string | undefined): boolean {
  if (es.sources) return identity !== undefined && es.sources.includes(identity);
  return model.mesh.authorization === 'permissive';
}

/** Why a caller is refused `es`, for the 403 body. */
function deniedBecause(model: MeshModel, es: ExternalService): string {
  return es.sources
    ? `trellis: egress refused: ExternalService ${es.key} does not list this workload's service account in spec.sources\n`
    : `trellis: egress refused: authorization is Strict (MeshConfig) and ExternalService ${es.key} lists no spec.sources\n`;
}

/** The (host, port) pairs that get a cluster: every host of HTTP and TLS ports; TCP ports have one host. */
function targets(es: ExternalService): Array<{ host: string; port: ExternalPort }> {
  return es.ports.flatMap((port) => (port.protocol === 'TCP' ? [{ host: es.hosts[0]!, port }] : es.hosts.map((host) => ({ host, port }))));
}

/**
 * TLS the sidecar originates for an HTTP or TCP port (the application speaks
 * plaintext): the server is checked as a browser would check it — it chains
 * to the bundle and names the host (or `subjectAltName`). A TLS port gets
 * none: that session is the application's own.
 */
function originationTls(tls: NonNullable<ExternalService['tls']>, host: string): NonNullable<Cluster['transport_socket']> {
  const sni = tls.sni ?? host;
  return extension('UpstreamTls', {
    sni,
    common_tls_context: {
      validation_context: { trusted_ca: { inline_string: tls.caBundlePem }, match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: tls.subjectAltName ?? sni } }] },
    },
  });
}

export function externalClusters(es: ExternalService): Cluster[] {
  return targets(es).map(({ host, port }) => {
    const name = externalName(host, port.port);
    const cluster: Cluster = {
      name,
      type: 'LOGICAL_DNS',
      dns_lookup_family: 'V4_PREFERRED',
      connect_timeout: '2s',
      lb_policy: 'ROUND_ROBIN',
      load_assignment: singleAddress(name, host, port.targetPort),
    };
    const cb = circuitBreakers(es.policy.circuitBreaker, es.policy.retries?.budget);
    if (cb) cluster.circuit_breakers = cb;
    const od = outlier(es.policy.outlierDetection);
    if (od) cluster.outlier_detection = od;
    if (port.protocol !== 'TLS' && es.tls) cluster.transport_socket = originationTls(es.tls, host);
    return cluster;
  });
}

/**
 * Virtual hosts of the HTTP ports of every ExternalService. `host:port`
 * always; the bare host (a Host header without a port) for port 80, else the
 * host's lowest HTTP port: a domain may appear once in a route configuration.
 */
export function externalVirtualHosts(model: MeshModel, identity: string | undefined): VirtualHost[] {
  const http = [...model.externalServices.values()].flatMap((es) => targets(es).filter((t) => t.port.protocol === 'HTTP').map((t) => ({ es, ...t })));
  const bare = new Map<string, number>();
  for (const { host, port } of http) {
    const seen = bare.get(host);
    if (seen === undefined || (seen !== 80 && (port.port === 80 || port.port < seen))) bare.set(host, port.port);
  }
  return http.map(({ es, host, port }) => {
    const name = externalName(host, port.port);
    const domains = bare.get(host) === port.port ? [host, `${host}:${port.port}`] : [`${host}:${port.port}`];
    if (!mayReach(model, es, identity)) {
      return { name, domains, routes: [{ name: DEFAULT_ROUTE, match: { prefix: '/' }, direct_response: { status: 403, body: { inline_string: deniedBecause(model, es) } } }] };
    }
    const policy = { ...es.policy, from: [es.key], routes: [] };
    return { name, domains, routes: envoyRoutes({ name: DEFAULT_ROUTE, matchFor: (only) => routeMatch(undefined, only), action: { cluster: name }, timeouts: es.policy.timeouts, retries: es.policy.retries }, policy, 'envoy') };
  });
}

/** Transparent mode: HTTP to a host nothing declares. */
export function catchAllVirtualHost(mode: MeshModel['mesh']['egress']): VirtualHost {
  if (mode === 'passthrough') {
    return { name: EGRESS_PASSTHROUGH, domains: ['*'], routes: [{ name: EGRESS_PASSTHROUGH, match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: '0s' } }] };
  }
  return {
    name: EGRESS_BLOCKED,
    domains: ['*'],
    routes: [{
      name: EGRESS_BLOCKED,
      match: { prefix: '/' },
      direct_response: {
        status: 502,
        body: { inline_string: 'trellis: egress refused: the mesh is registry-only (MeshConfig spec.egress.mode: RegistryOnly) and no ExternalService declares this host and port\n' },
      },
      response_headers_to_add: [{ header: { key: 'x-trellis-egress', value: 'refused %REQ(:AUTHORITY)%' } }],
    }],
  };
}

function tcpProxy(statPrefix: string, cluster: string, accessLog?: AccessLog[]): Filter {
  return extension('TcpProxy', { stat_prefix: statPrefix, cluster, ...(accessLog ? { access_log: accessLog } : {}) });
}

/** A line on the sidecar's stdout per refused connection or request: where it was going, and why. */
function refusalLog(format: string, filter?: AccessLog['filter']): AccessLog[] {
  return [{ ...extension('StdoutAccessLog', { log_format: { text_format_source: { inline_string: format } } }), ...(filter ? { filter } : {}) }];
}

/** The outbound HTTP connection manager's log of refused requests (502: not declared, 403: not a source). */
export function egressHttpAccessLog(): AccessLog[] {
  const status = (code: number) => ({ status_code_filter: { comparison: { op: 'EQ' as const, value: { default_value: code, runtime_key: `trellis.egress_log_${code}` } } } });
  return refusalLog('[%START_TIME%] trellis egress %RESPONSE_CODE% route=%ROUTE_NAME% authority=%REQ(:AUTHORITY)% destination=%DOWNSTREAM_LOCAL_ADDRESS% source=%DOWNSTREAM_REMOTE_ADDRESS% details=%RESPONSE_CODE_DETAILS%\n', {
    or_filter: { filters: [status(502), status(403)] },
  });
}

/** Transparent mode's chains for declared TLS and TCP ports. */
export function externalChains(model: MeshModel, identity: string | undefined): FilterChain[] {
  const chains: FilterChain[] = [];
  for (const es of model.externalServices.values()) {
    const allowed = mayReach(model, es, identity);
    for (const { host, port } of targets(es)) {
      if (port.protocol === 'HTTP') continue;
      const name = externalName(host, port.port);
      const match: FilterChain['filter_chain_match'] = port.protocol === 'TLS'
        ? { destination_port: port.port, server_names: [host], transport_protocol: 'tls' }
        : { destination_port: port.port, ...(es.addresses.length ? { prefix_ranges: es.addresses.map(cidr) } : {}) };
      const filter = allowed
        ? tcpProxy(externalStatPrefix(host, port.port), name)
        : tcpProxy(EXTERNAL_DENIED_STAT_PREFIX, EGRESS_BLOCKED, refusalLog(`[%START_TIME%] trellis egress refused: ExternalService ${es.key} does not admit this workload; destination=%DOWNSTREAM_LOCAL_ADDRESS% sni=%REQUESTED_SERVER_NAME% source=%DOWNSTREAM_REMOTE_ADDRESS%\n`));
      chains.push({ name, filter_chain_match: match, filters: [filter] });
    }
  }
  return chains;
}

function cidr(c: string): { address_prefix: string; prefix_len: number } {
  const [address, bits] = c.split('/');
  return { address_prefix: address!, prefix_len: Number(bits) };
}

/** Transparent mode's default chain: what is not HTTP and not declared. */
export function egressDefaultChain(mode: MeshModel['mesh']['egress']): FilterChain {
  if (mode === 'passthrough') return { name: EGRESS_PASSTHROUGH, filters: [tcpProxy(EGRESS_PASSTHROUGH_STAT_PREFIX, PASSTHROUGH_CLUSTER)] };
  return {
    name: EGRESS_BLOCKED,
    filters: [tcpProxy(EGRESS_BLOCKED_STAT_PREFIX, EGRESS_BLOCKED, refusalLog('[%START_TIME%] trellis egress refused: registry-only (MeshConfig spec.egress.mode: RegistryOnly), no ExternalService declares it; destination=%DOWNSTREAM_LOCAL_ADDRESS% sni=%REQUESTED_SERVER_NAME% source=%DOWNSTREAM_REMOTE_ADDRESS%\n'))],
  };
}

/** A cluster with no endpoints: a tcp_proxy to it closes the connection at once (`tcp.<prefix>.*`, `cluster.egress-blocked.upstream_cx_none_healthy`). */
export function blackholeCluster(name = EGRESS_BLOCKED): Cluster {
  return { name, type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: name, endpoints: [] } };
}

/** What the transparent outbound listener looks at before choosing a chain: where it was going, SNI, and whether it is HTTP. */
export function egressListenerFilters(): ListenerFilter[] {
  return [extension('OriginalDst', {}), extension('TlsInspector', {}), extension('HttpInspector', {})];
}
