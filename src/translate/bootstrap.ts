/**
 * The Envoy bootstrap `trellis bootstrap` writes: who the node is, where its
 * control plane is, how it proves its identity and which root it trusts for
 * the control connection. Everything else arrives over ADS. Pure.
 *
 * Two ways to present the identity token on the ADS stream:
 *   - `token`: written into the bootstrap (the gRPC service's initial
 *     metadata); Envoy sends the same bytes on every stream for its life.
 *     A Trellis workload token (a folder mesh) and plaintext use this.
 *   - `tokenFile`: Envoy reads the file again for every ADS stream it opens
 *     (the Google gRPC client's `envoy.grpc_credentials.file_based_metadata`
 *     call credentials, whose GetMetadata reads the DataSource per call). A
 *     pod's projected service-account token is rotated in place by the
 *     kubelet, so a sidecar that reconnects after the token it started with
 *     has expired presents the current one (issue 13). Envoy's own gRPC client
 *     (envoy_grpc) has no call credentials, and a client certificate on the
 *     xDS connection would need something in the pod to renew it on disk:
 *     see docs/kubernetes.md, "Identity that outlives its token".
 */
import { TOKEN_METADATA_KEY } from '../identity/verifier.ts';
import { RE2_MAX_PROGRAM_SIZE } from '../model/regex.ts';
import type { Address, ApiConfigSource, CertificateValidationContext, Cluster, ConfigSource, GrpcService, Listener, Node, StatsConfig } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { adsConfigSource, http2Only, singleAddress, socketAddress } from './fragments.ts';
import { BOOTSTRAP_RUNTIME_LAYER, XDS_CLUSTER, XDS_SERVER_NAME } from './names.ts';
import type { InterceptionMode } from './proxy.ts';
import { NODE_METADATA } from './sidecar.ts';
import { adminCluster, statsConfig, statsListener, type StatsSource } from './stats.ts';

export interface BootstrapOptions {
  nodeId: string;
  /** Envoy's --service-cluster: the workload's app or service name. */
  cluster: string;
  zone?: string;
  /** A sidecar: its workload ("ns/pod") and interception mode. */
  workload?: string;
  mode?: InterceptionMode;
  /**
   * A Trellis gateway instead (`trellis bootstrap --gateway`): the Gateway it
   * serves ("ns/name") and the address its listeners bind (default every one).
   */
  gateway?: { key: string; address?: string };
  xds: { address: string; port: number };
  /** PEM of the root(s) the xDS server's certificate chains to; absent = plaintext. */
  trustedCaPem?: string;
  /** SPIFFE ID the xDS server must present. */
  serverSpiffeId?: string;
  /** A token sent as written here (initial metadata, header `x-trellis-token`). */
  token?: string;
  /** A token Envoy reads from a file on every ADS stream; needs `trustedCaPem` (see the file comment). */
  tokenFile?: TokenFile;
  admin: { address: string; port: number };
  /** A sidecar's outbound listener. */
  outboundAddress?: string;
  appPorts?: ReadonlyMap<number, number>;
  appAddress?: string;
  /**
   * The ADS variant Envoy speaks (default `delta`): incremental xDS sends a
   * sidecar only what changed, each resource with its own version, where
   * state of the world resends every cluster and listener on any change of
   * one (in a 1,000-service permissive mesh, ~0.6 MB per sidecar per edit;
   * issue 14). `sotw` for control planes or tools that expect it; Trellis
   * serves both on the same port.
   */
  xdsApi?: XdsApi;
  /**
   * The Prometheus listener (translate/stats.ts) and who the sidecar is, for
   * its metrics' source labels. Absent: no stats listener, Envoy's own tags.
   */
  stats?: { address: string; port: number; source: StatsSource };
}

/** The ADS variant a sidecar's bootstrap asks for (BootstrapOptions.xdsApi). */
export type XdsApi = 'delta' | 'sotw';
export const XDS_APIS: readonly XdsApi[] = ['delta', 'sotw'];

export interface TokenFile {
  /** Absolute: Envoy reads it relative to its own working directory otherwise. */
  path: string;
  /** The metadata header, e.g. `authorization`. */
  header: string;
  /** Written before the file's content, e.g. `Bearer `. */
  prefix?: string;
}

/** envoy.config.grpc_credential.v3.FileBasedMetadataConfig (not among the protos Trellis loads: it never goes over xDS). */
const FILE_BASED_METADATA = 'envoy.grpc_credentials.file_based_metadata';
const FILE_BASED_METADATA_TYPE = 'type.googleapis.com/envoy.config.grpc_credential.v3.FileBasedMetadataConfig';

/**
 * envoy.config.bootstrap.v3.Bootstrap, the fields Trellis writes. The
 * Bootstrap proto is not among those Trellis loads (it never goes over xDS),
 * so the top level is spelt out here; its parts are the generated types.
 */
