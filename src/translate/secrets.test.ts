import { describe, expect, it } from 'vitest';
import { TRUST_BUNDLE_SECRET, WORKLOAD_CERTIFICATE_SECRET } from './names.ts';
import { tlsCertificateSecret, trustBundleSecret } from './secrets.ts';

const CERT = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n';

describe('SDS secret builders', () => {
  const cases = [
    {
      name: 'identity secret goes by the one workload-certificate name and carries chain and key inline',
      build: () => tlsCertificateSecret({ spiffeId: 'spiffe://cluster.local/ns/demo/sa/web', certificateChainPem: CERT, privateKeyPem: KEY }),
      want: {
        name: 'workload-certificate',
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

  it('every identity\'s secret has the same name, distinct from the bundle\'s: the name never says whose it is', () => {
    const web = tlsCertificateSecret({ spiffeId: 'spiffe://td/ns/demo/sa/web', certificateChainPem: CERT, privateKeyPem: KEY });
    const db = tlsCertificateSecret({ spiffeId: 'spiffe://td/ns/demo/sa/db', certificateChainPem: CERT + CERT, privateKeyPem: KEY });
    expect(web.name).toBe(WORKLOAD_CERTIFICATE_SECRET);
    expect(db.name).toBe(WORKLOAD_CERTIFICATE_SECRET);
    expect(WORKLOAD_CERTIFICATE_SECRET).not.toBe(TRUST_BUNDLE_SECRET);
  });

  it('does not mutate or keep a reference to its input', () => {
    const input = Object.freeze({ spiffeId: 'spiffe://td/ns/a/sa/b', certificateChainPem: CERT, privateKeyPem: KEY });
    expect(() => tlsCertificateSecret(input)).not.toThrow();
  });

  it('refuses material it cannot name or an empty bundle', () => {
    expect(() => tlsCertificateSecret({ spiffeId: undefined, certificateChainPem: CERT, privateKeyPem: KEY })).toThrow();
    expect(() => trustBundleSecret('')).toThrow();
  });
});
