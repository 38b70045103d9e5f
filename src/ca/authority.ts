/**
 * The certificate authority: one signing root (persisted, see store.ts),
 * optionally a retiring root during a rotation, and leaf issuance.
 *
 * Root rotation keeps every request working: `beginRootRotation` puts the
 * new root in the trust bundle next to the old one, so old-root and new-root
 * leaves trust each other. For a grace period (the bundle's propagation to
 * every proxy) leaves are still signed by the old root; then workloads are
 * renewed onto the new root, spread out (rotation.ts). `finishRootRotation`
 * drops the old root once no current leaf chains to it. Both steps are
 * persisted (with the start time and the old root's key) before they take
 * effect, so a restart mid-rotation keeps both roots and the schedule.
 *
 * The xDS serving certificate is signed by the old root for the whole
 * rotation (`servingRoot`): every bootstrap written before it trusts only
 * that root. It moves to the new root when the rotation finishes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { componentLogger, type Logger } from '../log.ts';
import { CaError } from './errors.ts';
import { derToPem, pemBlocks } from './encoding.ts';
import { CertificateInventory, certificateListing, type CertificateListing } from './inventory.ts';
import { IssuedCertificate } from './issued.ts';
import { DEFAULT_ROOT_LIFETIME_MS, generateRoot, randomSerial } from './root.ts';
import { loadCaChain, loadSigningCa, publicChain, type CaChain, type SigningCa } from './chain.ts';
import { filesFlags, originOf, readCaFiles, type RootFiles } from './operator-files.ts';

export type { RootFiles };
import { DEFAULT_RENEWAL_POLICY, renewalDecision, rotationGraceEnd, rotationProgress, scheduledRenewal, type RenewalDecision, type RenewalPolicy, type RotationProgress } from './rotation.ts';
import { isValidTrustDomain, parseSpiffeId, spiffeIdOf, type WorkloadIdentity } from '../identity/spiffe.ts';
import { FileCaStore, type CaStore, type RootMaterial } from './store.ts';
import { refuseLostRoot } from './trust-history.ts';
import { buildCertificate, distinguishedName, type CertificateProfile } from './x509.ts';
import { errorMessage } from '../errors.ts';

export const DEFAULT_LEAF_LIFETIME_MS = 24 * 3600_000;
export const DEFAULT_SERVER_LIFETIME_MS = 30 * 24 * 3600_000;
/** Leaves start a few minutes early so a peer whose clock lags still accepts a fresh one. */
export const LEAF_BACKDATE_MS = 5 * 60_000;


export interface CertificateAuthorityOptions {
  trustDomain: string;
  /** `<stateDir>/ca/` holds the roots; or pass `store`. */
  stateDir?: string;
  store?: CaStore;
  /** An operator-supplied root, used instead of a generated one on first start. */
  operatorRoot?: RootFiles;
  /** `--new-ca`: store a new root although the state dir had one (else CaError 'root-lost'; trust-history.ts). */
  newRoot?: boolean;
  leafLifetimeMs?: number;
  rootLifetimeMs?: number;
  /** Defaults: DEFAULT_RENEWAL_POLICY; fields given here override it. */
  renewalPolicy?: Partial<RenewalPolicy>;
  clock?: () => number;
  logger?: Logger;
}

export interface ServerCertificateOptions {
  /** Added to `localhost`. */
  dnsNames?: readonly string[];
  /** Added to 127.0.0.1 and ::1. */
  ipAddresses?: readonly string[];
  spiffeId?: string;
  lifetimeMs?: number;
}

const EMPTY_NAME = distinguishedName({});

export class CertificateAuthority {
  readonly trustDomain: string;
  readonly inventory = new CertificateInventory();
  readonly #store: CaStore;
  readonly #clock: () => number;
  readonly #log: Logger;
  readonly #leafLifetimeMs: number;
  readonly #rootLifetimeMs: number;
  readonly #policy: RenewalPolicy;
  #active: SigningCa;
  #retiring: CaChain | undefined;
  /** The retiring CA with its key, when the state dir kept it. */
  #retiringSigner: SigningCa | undefined;
  #rotationStartedAt: number | undefined;
  #busy: Promise<unknown> = Promise.resolve();

