/**
 * The Envoy bootstrap `trellis bootstrap` writes: who the node is, where its
 * control plane is, how it proves its identity (a Trellis token in the ADS
 * stream's initial metadata) and which root it trusts for the control
 * connection. Everything else arrives over ADS. Pure.
 */
import { TOKEN_METADATA_KEY } from '../identity/verifier.ts';
import { NODE_METADATA, type InterceptionMode } from './proxy.ts';

export const XDS_CLUSTER = 'trellis_xds';

export interface BootstrapOptions {
  nodeId: string;
  /** Envoy's --service-cluster: the workload's app or service name. */
  cluster: string;
  zone?: string;
  workload: string;
  mode: InterceptionMode;
  xds: { address: string; port: number };
  /** PEM of the root(s) the xDS server's certificate chains to; absent = plaintext. */
  trustedCaPem?: string;
  /** SPIFFE ID the xDS server must present. */
  serverSpiffeId?: string;
  token?: string;
  admin: { address: string; port: number };
  outboundAddress: string;
  appPorts?: ReadonlyMap<number, number>;
  appAddress?: string;
}

export function envoyBootstrap(o: BootstrapOptions): Record<string, unknown> {
  const metadata: Record<string, string> = {
    [NODE_METADATA.workload]: o.workload,
    [NODE_METADATA.mode]: o.mode,
    [NODE_METADATA.outboundAddress]: o.outboundAddress,
  };
  if (o.appPorts && o.appPorts.size > 0) metadata[NODE_METADATA.appPorts] = [...o.appPorts].map(([a, b]) => `${a}=${b}`).join(',');
  if (o.appAddress) metadata[NODE_METADATA.appAddress] = o.appAddress;
  const xdsCluster: Record<string, unknown> = {
    name: XDS_CLUSTER,
    type: /^[\d.]+$|:/.test(o.xds.address) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '10s' } } },
      },
    },
    load_assignment: {
      cluster_name: XDS_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: o.xds.address, port_value: o.xds.port } } } }] }],
    },
  };
  if (o.trustedCaPem) {
    const validation: Record<string, unknown> = { trusted_ca: { inline_string: o.trustedCaPem } };
    if (o.serverSpiffeId) validation.match_typed_subject_alt_names = [{ san_type: 'URI', matcher: { exact: o.serverSpiffeId } }];
    xdsCluster.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'trellis',
        common_tls_context: { validation_context: validation },
      },
    };
  }
  const grpcService: Record<string, unknown> = { envoy_grpc: { cluster_name: XDS_CLUSTER } };
  if (o.token) grpcService.initial_metadata = [{ key: TOKEN_METADATA_KEY, value: o.token }];
  return {
    node: { id: o.nodeId, cluster: o.cluster, ...(o.zone ? { locality: { zone: o.zone } } : {}), metadata },
    admin: { address: { socket_address: { address: o.admin.address, port_value: o.admin.port } } },
    dynamic_resources: {
      ads_config: { api_type: 'GRPC', transport_api_version: 'V3', set_node_on_first_message_only: true, grpc_services: [grpcService] },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: { clusters: [xdsCluster] },
    // Keep serving the last config when Trellis is away (restarts, upgrades).
    layered_runtime: { layers: [{ name: 'static', static_layer: { 'overload.global_downstream_max_connections': 50000 } }] },
  };
}
