/**
 * mTLS between sidecars: transport sockets that take the workload's
 * certificate and the trust bundle from SDS (over the same ADS stream), by
 * the names in names.ts. Pure builders.
 */
import type { SdsSecretConfig, TransportSocket } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { adsConfigSource } from './fragments.ts';
import { TRUST_BUNDLE_SECRET, WORKLOAD_CERTIFICATE_SECRET } from './names.ts';

/** Matches no certificate Trellis issues (the .invalid TLD is reserved). */
export const NO_KNOWN_IDENTITY = 'spiffe://trellis.invalid/no-known-identity';

function sdsRef(name: string): SdsSecretConfig {
  return { name, sds_config: adsConfigSource() };
}

/**
 * Client side: present our identity, and accept the server only if its
 * certificate chains to the trust bundle and carries one of the destination
 * service's SPIFFE IDs (the identities of the pods behind it).
 */
export function upstreamTls(options: { peerIdentities: readonly string[]; sni: string }): TransportSocket {
  return extension('UpstreamTls', {
    sni: options.sni,
    common_tls_context: {
      tls_certificate_sds_secret_configs: [sdsRef(WORKLOAD_CERTIFICATE_SECRET)],
      combined_validation_context: {
        default_validation_context: {
          // No known identity must not mean "any mesh certificate": Envoy skips the
          // SAN check on an empty list, so fail closed with a name no certificate carries.
          match_typed_subject_alt_names: (options.peerIdentities.length > 0 ? options.peerIdentities : [NO_KNOWN_IDENTITY]).map((id) => ({ san_type: 'URI', matcher: { exact: id } })),
        },
        validation_context_sds_secret_config: sdsRef(TRUST_BUNDLE_SECRET),
      },
    },
  });
}

/** Server side: require a client certificate from the trust bundle. Who may call is RBAC's job. */
export function downstreamTls(): TransportSocket {
  return extension('DownstreamTls', {
    require_client_certificate: true,
    common_tls_context: {
      tls_certificate_sds_secret_configs: [sdsRef(WORKLOAD_CERTIFICATE_SECRET)],
      validation_context_sds_secret_config: sdsRef(TRUST_BUNDLE_SECRET),
    },
  });
}