  private constructor(opts: CertificateAuthorityOptions, store: CaStore, active: SigningCa, retiring: CaChain | SigningCa | undefined, rotationStartedAt: number | undefined) {
    this.trustDomain = opts.trustDomain;
    this.#store = store;
    this.#clock = opts.clock ?? Date.now;
    this.#log = opts.logger ?? componentLogger('ca');
    this.#leafLifetimeMs = opts.leafLifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS;
    this.#rootLifetimeMs = opts.rootLifetimeMs ?? DEFAULT_ROOT_LIFETIME_MS;
    this.#policy = { ...DEFAULT_RENEWAL_POLICY, ...opts.renewalPolicy };
    this.#active = active;
    this.#retiring = retiring && publicChain(retiring);
    this.#retiringSigner = retiring && 'issuer' in retiring ? retiring : undefined;
    this.#rotationStartedAt = retiring ? rotationStartedAt : undefined;
  }

  /**
   * Loads the persisted root, or on first start stores the operator's root or
   * a new one. Throws CaError (and Trellis refuses to start) if anything is
   * wrong with either.
   */
  static async open(opts: CertificateAuthorityOptions): Promise<CertificateAuthority> {
    if (!isValidTrustDomain(opts.trustDomain)) {
      throw new CaError('invalid-config', `trust domain ${JSON.stringify(opts.trustDomain)} is not a valid SPIFFE trust domain`,
        'use lowercase letters, digits, ".", "-" and "_" only (e.g. cluster.local)');
    }
    for (const [name, ms] of [['leaf lifetime', opts.leafLifetimeMs], ['root lifetime', opts.rootLifetimeMs]] as const) {
      if (ms !== undefined && !(Number.isFinite(ms) && ms >= 60_000)) {
        throw new CaError('invalid-config', `${name} ${ms} ms is not a usable lifetime`, 'give at least one minute');
      }
    }
    const store = opts.store ?? (opts.stateDir !== undefined ? new FileCaStore(opts.stateDir) : undefined);
    if (!store) throw new Error('CertificateAuthority.open needs stateDir or store');
    const now = (opts.clock ?? Date.now)();
    const log = opts.logger ?? componentLogger('ca');

    let stored = await store.load();
    if (stored && opts.newRoot) log.warn('--new-ca ignored: the state dir holds a root; remove the flag, so that a lost root is refused again (to replace a root: trellis ca rotate)');
    if (opts.operatorRoot) {
      const given = loadSigningCa(await readCaFiles(opts.operatorRoot), now, originOf(opts.operatorRoot));
      if (!stored) {
        await refuseLostRoot(store, opts.newRoot === true);
        await store.initialize({ certificatePem: given.pathPem, keyPem: given.keyPem });
        log.info({ fingerprint: given.fingerprint }, 'stored the operator-supplied CA');
      } else if (!sameCertificate(stored.active.certificatePem, given.certificatePem)) {
        throw new CaError('root-conflict', `the state dir already trusts another root (${stored.paths.cert}) than ${opts.operatorRoot.certFile}`,
          `to change CAs without an outage use \`trellis ca rotate ${filesFlags(opts.operatorRoot)}\`; to start over, move ${stored.paths.cert.replace(/\/[^/]+$/, '')} aside and start with --new-ca`,
          opts.operatorRoot.certFile);
      }
    } else if (!stored) {
      const replacing = await refuseLostRoot(store, opts.newRoot === true);
      await store.initialize(generateRoot({ trustDomain: opts.trustDomain, now, lifetimeMs: opts.rootLifetimeMs }));
      if (replacing) log.warn({ replacing }, 'created a NEW root CA in place of a lost one (--new-ca): no proxy bootstrapped before trusts it; re-bootstrap every one (trellis bootstrap, trellis inject)');
      else log.info('created a new root CA');
    }
    stored ??= await store.load();
    if (!stored) throw new Error('the CA store lost the root it just stored');

    const active = loadSigningCa(stored.active, now, { certPath: stored.paths.cert, keyPath: stored.paths.key, state: true });
    let retiring: CaChain | SigningCa | undefined;
    if (stored.retiringPem !== undefined) {
      try {
        const origin = { certPath: stored.paths.retiring, keyPath: stored.paths.retiringKey, state: true };
        retiring = stored.retiringKeyPem !== undefined
          ? loadSigningCa({ certificatePem: stored.retiringPem, keyPem: stored.retiringKeyPem }, now, origin)
          : loadCaChain({ certificatePem: stored.retiringPem }, now, origin);
      } catch (err) {
        // A retiring root that expired no longer vouches for anything: serving
        // without it is correct, refusing to start over it would be an outage.
        if (!(err instanceof CaError && err.code === 'expired')) throw err;
        log.warn({ path: stored.paths.retiring }, 'the retiring root has expired; finish the rotation (trellis ca rotate --finish)');
      }
    }
    const ca = new CertificateAuthority(opts, store, active, retiring, stored.rotationStartedAt);
    ca.#warnIfRootExpiresSoon(now);
    log.info({ fingerprint: active.fingerprint, retiring: retiring?.fingerprint, notAfter: new Date(active.notAfter).toISOString() }, 'CA ready');
    return ca;
  }

