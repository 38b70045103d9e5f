/**
 * /api/v1/certificates: every certificate the CA issued (serial, SPIFFE ID,
 * validity, root; never keys) and the progress of a root rotation.
 */
import type { CertificateAuthority } from '../ca/authority.ts';
import type { AdminServer } from './http.ts';

export function registerCertificateRoutes(admin: AdminServer, currentCa: () => CertificateAuthority): void {
  admin.route('/api/v1/certificates', () => {
    const ca = currentCa();
    const startedAt = ca.rotationStartedAt;
    return {
      ...ca.listing(),
      rotation: ca.retiringRoot ? { ...ca.rotationProgress(), ...(startedAt !== undefined ? { startedAt: new Date(startedAt).toISOString() } : {}) } : null,
    };
  });
}
