import { describe, expect, it } from 'vitest';
import { TRUST_BUNDLE_SECRET } from './names.ts';
import { tlsCertificateSecret, trustBundleSecret } from './secrets.ts';

const CERT = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n';

describe('SDS secret builders', () => {
  const cases = [
    {
      name: 'identity secret is named by its SPIFFE ID and carries chain and key inline',
      build: () => tlsCertificateSecret({ spiffeId: 'spiffe://cluster.local/ns/demo/sa/web', certificateChainPem: CERT, privateKeyPem: KEY }),
      want: {
        name: 'spiffe://cluster.local/ns/demo/sa/web',
        tls_certificate: { certificate_chain: { inline_string: CERT }, private_key: { inline_string: KEY } },
      },
    },
    {
      name: 'trust bundle secret is a validation context under the well-known name',
      build: () => trustBundleSecret(CERT + CERT),
      want: { name: TRUST_BUNDLE_SECRET, validation_context: { trusted_ca: { inline_string: CERT + CERT } } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => expect(c.build()).toEqual(c.want));
  }

  it('does not mutate or keep a reference to its input', () => {
    const input = Object.freeze({ spiffeId: 'spiffe://td/ns/a/sa/b', certificateChainPem: CERT, privateKeyPem: KEY });
    expect(() => tlsCertificateSecret(input)).not.toThrow();
  });

  it('refuses material it cannot name or an empty bundle', () => {
    expect(() => tlsCertificateSecret({ spiffeId: undefined, certificateChainPem: CERT, privateKeyPem: KEY })).toThrow();
    expect(() => trustBundleSecret('')).toThrow();
  });
});