  /** The CA that signs new leaves: a root, or an intermediate (then `.anchor` is its root). */
  get activeRoot(): CaChain {
    return publicChain(this.#active);
  }

  /** During a rotation, the CA that signed before it. */
  get retiringRoot(): CaChain | undefined {
    return this.#retiring;
  }

  /** When the rotation in progress began (persisted in the state dir). */
  get rotationStartedAt(): number | undefined {
    return this.#rotationStartedAt;
  }

  /**
   * The root that signs the xDS serving certificate: during a rotation the
   * retiring one (if its key was kept), which every bootstrap written before
   * the rotation trusts; otherwise the active one.
   */
  get servingRoot(): CaChain {
    return publicChain(this.#retiringSigner ?? this.#active);
  }

  /** True while a rotation's grace runs: new leaves still come from the retiring root. */
  inRotationGrace(): boolean {
    return this.#retiringSigner !== undefined && this.#rotationStartedAt !== undefined && this.#clock() < rotationGraceEnd(this.#rotationStartedAt, this.#policy);
  }

  /**
   * PEM of every trusted root: the active CA's root, then during a rotation
   * the retiring one's (once: an intermediate rotation keeps the root).
   * Intermediates are never in the bundle: leaves carry them (chain.ts).
   */
  trustBundlePem(): string {
    const anchors = [this.#active.anchor, this.#retiring?.anchor].filter((a): a is NonNullable<typeof a> => a !== undefined);
    return [...new Map(anchors.map((a) => [a.fingerprint, a.certificatePem])).values()].join('');
  }

  /** The CAs whose leaves are current: the active one and, during a rotation, the retiring one. */
  issuerFingerprints(): string[] {
    return [this.#active.fingerprint, ...(this.#retiring ? [this.#retiring.fingerprint] : [])];
  }

  spiffeIdOf(identity: WorkloadIdentity): string {
    return spiffeIdOf(this.trustDomain, identity);
  }

  /** A new workload certificate (ECDSA P-256 key, SPIFFE URI SAN, serverAuth + clientAuth). */
  issue(identity: WorkloadIdentity | string, lifetimeMs: number = this.#leafLifetimeMs): IssuedCertificate {
    const spiffeId = typeof identity === 'string' ? this.#checkSpiffeId(identity) : this.spiffeIdOf(identity);
    // During the grace a peer may not have the new root yet: sign with the old one.
    const root = this.inRotationGrace() ? this.#retiringSigner! : this.#active;
    const cert = this.#sign({ kind: 'workload', spiffeId }, EMPTY_NAME, lifetimeMs, root);
    this.inventory.record(cert);
    return cert;
  }

  /**
   * The identity's current certificate, issuing one if it has none or the
   * one it has is due (rotation.ts). Streams of one identity share it.
   */
  certificateFor(identity: WorkloadIdentity | string): IssuedCertificate {
    const spiffeId = typeof identity === 'string' ? this.#checkSpiffeId(identity) : this.spiffeIdOf(identity);
    const held = this.inventory.latest(spiffeId);
    if (held && !this.renewalDecision(held).renew) return held;
    return this.issue(spiffeId);
  }

  /** Trellis's own serving certificate for the xDS port, signed by `servingRoot`. */
  issueServerCertificate(opts: ServerCertificateOptions = {}): IssuedCertificate {
    const profile: CertificateProfile = {
      kind: 'server',
      dnsNames: unique(['localhost', ...(opts.dnsNames ?? [])]),
      ipAddresses: unique(['127.0.0.1', '::1', ...(opts.ipAddresses ?? [])]),
      uris: opts.spiffeId ? [opts.spiffeId] : [],
    };
    const subject = distinguishedName({ organization: this.trustDomain.slice(0, 64), commonName: 'trellis' });
    const cert = this.#sign(profile, subject, opts.lifetimeMs ?? DEFAULT_SERVER_LIFETIME_MS, this.#retiringSigner ?? this.#active);
    this.inventory.record(cert);
    return cert;
  }

  /**
   * True if the serving certificate must be replaced: signed by another root
   * than `servingRoot` (a rotation finished, or the roots changed), or due.
   */
  serverCertificateDue(cert: IssuedCertificate): boolean {
    return cert.issuerFingerprint !== this.servingRoot.fingerprint || this.#clock() >= scheduledRenewal(cert, this.#policy);
  }

  renewalDecision(cert: IssuedCertificate): RenewalDecision {
    return renewalDecision(cert, {
      now: this.#clock(),
      activeRootFingerprint: this.#active.fingerprint,
      rotationStartedAt: this.#retiring ? (this.#rotationStartedAt ?? this.#active.notBefore) : undefined,
      policy: this.#policy,
    });
  }

  /**
   * Workload certificates only: the serving certificate stays on the
   * retiring root until the rotation finishes, on purpose.
   */
  rotationProgress(): RotationProgress {
    return rotationProgress(this.inventory.all().filter((c) => c.kind === 'workload'), this.#active.fingerprint);
  }

  listing(): CertificateListing {
    return certificateListing({ active: this.#active, retiring: this.#retiring, certificates: this.inventory.summaries(), now: this.#clock() });
  }

  /**
   * Starts a root rotation: `newRoot` (operator files) or a generated root
   * signs from now on; the current root stays in the trust bundle.
   */
  beginRootRotation(newRoot?: RootFiles): Promise<CaChain> {
    return this.#exclusive(async () => {
      if (this.#retiring) {
        throw new CaError('rotation-state', 'a root rotation is already in progress', 'finish it first (trellis ca rotate --finish)');
      }
      const now = this.#clock();
      const material: RootMaterial = newRoot
        ? await readCaFiles(newRoot)
        : generateRoot({ trustDomain: this.trustDomain, now, lifetimeMs: this.#rootLifetimeMs });
      const origin = newRoot ? originOf(newRoot) : { certPath: '(generated root)', keyPath: '(generated key)', state: false };
      // Without --root, an intermediate must chain to the root in use (an intermediate rotation).
      const next = loadSigningCa(material, now, origin, this.#active.anchor);
      if (next.fingerprint === this.#active.fingerprint) {
        throw new CaError('rotation-state', `${origin.certPath} is the CA already in use`, 'give a different CA certificate', origin.certPath);
      }
      await this.#store.beginRotation({ certificatePem: next.pathPem, keyPem: next.keyPem }, now);
      this.#retiring = publicChain(this.#active);
      this.#retiringSigner = this.#active;
      this.#active = next;
      this.#rotationStartedAt = now;
      this.#log.info({ active: next.fingerprint, retiring: this.#retiring.fingerprint, root: next.anchor.fingerprint }, 'CA rotation begun');
      return publicChain(next);
    });
  }

  /**
   * Ends a rotation: drops the retiring root from the trust bundle. Refuses
   * while a current certificate still chains to it (its holder would lose
   * trust), unless `force`.
   */
  finishRootRotation(opts: { force?: boolean } = {}): Promise<void> {
    return this.#exclusive(async () => {
      if (!this.#retiring) throw new CaError('rotation-state', 'no root rotation is in progress', 'start one first (trellis ca rotate)');
      const progress = this.rotationProgress();
      if (!progress.complete && !opts.force) {
        throw new CaError('rotation-state', `${progress.onRetiringRoots} of ${progress.total} current certificates still chain to the retiring root`,
          'wait until they are renewed onto the new root (trellis certs shows which), or force it');
      }
      await this.#store.finishRotation();
      this.#log.info({ dropped: this.#retiring.fingerprint }, 'root rotation finished');
      this.#retiring = undefined;
      this.#retiringSigner = undefined;
      this.#rotationStartedAt = undefined;
    });
  }

  #sign(profile: CertificateProfile, subject: Uint8Array, lifetimeMs: number, root: SigningCa): IssuedCertificate {
    if (!(lifetimeMs > 0)) throw new RangeError(`certificate lifetime must be positive, got ${lifetimeMs}`);
    const now = this.#clock();
    if (now >= root.validUntil) {
      throw new CaError('expired', `the signing CA's chain expired at ${new Date(root.validUntil).toISOString()}`, 'rotate to a new CA (trellis ca rotate)');
    }
    // X.509 times have one-second resolution; round so the summary equals the certificate.
    const notBefore = Math.ceil(Math.max(now - LEAF_BACKDATE_MS, root.validFrom) / 1000) * 1000;
    // A leaf never outlives its CA or any certificate above it: past that nobody would accept it anyway.
    const notAfter = Math.floor(Math.min(now + lifetimeMs, root.validUntil) / 1000) * 1000;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const serial = randomSerial();
    const der = buildCertificate(
      { serial, subject, notBefore: new Date(notBefore), notAfter: new Date(notAfter), subjectPublicKeyInfo: publicKey.export({ type: 'spki', format: 'der' }), profile },
      root.issuer,
    );
    return new IssuedCertificate({
      kind: profile.kind === 'server' ? 'server' : 'workload',
      spiffeId: profile.kind === 'workload' ? profile.spiffeId : profile.kind === 'server' ? profile.uris[0] : undefined,
      serial: Buffer.from(serial).toString('hex').toUpperCase(),
      notBefore,
      notAfter,
      issuedAt: now,
      issuerFingerprint: root.fingerprint,
      dnsNames: profile.kind === 'server' ? profile.dnsNames : [],
      ipAddresses: profile.kind === 'server' ? profile.ipAddresses : [],
      certificatePem: derToPem(der, 'CERTIFICATE'),
      chainPem: root.leafChainPem,
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
  }

  #checkSpiffeId(id: string): string {
    const parsed = parseSpiffeId(id);
    if (!parsed || parsed.trustDomain !== this.trustDomain) {
      throw new Error(`${JSON.stringify(id)} is not a workload SPIFFE ID of trust domain ${this.trustDomain}`);
    }
    return id;
  }

  #warnIfRootExpiresSoon(now: number): void {
    const margin = Math.max(30 * 24 * 3600_000, 2 * this.#leafLifetimeMs);
    if (this.#active.validUntil - now < margin) {
      this.#log.warn({ notAfter: new Date(this.#active.validUntil).toISOString() }, 'the signing CA (or a certificate above it) expires soon; rotate it (trellis ca rotate)');
    }
  }

  /** Rotation steps run one at a time: each reads the state the previous one left. */
  #exclusive<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(step, step);
    this.#busy = run.catch(() => undefined);
    return run;
  }
}

function sameCertificate(aPem: string, bPem: string): boolean {
  const der = (pem: string): Buffer | undefined => pemBlocks(pem).find((b) => b.label === 'CERTIFICATE')?.der;
  const a = der(aPem);
  const b = der(bPem);
  return a !== undefined && b !== undefined && a.equals(b);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
