/**
 * The security half of `serve`: the CA (persisted in the state dir), the
 * xDS server's own TLS certificate, workload tokens as the stream identity
 * verifier, and the renewal loop that re-issues certificates at about two
 * thirds of their lifetime and pushes them over SDS without dropping
 * connections. Composition only.
 *
 * The serving certificate follows the roots: it is signed by the CA's
 * `servingRoot` (the retiring root during a rotation, so bootstraps written
 * before it keep connecting; the new root once it finishes) and re-issued
 * when that changes or it is due. It is swapped on the live gRPC server:
 * new handshakes get the new certificate, open connections keep theirs.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import client from 'prom-client';
import type { Logger } from '../log.ts';
import { CertificateAuthority } from '../ca/authority.ts';
import { CaSecretSource } from './secrets.ts';
import { WorkloadTokens } from '../ca/token.ts';
import { FileCaStore, type CaStore, type PersistedRoots } from '../ca/store.ts';
import type { IssuedCertificate } from '../ca/issued.ts';
import { UntrustedRootWatch } from '../ca/untrusted-root.ts';
import { LeafStore, saveIfDue } from '../ca/leaf-store.ts';
import { verifiedTokensPath } from '../ca/verified-tokens.ts';
import { controlPlaneSpiffeId } from '../identity/spiffe.ts';
import { XDS_SERVER_NAME } from '../translate/names.ts';

export interface MeshSecurity {
  /** The current authority; replaced when the roots in the state dir change (trellis ca rotate). */
  readonly ca: CertificateAuthority;
  tokens: WorkloadTokens;
  secrets: CaSecretSource;
  /** The xDS port's current serving certificate (replaced as the roots change or it comes due). */
  readonly serverCertificate: IssuedCertificate;
  /** One credentials object for the xDS port; it follows serverCertificate on the live server. */
  credentials(): grpc.ServerCredentials;
  /** Re-issue what is due; returns true if anything was renewed. */
  renewDue(): boolean;
  /** Re-read the roots from the state dir; true if they changed. */
  reloadRoots(): Promise<boolean>;
  /** TLS clients refusing the serving certificate for trusting another root (a lost state dir?). */
  untrustedRoot: UntrustedRootWatch;
  /** Stores the workload certificates for the next start. */
  close(): Promise<void>;
}

/**
 * How often the leaf store is asked to write (it writes only on a change, and
 * at most every 5 min after the first: ca/leaf-store.ts), and the verified
 * tokens (on a change: ~60 bytes a token, written whole).
 */
const LEAF_SAVE_INTERVAL_MS = 2_000;


/** The state dir is being written (by `trellis ca rotate`): try again at the next check. */
class StateDirBusy extends Error {}
/** ca/ holds no root and no write is in flight: it was deleted or moved while Trellis runs. */
class StateDirLost extends StateDirBusy {}

/**
 * TLS server credentials whose certificate can be replaced while the server
 * runs. grpc-js (1.14) gives every ServerCredentials a set of watchers, one
 * per listening http2 server, and calls them from the protected
 * updateSecureContextOptions; each watcher calls setSecureContext, which
 * applies to new handshakes only. So a swap drops no connection.
 * createSsl's credentials offer no way to call it, hence this subclass with
 * the same options (no client certificate requested; identity comes from
 * the token).
 */
