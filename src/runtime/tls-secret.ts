/**
 * A gateway's HTTPS certificate as the `kubernetes.io/tls` Secret a
 * listener's certificateRefs name, issued by the mesh CA: what the loopback
 * demo writes at every start (demo-ingress.ts) and `trellis ca issue-tls`
 * writes for docker-compose. The key is in it: written 0600, never committed.
 */
import type { CertificateAuthority } from '../ca/authority.ts';

export interface TlsSecretRequest {
  namespace: string;
  name: string;
  /** Beyond localhost, which the CA always includes. */
  dnsNames?: readonly string[];
  /** Beyond 127.0.0.1 and ::1. */
  ipAddresses?: readonly string[];
  /** Who wrote it, for the comment at the top of the file. */
  writtenBy: string;
}

/** Issues a server certificate and returns the Secret as `kubectl create secret tls` writes it (YAML). */
export function issueTlsSecret(ca: CertificateAuthority, r: TlsSecretRequest): string {
  const cert = ca.issueServerCertificate({ dnsNames: [...(r.dnsNames ?? [])], ipAddresses: [...(r.ipAddresses ?? [])] });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `# Written by ${r.writtenBy}: a gateway's HTTPS certificate, issued by the mesh CA.
# Not committed; a new one at every start.
apiVersion: v1
kind: Secret
metadata:
  name: ${r.name}
  namespace: ${r.namespace}
type: kubernetes.io/tls
data:
  tls.crt: ${b64(cert.certificateChainPem)}
  tls.key: ${b64(cert.privateKeyPem)}
`;
}
