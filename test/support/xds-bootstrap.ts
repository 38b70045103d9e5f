/**
 * The bootstrap a proxyless gRPC client reads (GRPC_XDS_BOOTSTRAP_CONFIG) to
 * find its xDS server and announce its node. Format: gRFC A27
 * https://github.com/grpc/proposal/blob/master/A27-xds-global-load-balancing.md#xdsclient-and-bootstrap-file
 */

export interface GrpcXdsBootstrap {
  xds_servers: Array<{
    server_uri: string;
    channel_creds: Array<{ type: 'insecure' | 'google_default' }>;
    server_features: string[];
  }>;
  node: {
    id: string;
    cluster: string;
    locality: { zone: string; region?: string; sub_zone?: string };
    metadata?: Record<string, unknown>;
  };
}

export interface GrpcXdsBootstrapOptions {
  /** `127.0.0.1:PORT` of the Trellis xDS server */
  xdsAddress: string;
  nodeId: string;
  /** default 'z1' */
  zone?: string;
  region?: string;
  /** node.cluster; default 'trellis-test' */
  cluster?: string;
  metadata?: Record<string, unknown>;
  /** default ['xds_v3'] */
  serverFeatures?: string[];
}

export function grpcXdsBootstrap(options: GrpcXdsBootstrapOptions): GrpcXdsBootstrap {
  return {
    xds_servers: [
      {
        server_uri: options.xdsAddress,
        // grpc-js-xds accepts only insecure and google_default here.
        channel_creds: [{ type: 'insecure' }],
        server_features: options.serverFeatures ?? ['xds_v3'],
      },
    ],
    node: {
      id: options.nodeId,
      cluster: options.cluster ?? 'trellis-test',
      // grpc-js-xds fails resolution with an unrelated-looking TypeError
      // (reading 'clientDefaultListenerResourceNameTemplate') when locality is
      // absent, so it is always set.
      locality: { zone: options.zone ?? 'z1', ...(options.region ? { region: options.region } : {}) },
      ...(options.metadata ? { metadata: options.metadata } : {}),
    },
  };
}

// The runners that consume this bootstrap live in ./xds-client.ts; re-exported
// so tests can take both from one place.
export { runXdsClient, watchXdsClient } from './xds-client.ts';
export type { XdsClientKind, XdsClientOptions, XdsClientWatch } from './xds-client.ts';