export interface EnvoyBootstrap {
  node: Node;
  admin: { address: Address };
  dynamic_resources: { ads_config: ApiConfigSource; cds_config: ConfigSource; lds_config: ConfigSource };
  static_resources: { clusters: Cluster[]; listeners?: Listener[] };
  stats_config?: StatsConfig;
  layered_runtime: { layers: { name: string; static_layer: Record<string, unknown> }[] };
}

function nodeMetadata(o: BootstrapOptions): Record<string, string> {
  if (o.gateway) return { [NODE_METADATA.gateway]: o.gateway.key, ...(o.gateway.address ? { [NODE_METADATA.gatewayAddress]: o.gateway.address } : {}) };
  // Our bug if reached: every caller bootstraps a sidecar of a workload or a gateway.
  if (o.workload === undefined || o.mode === undefined || o.outboundAddress === undefined) throw new Error('a sidecar bootstrap needs its workload, mode and outbound address');
  return { [NODE_METADATA.workload]: o.workload, [NODE_METADATA.mode]: o.mode, [NODE_METADATA.outboundAddress]: o.outboundAddress };
}

/**
 * How a sidecar reconnects its ADS stream (issue 14): Envoy's jittered
 * exponential backoff, capped at 5 s instead of its default 30 s, so after a
 * control-plane restart no sidecar sleeps long past the port reopening, and
 * the jitter still spreads 10,000 reconnects over seconds.
 */
const XDS_RECONNECT = { retry_back_off: { base_interval: '0.5s', max_interval: '5s' } } as const;

export function envoyBootstrap(o: BootstrapOptions): EnvoyBootstrap {
  const metadata = nodeMetadata(o);
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
  const grpcService: GrpcService = o.tokenFile ? tokenFileGrpcService(o, o.tokenFile) : { envoy_grpc: { cluster_name: XDS_CLUSTER, retry_policy: XDS_RECONNECT } };
  if (o.token) grpcService.initial_metadata = [{ key: TOKEN_METADATA_KEY, value: o.token }];
  const staticClusters = o.tokenFile ? [] : [xdsCluster];
  return {
    node: { id: o.nodeId, cluster: o.cluster, ...(o.zone ? { locality: { zone: o.zone } } : {}), metadata },
    admin: { address: socketAddress(o.admin.address, o.admin.port) },
    dynamic_resources: {
      ads_config: { api_type: (o.xdsApi ?? 'delta') === 'delta' ? 'DELTA_GRPC' : 'GRPC', transport_api_version: 'V3', set_node_on_first_message_only: true, grpc_services: [grpcService] },
      cds_config: adsConfigSource(),
      lds_config: adsConfigSource(),
    },
    // The Google gRPC client dials the xDS server itself: no cluster to name.
    static_resources: o.stats
      ? { clusters: [...staticClusters, adminCluster(o.admin)], listeners: [statsListener(o.stats)] }
      : { clusters: staticClusters },
    ...(o.stats ? { stats_config: statsConfig(o.stats.source) } : {}),
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

/**
 * ADS over Envoy's Google gRPC client, which re-reads the token file for each
 * stream. The server is checked by name rather than by SPIFFE ID (the Google
 * gRPC client's TLS matches DNS names only): the name `trellis` is carried by
 * the control plane's serving certificate alone among those the mesh root
 * signs (workload certificates have one URI SAN and no DNS name), so it
 * proves the same thing. Keepalive as on the static cluster, and no receive
 * limit, as with Envoy's own gRPC client.
 */
function tokenFileGrpcService(o: BootstrapOptions, file: TokenFile): GrpcService {
  // Our bug if reached: gRPC sends call credentials only on a secure channel, and a token must not cross in the clear.
  if (!o.trustedCaPem) throw new Error('a token file needs TLS to the xDS server (trustedCaPem)');
  const host = o.xds.address.includes(':') ? `[${o.xds.address}]` : o.xds.address;
  // Written out here (an Any holds any message; this one has no generated type).
  const fileBasedMetadata = { '@type': FILE_BASED_METADATA_TYPE, secret_data: { filename: file.path }, header_key: file.header, ...(file.prefix ? { header_prefix: file.prefix } : {}) };
  return {
    google_grpc: {
      target_uri: `${host}:${o.xds.port}`,
      stat_prefix: XDS_CLUSTER,
      channel_credentials: { ssl_credentials: { root_certs: { inline_string: o.trustedCaPem } } },
      call_credentials: [{
        from_plugin: {
          name: FILE_BASED_METADATA,
          typed_config: fileBasedMetadata,
        },
      }],
      credentials_factory_name: FILE_BASED_METADATA,
      channel_args: {
        args: {
          'grpc.ssl_target_name_override': { string_value: XDS_SERVER_NAME },
          'grpc.keepalive_time_ms': { int_value: 30_000 },
          'grpc.keepalive_timeout_ms': { int_value: 10_000 },
          // Unlimited, as Envoy's own client is: gRPC's default of 4 MiB would end the stream on a large CDS (XDS_RULES 27).
          'grpc.max_receive_message_length': { int_value: -1 },
        },
      },
    },
  };
}
