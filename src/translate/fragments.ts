/**
 * Envoy config pieces that several builders write the same way, written
 * once. Each call returns a fresh object: resources never share a mutable
 * part, and a bootstrap printed as YAML gets no anchors for repeated parts.
 */
import type { Address, Cluster, ClusterLoadAssignment, ConfigSource, Http2ProtocolOptions } from '../xds/envoy-types.ts';
import { Extension, typedConfig } from '../xds/extensions.ts';

/**
 * Where dynamic config comes from: the one ADS stream (which keeps the push
 * order of XDS_RULES 18 across types), in the v3 API, the only one served.
 */
export function adsConfigSource(): ConfigSource {
  return { ads: {}, resource_api_version: 'V3' };
}

/**
 * A cluster's typed_extension_protocol_options for an upstream that speaks
 * HTTP/2 only (gRPC, h2c, the xDS server): Envoy would use HTTP/1.1 otherwise.
 */
export function http2Only(options: Http2ProtocolOptions = {}): NonNullable<Cluster['typed_extension_protocol_options']> {
  return {
    [Extension.HttpProtocolOptions.name]: typedConfig('HttpProtocolOptions', { explicit_http_config: { http2_protocol_options: options } }),
  };
}

export function socketAddress(address: string, port: number): Address {
  return { socket_address: { address, port_value: port } };
}

/** The load assignment of a static cluster of one address (the local application, the xDS server). */
export function singleAddress(clusterName: string, address: string, port: number): ClusterLoadAssignment {
  return { cluster_name: clusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(address, port) } }] }] };
}
