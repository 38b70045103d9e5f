/**
 * The CA as the publisher's source of SDS secrets: each identity's current
 * certificate and key (owned by that identity, so only a stream that proved
 * it receives them — XDS_RULES 23) and the trust bundle (public).
 * Encoded once per certificate: a thousand proxies of one identity share
 * the bytes.
 */
import { encodeResource, type VersionedResource } from '../cache/resource.ts';
import type { SecretSource } from './publisher.ts';
import { tlsCertificateSecret, trustBundleSecret } from '../translate/secrets.ts';
import { TypeUrl } from '../xds/type-urls.ts';
import type { CertificateAuthority } from '../ca/authority.ts';
import type { IssuedCertificate } from '../ca/issued.ts';

export class CaSecretSource implements SecretSource {
  private bundle?: { pem: string; resource: VersionedResource };
  private readonly encoded = new WeakMap<IssuedCertificate, VersionedResource>();
  /** Identities some proxy (or the prepared mesh) asked secrets for in this run. */
  private readonly asked = new Set<string>();

  /** `ca` is asked each time: a root rotation replaces the authority. */
  constructor(private readonly currentCa: () => CertificateAuthority) {}

  private get ca(): CertificateAuthority {
    return this.currentCa();
  }

  /** Whether secrets of `spiffeId` were asked for in this run (what the leaf store keeps: ca/leaf-store.ts). */
  inUse(spiffeId: string): boolean {
    return this.asked.has(spiffeId);
  }

  secretsFor(identities: readonly string[]): VersionedResource[] {
    const pem = this.ca.trustBundlePem();
    if (this.bundle?.pem !== pem) this.bundle = { pem, resource: encodeResource(TypeUrl.Secret, { ...trustBundleSecret(pem) }) };
    const out = [this.bundle.resource];
    for (const id of identities) {
      this.asked.add(id);
      const cert = this.ca.certificateFor(id);
      let r = this.encoded.get(cert);
      if (!r) {
        r = encodeResource(TypeUrl.Secret, { ...tlsCertificateSecret({ spiffeId: id, certificateChainPem: cert.certificateChainPem, privateKeyPem: cert.privateKeyPem }) }, { owner: id });
        this.encoded.set(cert, r);
      }
      out.push(r);
    }
    return out;
  }
}
