/**
 * The certificate files of a proxyless gRPC workload (gRFC A29): its
 * bootstrap's `file_watcher` certificate provider re-reads them at an
 * interval, so renewing is writing new files. Issued by the mesh CA in the
 * state dir, as `trellis bootstrap` issues a sidecar's token there.
 *
 *   <dir>/key.pem   the private key (0600)
 *   <dir>/cert.pem  the workload certificate (SPIFFE URI SAN)
 *   <dir>/ca.pem    the trust bundle (every trusted root)
 *
 * Each file is replaced by rename, key first: a reader sees a whole file,
 * and a key newer than its certificate for one refresh at most, which gRPC
 * rejects and retries with the files it had.
 */
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CertificateAuthority } from '../ca/authority.ts';
import type { MeshModel } from '../model/types.ts';
import { PROXYLESS_CERTIFICATE_PROVIDER, PROXYLESS_SERVER_LISTENER_TEMPLATE } from '../translate/names.ts';
import { CERTIFICATE_PROVIDER_METADATA } from '../translate/proxyless-security.ts';
import { NODE_METADATA } from '../translate/sidecar.ts';

export const CERT_FILES = { key: 'key.pem', cert: 'cert.pem', ca: 'ca.pem' } as const;

export interface WrittenCertificates {
  spiffeId: string;
  notAfter: number;
  /** When to write the next ones: halfway through the validity. */
  renewAt: number;
}

async function replace(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

export async function writeWorkloadCertificates(o: { stateDir: string; trustDomain: string; spiffeId: string; dir: string }): Promise<WrittenCertificates> {
  const ca = await CertificateAuthority.open({ trustDomain: o.trustDomain, stateDir: o.stateDir });
  const cert = ca.issue(o.spiffeId);
  await mkdir(o.dir, { recursive: true });
  await replace(path.join(o.dir, CERT_FILES.key), cert.privateKeyPem, 0o600);
  await replace(path.join(o.dir, CERT_FILES.cert), cert.certificatePem, 0o644);
  await replace(path.join(o.dir, CERT_FILES.ca), ca.trustBundlePem(), 0o644);
  return { spiffeId: o.spiffeId, notAfter: cert.notAfter, renewAt: cert.notBefore + (cert.notAfter - cert.notBefore) / 2 };
}

/** Writes now, then again at each `renewAt`, until `signal` aborts. */
export async function keepWorkloadCertificates(o: Parameters<typeof writeWorkloadCertificates>[0] & { signal: AbortSignal; onWrite?: (w: WrittenCertificates) => void }): Promise<void> {
  while (!o.signal.aborted) {
    const w = await writeWorkloadCertificates(o);
    o.onWrite?.(w);
    if (o.signal.aborted) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(1000, w.renewAt - Date.now()));
      o.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}

/**
 * The gRPC xDS bootstrap (gRFC A27, with A29's certificate_providers and
 * A36's server listener template) of a proxyless workload.
 */
export function proxylessBootstrap(o: { model: MeshModel; workloadKey: string; xdsAddress: string; certDir: string; refreshSeconds?: number }): Record<string, unknown> {
  const w = o.model.workloads.get(o.workloadKey);
  if (!w) throw new Error(`no workload ${o.workloadKey}`);
  return {
    xds_servers: [{ server_uri: o.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: {
      id: o.workloadKey,
      cluster: w.labels.app ?? w.name,
      locality: { zone: w.zone ?? '' },
      metadata: { [NODE_METADATA.workload]: o.workloadKey, [CERTIFICATE_PROVIDER_METADATA]: PROXYLESS_CERTIFICATE_PROVIDER },
    },
    certificate_providers: {
      [PROXYLESS_CERTIFICATE_PROVIDER]: {
        plugin_name: 'file_watcher',
        config: {
          certificate_file: path.resolve(o.certDir, CERT_FILES.cert),
          private_key_file: path.resolve(o.certDir, CERT_FILES.key),
          ca_certificate_file: path.resolve(o.certDir, CERT_FILES.ca),
          refresh_interval: `${o.refreshSeconds ?? 60}s`,
        },
      },
    },
    server_listener_resource_name_template: PROXYLESS_SERVER_LISTENER_TEMPLATE,
  };
}