export class ReloadableServerCredentials extends grpc.ServerCredentials {
  constructor(context: { ca: string; certChain: string; key: string }) {
    super({ requestCert: false, ciphers: process.env.GRPC_SSL_CIPHER_SUITES }, ReloadableServerCredentials.#options(context));
  }
  static #options(c: { ca: string; certChain: string; key: string }) {
    return { ca: Buffer.from(c.ca), cert: [Buffer.from(c.certChain)], key: [Buffer.from(c.key)] };
  }
  update(context: { ca: string; certChain: string; key: string }): void {
    this.updateSecureContextOptions(ReloadableServerCredentials.#options(context));
  }
  _equals(other: grpc.ServerCredentials): boolean {
    return this === other;
  }
}

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
  private readonly files: FileCaStore;
  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'ca');
    this.files = new FileCaStore(stateDir);
  }
  private async settled(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const writing = names.some((n) => n.startsWith('next.') || n.includes('.tmp-'));
    if (!names.includes('root.crt') && !writing) throw new StateDirLost();
    if (!names.includes('root.crt') || writing) throw new StateDirBusy();
  }
  async load(): Promise<PersistedRoots> {
    await this.settled();
    let stored: PersistedRoots | undefined;
    try {
      stored = await this.files.read();
    } catch (e) {
      // A file that went away while reading: `ca rotate --finish` deleting it.
      if (e instanceof Error && 'code' in e && e.code === 'ENOENT') throw new StateDirBusy();
      await this.settled(); // a rotation writing while reading: retry rather than report
      throw e;
    }
    await this.settled(); // a rotation that began while reading: its files may be mixed
    if (!stored) throw new StateDirBusy();
    return stored;
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
  /** A new root in place of a lost one, on purpose (`--new-ca`); else a lost root is refused. */
  newCa?: boolean;
  trustDomain: string;
  leafLifetimeMs?: number;
  log: Logger;
  registry: client.Registry;
  serverNames?: string[];
  /** How long after `trellis ca rotate` no leaf moves to the new root (default 60 s; see rotation.ts). */
  rotationGraceMs?: number;
  /** The window over which leaves then move to the new root (default 60 s). */
  rotationSpreadMs?: number;
}): Promise<MeshSecurity> {
  const renewalPolicy = {
    ...(opts.rotationGraceMs !== undefined ? { rotationGraceMs: opts.rotationGraceMs } : {}),
    ...(opts.rotationSpreadMs !== undefined ? { rotationSpreadMs: opts.rotationSpreadMs } : {}),
  };
  const open = (quiet = false) =>
    CertificateAuthority.open({
      trustDomain: opts.trustDomain,
      // At start the CA may create or recover the state dir; reloads only read it.
      ...(quiet ? { store: new ReloadOnlyStore(path.resolve(opts.stateDir)) } : { stateDir: path.resolve(opts.stateDir), newRoot: opts.newCa }),
      leafLifetimeMs: opts.leafLifetimeMs,
      renewalPolicy,
      // Re-reads every few seconds would repeat "CA ready" forever, and the
      // start's warnings (a CA that expires soon) at every check.
      logger: opts.log.child({ component: 'ca' }, quiet ? { level: 'error' } : {}),
    });
  let ca = await open();
  // Certificates issued before a restart are served again (ca/leaf-store.ts):
  // a restart then signs only what is due, not one per identity.
  const leaves = new LeafStore(path.resolve(opts.stateDir), opts.log.child({ component: 'ca' }));
  const restored = await leaves.restore(ca);
  if (restored > 0) opts.log.info({ restored, file: leaves.file }, 'workload certificates from the previous run restored');
  let lostReported = false;
  const rootsOf = (c: CertificateAuthority) => `${c.activeRoot.fingerprint}/${c.retiringRoot?.fingerprint ?? ''}`;
  const tokens = await WorkloadTokens.open({ stateDir: path.resolve(opts.stateDir), trustDomain: opts.trustDomain });
  // Tokens checked by the previous run are not checked again (ca/verified-tokens.ts): after a restart every sidecar presents its token at once.
  const verifiedFile = verifiedTokensPath(path.resolve(opts.stateDir));
  const tokenLog = opts.log.child({ component: 'tokens' });
  await tokens.verified.restore(verifiedFile, tokenLog);
  const issueServing = () => ca.issueServerCertificate({ dnsNames: [XDS_SERVER_NAME, ...(opts.serverNames ?? [])], spiffeId: controlPlaneSpiffeId(opts.trustDomain) });
  const warnIfNoRetiringKey = (c: CertificateAuthority) => {
    if (c.retiringRoot && c.servingRoot.fingerprint === c.activeRoot.fingerprint) {
      opts.log.warn('the state dir holds no key for the retiring root (a rotation begun by an older Trellis): the xDS port serves a certificate from the new root, which bootstraps written before the rotation do not trust; re-bootstrap them');
    }
  };
  warnIfNoRetiringKey(ca);
  let serverCertificate = issueServing();
  const tlsContext = () => ({ ca: ca.trustBundlePem(), certChain: serverCertificate.certificateChainPem, key: serverCertificate.privateKeyPem });
  const credentials = new ReloadableServerCredentials(tlsContext());
  /** Re-issues the serving certificate if the roots moved or it is due, and swaps it on the live server. */
  const refreshServing = (): void => {
    if (!ca.serverCertificateDue(serverCertificate)) {
      ca.inventory.record(serverCertificate); // a new authority after a reload lists it too
      return;
    }
    const previous = serverCertificate;
    serverCertificate = issueServing();
    credentials.update(tlsContext());
    opts.log.info({ serial: serverCertificate.serial, root: serverCertificate.issuerFingerprint, previousRoot: previous.issuerFingerprint },
      'the xDS serving certificate was re-issued; new connections get it, open ones keep theirs');
  };
  const secrets = new CaSecretSource(() => ca);
  const inUse = (id: string) => secrets.inUse(id);
  const saveLeaves = setInterval(() => {
    void saveIfDue(leaves, ca.inventory, inUse, Date.now());
    void tokens.verified.save(verifiedFile, tokenLog);
  }, LEAF_SAVE_INTERVAL_MS);
  saveLeaves.unref();

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
    untrustedRoot: new UntrustedRootWatch({ log: opts.log.child({ component: 'ca' }), registry: opts.registry }),
    get serverCertificate() {
      return serverCertificate;
    },
    credentials() {
      return credentials;
    },
    renewDue() {
      refreshServing();
      let renewed = false;
      // Every 5 s over every identity: the inventory itself, not the listing (sorted, with dates as text).
      for (const held of ca.inventory.all()) {
        if (held.kind !== 'workload' || !held.spiffeId) continue;
        if (ca.certificateFor(held.spiffeId) !== held) renewed = true; // certificateFor re-issued a due certificate
      }
      return renewed;
    },
    async reloadRoots() {
      let next: CertificateAuthority;
      try {
        next = await open(true);
      } catch (e) {
        // Issue 16 bug 10: said now, while the roots are still in memory, not at the next start.
        if (e instanceof StateDirLost && !lostReported) {
          opts.log.error({ dir: path.resolve(opts.stateDir, 'ca') }, 'the CA directory lost its root while Trellis runs; serving on from memory. Restore it from a backup before the next restart, which would otherwise refuse to start (docs/security.md, "Lost CA state")');
          lostReported = true;
        }
        if (e instanceof StateDirBusy) return false; // mid-write: keep the current roots until the next check
        throw e;
      }
      lostReported = false;
      if (rootsOf(next) === rootsOf(ca)) return false;
      opts.log.info({ roots: rootsOf(next) }, 'roots changed in the state dir; new leaves come from the active root, the bundle trusts every root');
      // Carry the workloads' current certificates over: the new authority's
      // renewal decisions then replace only those on a retiring root. With an
      // empty inventory every identity was re-issued on each roots change,
      // including at `ca rotate --finish` (certificates already on the new root).
      for (const cert of ca.inventory.all()) if (cert.kind === 'workload') next.inventory.record(cert);
      ca = next;
      warnIfNoRetiringKey(ca);
      // At --finish this moves the xDS port to the new root; at the start of a
      // rotation it keeps the old-root certificate (every bootstrap trusts it).
      refreshServing();
      return true;
    },
    async close() {
      clearInterval(saveLeaves);
      await Promise.all([leaves.save(ca.inventory, inUse), tokens.verified.save(verifiedFile, tokenLog)]);
    },
  };
}
