/**
 * The security half of `serve`: the CA (persisted in the state dir), the
 * xDS server's own TLS certificate, workload tokens as the stream identity
 * verifier, and the renewal loop that re-issues certificates at about two
 * thirds of their lifetime and pushes them over SDS without dropping
 * connections. Composition only.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import client from 'prom-client';
import type { Logger } from '../log.ts';
import { CertificateAuthority } from '../ca/authority.ts';
import { CaSecretSource } from '../ca/secret-source.ts';
import { WorkloadTokens } from '../ca/token.ts';
import { readOptional } from '../ca/files.ts';
import type { CaStore, PersistedRoots } from '../ca/store.ts';
import type { IssuedCertificate } from '../ca/issued.ts';

export interface MeshSecurity {
  /** The current authority; replaced when the roots in the state dir change (trellis ca rotate). */
  readonly ca: CertificateAuthority;
  tokens: WorkloadTokens;
  secrets: CaSecretSource;
  serverCertificate: IssuedCertificate;
  credentials(): grpc.ServerCredentials;
  /** Re-issue what is due; returns true if anything was renewed. */
  renewDue(): boolean;
  /** Re-read the roots from the state dir; true if they changed. */
  reloadRoots(): Promise<boolean>;
  close(): void;
}

/** SPIFFE ID of the control plane itself, carried by its xDS serving certificate. */
export function controlPlaneSpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/ns/trellis-system/sa/trellis`;
}

/** The state dir is being written (by `trellis ca rotate`): try again at the next check. */
class StateDirBusy extends Error {}

/**
 * The running server's view of `<stateDir>/ca/` for reloadRoots: read only.
 * FileCaStore.load() recovers interrupted writes (deletes *.tmp-*, commits
 * next.*) and open() creates a root when none is stored. Run on every check,
 * that raced `trellis ca rotate` writing the same files (its rename failed
 * with ENOENT), and a moved-aside ca/ dir would have become a fresh root.
 * Here a write in flight (next.*, *.tmp-*) or a missing root means "not now".
 */
class ReloadOnlyStore implements CaStore {
  private readonly dir: string;
  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'ca');
  }
  private async settled(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    if (!names.includes('root.crt') || names.some((n) => n.startsWith('next.') || n.includes('.tmp-'))) throw new StateDirBusy();
  }
  async load(): Promise<PersistedRoots> {
    const paths = { cert: path.join(this.dir, 'root.crt'), key: path.join(this.dir, 'root.key'), retiring: path.join(this.dir, 'retiring.crt') };
    await this.settled();
    const [certificatePem, keyPem, retiringPem] = await Promise.all([readOptional(paths.cert), readOptional(paths.key), readOptional(paths.retiring)]);
    await this.settled(); // a rotation that began while reading: its files may be mixed
    if (certificatePem === undefined || keyPem === undefined) throw new StateDirBusy();
    return retiringPem === undefined ? { active: { certificatePem, keyPem }, paths } : { active: { certificatePem, keyPem }, retiringPem, paths };
  }
  initialize(): Promise<void> {
    throw new StateDirBusy();
  }
  beginRotation(): Promise<void> {
    throw new Error('the serving CA does not rotate roots itself (trellis ca rotate does)');
  }
  finishRotation(): Promise<void> {
    throw new Error('the serving CA does not rotate roots itself (trellis ca rotate does)');
  }
}

export async function openMeshSecurity(opts: {
  stateDir: string;
  trustDomain: string;
  leafLifetimeMs?: number;
  log: Logger;
  registry: client.Registry;
  serverNames?: string[];
}): Promise<MeshSecurity> {
  const open = (quiet = false) =>
    CertificateAuthority.open({
      trustDomain: opts.trustDomain,
      // At start the CA may create or recover the state dir; reloads only read it.
      ...(quiet ? { store: new ReloadOnlyStore(path.resolve(opts.stateDir)) } : { stateDir: path.resolve(opts.stateDir) }),
      leafLifetimeMs: opts.leafLifetimeMs,
      // Re-reads every few seconds would repeat "CA ready" forever.
      logger: opts.log.child({ component: 'ca' }, quiet ? { level: 'warn' } : {}),
    });
  let ca = await open();
  const rootsOf = (c: CertificateAuthority) => `${c.activeRoot.fingerprint}/${c.retiringRoot?.fingerprint ?? ''}`;
  const tokens = await WorkloadTokens.open({ stateDir: path.resolve(opts.stateDir), trustDomain: opts.trustDomain });
  const serverCertificate = ca.issueServerCertificate({ dnsNames: ['trellis', ...(opts.serverNames ?? [])], spiffeId: controlPlaneSpiffeId(opts.trustDomain) });
  const secrets = new CaSecretSource(() => ca);

  new client.Gauge({
    name: 'trellis_certificate_expiry_seconds',
    help: 'Seconds until the nearest certificate expiry, per identity',
    labelNames: ['identity'] as const,
    registers: [opts.registry],
    collect() {
      this.reset();
      // An identity's current certificate is its newest, the one with the most time left.
      const byIdentity = new Map<string, number>();
      for (const e of ca.listing().certificates) {
        if (e.kind !== 'workload') continue;
        const id = e.spiffeId ?? e.kind;
        byIdentity.set(id, Math.max(byIdentity.get(id) ?? -Infinity, e.expiresInSeconds));
      }
      for (const [identity, seconds] of byIdentity) this.set({ identity }, seconds);
    },
  });

  return {
    get ca() {
      return ca;
    },
    tokens,
    secrets,
    serverCertificate,
    credentials() {
      return grpc.ServerCredentials.createSsl(
        Buffer.from(ca.trustBundlePem()),
        [{ cert_chain: Buffer.from(serverCertificate.certificateChainPem), private_key: Buffer.from(serverCertificate.privateKeyPem) }],
        false,
      );
    },
    renewDue() {
      let renewed = false;
      for (const e of ca.listing().certificates) {
        if (e.kind !== 'workload' || !e.spiffeId) continue;
        const held = ca.certificateFor(e.spiffeId);
        if (held.serial !== e.serial) renewed = true; // certificateFor re-issued a due certificate
      }
      return renewed;
    },
    async reloadRoots() {
      let next: CertificateAuthority;
      try {
        next = await open(true);
      } catch (e) {
        if (e instanceof StateDirBusy) return false; // mid-write: keep the current roots until the next check
        throw e;
      }
      if (rootsOf(next) === rootsOf(ca)) return false;
      opts.log.info({ roots: rootsOf(next) }, 'roots changed in the state dir; new leaves come from the active root, the bundle trusts every root');
      // Carry the workloads' current certificates over: the new authority's
      // renewal decisions then replace only those on a retiring root. With an
      // empty inventory every identity was re-issued on each roots change,
      // including at `ca rotate --finish` (certificates already on the new root).
      for (const cert of ca.inventory.all()) if (cert.kind === 'workload') next.inventory.record(cert);
      ca = next;
      return true;
    },
    close() {},
  };
}
