/**
 * Proxyless gRPC mTLS and authorization (gRFC A29, A36, A41). Pure.
 *
 * A gRPC client or server has no SDS: its bootstrap declares certificate
 * provider instances (`file_watcher`: a certificate, key and CA bundle on
 * disk, re-read at an interval), and the xDS resources name the instance
 * (names.ts PROXYLESS_CERTIFICATE_PROVIDER), never a certificate. Trellis
 * writes and renews those files (runtime/workload-certs.ts). A node says it
 * has the instance with node metadata `trellis.certificate_provider`
 * (written by `trellis bootstrap --proxyless`); without it, it gets the
 * plaintext config it always got.
 *
 * - Client (A29): a cluster's UpstreamTlsContext presents the workload's
 *   certificate and accepts the server only with one of the destination's
 *   SPIFFE IDs (`match_subject_alt_names`).
 * - Server (A36 + A29 + A41): for each port the workload serves, the
 *   Listener its server asks for (`trellis/server?address=<ip>:<port>`),
 *   requiring a client certificate from the mesh, with the RBAC filter the
 *   sidecars get from the same TrafficTargets (rbac.ts) before the router;
 *   its route is `non_forwarding_action`, as A36 requires.
 */
import type { Cluster, HttpFilter, Listener, TransportSocket } from '../xds/envoy-types.ts';
import { extension, typedConfig } from '../xds/extensions.ts';
import { socketAddress } from './fragments.ts';
import { NO_KNOWN_IDENTITY } from './tls.ts';
import { INBOUND_VIRTUAL_HOST, PROXYLESS_STAT_PREFIX, proxylessServerListenerName } from './names.ts';

/** Node metadata key: the certificate provider instance name the gRPC bootstrap declares. */
export const CERTIFICATE_PROVIDER_METADATA = 'trellis.certificate_provider';

function instance(name: string): { instance_name: string; certificate_name: string } {
  return { instance_name: name, certificate_name: 'default' };
}

export function proxylessUpstreamTls(provider: string, peerIdentities: readonly string[]): NonNullable<Cluster['transport_socket']> {
  return extension('UpstreamTls', {
    common_tls_context: {
      tls_certificate_provider_instance: instance(provider),
      validation_context: {
        ca_certificate_provider_instance: instance(provider),
        // As for sidecars (tls.ts): no known identity must not mean any mesh certificate.
        match_subject_alt_names: (peerIdentities.length > 0 ? peerIdentities : [NO_KNOWN_IDENTITY]).map((exact) => ({ exact })),
      },
    },
  });
}

function proxylessDownstreamTls(provider: string): TransportSocket {
  return extension('DownstreamTls', {
    require_client_certificate: true,
    common_tls_context: {
      tls_certificate_provider_instance: instance(provider),
      validation_context: { ca_certificate_provider_instance: instance(provider) },
    },
  });
}

/** The addresses a server may bind a port on, each asked for by its own listener name. */
export function serverAddresses(workloadIp: string | undefined): string[] {
  return [...(workloadIp ? [workloadIp] : []), '0.0.0.0', '::'];
}

export function proxylessServerListener(o: { address: string; port: number; provider: string; rbac?: HttpFilter }): Listener {
  const name = proxylessServerListenerName(o.address, o.port);
  return {
    name,
    address: socketAddress(o.address, o.port),
    traffic_direction: 'INBOUND',
    filter_chains: [{
      name,
      transport_socket: proxylessDownstreamTls(o.provider),
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: typedConfig('HttpConnectionManager', {
          stat_prefix: PROXYLESS_STAT_PREFIX,
          route_config: { name, virtual_hosts: [{ name: INBOUND_VIRTUAL_HOST, domains: ['*'], routes: [{ match: { prefix: '/' }, non_forwarding_action: {} }] }] },
          http_filters: [...(o.rbac ? [o.rbac] : []), extension('Router', {})],
        }),
      }],
    }],
  };
}
