/**
 * The SDS secret of a gateway HTTPS listener's certificate: the
 * kubernetes.io/tls Secret's pair, under names.ts
 * gatewayCertificateSecretName. Pure. The runtime encodes it owned by the
 * gateway's identity (runtime/proxy-resources.ts), and it is in that
 * gateway's snapshot only: no other stream ever receives the key (config
 * dumps redact `private_key`: admin/proxies.ts).
 */
import type { GatewayCertificate } from '../../model/types.ts';
import type { Secret } from '../../xds/envoy-types.ts';
import { gatewayCertificateSecretName } from '../names.ts';

export function gatewayCertificateSecret(c: GatewayCertificate): Secret {
  const [namespace, name] = c.secret.split('/') as [string, string];
  return {
    name: gatewayCertificateSecretName(namespace, name),
    tls_certificate: {
      certificate_chain: { inline_string: c.certificateChainPem },
      private_key: { inline_string: c.privateKeyPem },
    },
  };
}
