/**
 * The Envoy bootstrap `trellis bootstrap` writes: who the node is, where its
 * control plane is, how it proves its identity (a Trellis token in the ADS
 * stream's initial metadata) and which root it trusts for the control
 * connection. Everything else arrives over ADS. Pure.
 */
import { TOKEN_METADATA_KEY } from '../identity/verifier.ts';
import { RE2_MAX_PROGRAM_SIZE } from '../model/regex.ts';
import type { Address, ApiConfigSource, CertificateValidationContext, Cluster, ConfigSource, GrpcService, Node } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { adsConfigSource, http2Only, singleAddress, socketAddress } from './fragments.ts';
import { BOOTSTRAP_RUNTIME_LAYER, XDS_CLUSTER, XDS_SERVER_NAME } from './names.ts';
import type { InterceptionMode } from './proxy.ts';
import { NODE_METADATA } from './sidecar.ts';

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

/**
 * envoy.config.bootstrap.v3.Bootstrap, the fields Trellis writes. The
 * Bootstrap proto is not among those Trellis loads (it never goes over xDS),
 * so the top level is spelt out here; its parts are the generated types.
 */
export interface EnvoyBootstrap {
  node: Node;
  admin: { address: Address };
  dynamic_resources: { ads_config: ApiConfigSource; cds_config: ConfigSource; lds_config: ConfigSource };
  static_resources: { clusters: Cluster[] };
  layered_runtime: { layers: { name: string; static_layer: Record<string, unknown> }[] };
}

export function envoyBootstrap(o: BootstrapOptions): EnvoyBootstrap {
  const metadata: Record<string, string> = {
    [NODE_METADATA.workload]: o.workload,
    [NODE_METADATA.mode]: o.mode,
    [NODE_METADATA.outboundAddress]: o.outboundAddress,
  };
  if (o.appPorts && o.appPorts.size > 0) metadata[NODE_METADATA.appPorts] = [...o.appPorts].map(([a, b]) => `${a}=${b}`).join(',');
  if (o.appAddress) metadata[NODE_METADATA.appAddress] = o.appAddress;
  const xdsCluster: Cluster = {
    name: XDS_CLUSTER,
    type: /^[\d.]+$|:/.test(o.xds.address) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    typed_extension_protocol_options: http2Only({ connection_keepalive: { interval: '30s', timeout: '10s' } }),
    load_assignment: singleAddress(XDS_CLUSTER, o.xds.address, o.xds.port),
  };
  if (o.trustedCaPem) {
    const validation: CertificateValidationContext = { trusted_ca: { inline_string: o.trustedCaPem } };
    if (o.serverSpiffeId) validation.match_typed_subject_alt_names = [{ san_type: 'URI', matcher: { exact: o.serverSpiffeId } }];
    xdsCluster.transport_socket = extension('UpstreamTls', { sni: XDS_SERVER_NAME, common_tls_context: { validation_context: validation } });
  }
  const grpcService: GrpcService = { envoy_grpc: { cluster_name: XDS_CLUSTER } };
  if (o.token) grpcService.initial_metadata = [{ key: TOKEN_METADATA_KEY, value: o.token }];
  return {
    node: { id: o.nodeId, cluster: o.cluster, ...(o.zone ? { locality: { zone: o.zone } } : {}), metadata },
    admin: { address: socketAddress(o.admin.address, o.admin.port) },
    dynamic_resources: {
      ads_config: { api_type: 'GRPC', transport_api_version: 'V3', set_node_on_first_message_only: true, grpc_services: [grpcService] },
      cds_config: adsConfigSource(),
      lds_config: adsConfigSource(),
    },
    static_resources: { clusters: [xdsCluster] },
    // Keep serving the last config when Trellis is away (restarts, upgrades).
    // The RE2 program-size limit is pinned to the one validation enforces, so
    // an Envoy with another default never NACKs what Trellis accepted.
    layered_runtime: {
      layers: [{
        name: BOOTSTRAP_RUNTIME_LAYER,
        static_layer: { 'overload.global_downstream_max_connections': 50000, 're2.max_program_size.error_level': RE2_MAX_PROGRAM_SIZE },
      }],
    },
  };
}
