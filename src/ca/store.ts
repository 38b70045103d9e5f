/**
 * Where the CA keeps its roots between runs, so a restart keeps trust.
 *
 * Layout of `<state-dir>/ca/` (a contract: operators back it up):
 *   root.crt      the CA that signs new leaves (PEM): a root, or an
 *                 operator's intermediate followed by the chain up to and
 *                 including its root (chain.ts, "stored form")
 *   root.key      its private key (PKCS#8 PEM, mode 0600)
 *   retiring.crt  during a rotation only: the previous CA (with its chain),
 *                 whose root stays in the trust bundle until it finishes
 *   retiring.key  during a rotation: its key (mode 0600). The xDS port keeps
 *                 serving a certificate from the previous root until the
 *                 rotation finishes (every bootstrap written before trusts
 *                 it), also across a restart; deleted at finish
 *   rotation.json during a rotation: {"startedAt": ISO time}, so renewal onto
 *                 the new root waits for the bundle to propagate (rotation.ts)
 *   next.crt/.key transient: a rotation (or first start) being committed
 * and, outside ca/ so that losing ca/ does not lose it too,
 * `<state-dir>/trust-anchor.json` (trust-history.ts): which root the state
 * dir's proxies trust, so a missing ca/ is refused rather than replaced.
 *
 * Crash safety: every file is written atomically (files.ts), and a root
 * change is staged as next.key then next.crt, then committed by renaming
 * next.key over root.key and next.crt over root.crt. next.crt exists only
 * once next.key is complete, so on load: next.key alone means the staging
 * was cut short (drop it); next.crt means the commit was decided (finish
 * it). retiring.crt is written before the commit starts (and recovery writes
 * it if the crash came between staging and that write), so no moment exists
 * where the old root has left both root.crt and retiring.crt. rotation.json
 * and retiring.key are written before retiring.crt, and finishing deletes
 * retiring.crt first: either without retiring.crt is a leftover (removed).
 *
 * The Kubernetes source will keep the same content in a Secret; the CA
 * depends only on the CaStore interface.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError } from './errors.ts';
import { checkKeyFileMode, exists, makeDir, readOptional, renameDurable, unlinkDurable, writeFileAtomic } from './files.ts';
import { previousRootEvidence, recordTrustAnchor } from './trust-history.ts';

export interface RootMaterial {
  certificatePem: string;
  keyPem: string;
}

export interface PersistedRoots {
  active: RootMaterial;
  /** The previous root's certificate while a rotation is in progress. */
  retiringPem?: string;
  /** Its key, if the rotation kept it (rotations begun before it was kept did not). */
  retiringKeyPem?: string;
  /** When the rotation began (ms since epoch), if one is in progress. */
  rotationStartedAt?: number;
  /** Paths of the files, for messages. */
  paths: StorePaths;
}

export interface StorePaths {
  cert: string;
  key: string;
  retiring: string;
  retiringKey: string;
  rotation: string;
}

export interface CaStore {
  /** The stored roots, or undefined if none were ever stored. Throws CaError on corruption. */
  load(): Promise<PersistedRoots | undefined>;
  /** Stores the first root. */
  initialize(root: RootMaterial): Promise<void>;
  /** Makes `next` the signing root and keeps the current one (and its key) as retiring, recording when. */
  beginRotation(next: RootMaterial, startedAt: number): Promise<void>;
  /** Forgets the retiring root. */
  finishRotation(): Promise<void>;
  /**
   * With no root stored: why one must have been stored before (a clause for
   * the operator), or undefined on a genuinely first start. A store that
   * cannot tell leaves it out.
   */
  previousRootEvidence?(): Promise<string | undefined>;
}

const CERT_MODE = 0o644;
const KEY_MODE = 0o600;

export class FileCaStore implements CaStore {
  readonly dir: string;
  private readonly stateDir: string;
  private readonly file: Record<'cert' | 'key' | 'retiring' | 'retiringKey' | 'rotation' | 'nextCert' | 'nextKey', string>;

  constructor(stateDir: string) {
    this.stateDir = stateDir;
    this.dir = join(stateDir, 'ca');
    this.file = {
      cert: join(this.dir, 'root.crt'),
      key: join(this.dir, 'root.key'),
      retiring: join(this.dir, 'retiring.crt'),
      retiringKey: join(this.dir, 'retiring.key'),
      rotation: join(this.dir, 'rotation.json'),
      nextCert: join(this.dir, 'next.crt'),
      nextKey: join(this.dir, 'next.key'),
    };
  }

  async load(): Promise<PersistedRoots | undefined> {
    if (!(await this.checkDir())) return undefined;
    await this.recover();
    return this.read();
  }

  /**
   * What the files hold, without recovering anything: for a reader that must
   * not write (the running server watching `trellis ca rotate`). Leftovers of
   * a finished rotation (retiring.key or rotation.json without retiring.crt)
   * are ignored.
   */
  async read(): Promise<PersistedRoots | undefined> {
    const [certificatePem, keyPem, retiringPem] = await Promise.all([
      readOptional(this.file.cert),
      readOptional(this.file.key),
      readOptional(this.file.retiring),
    ]);
    if (certificatePem === undefined && keyPem === undefined) {
      if (retiringPem !== undefined) this.corrupt(this.file.cert, `${this.file.retiring} exists but ${this.file.cert} and ${this.file.key} do not`);
      return undefined;
    }
    if (certificatePem === undefined) this.corrupt(this.file.cert, `${this.file.key} exists but ${this.file.cert} does not`);
    if (keyPem === undefined) this.corrupt(this.file.key, `${this.file.cert} exists but ${this.file.key} does not`);
    await checkKeyFileMode(this.file.key);
    const paths: StorePaths = { cert: this.file.cert, key: this.file.key, retiring: this.file.retiring, retiringKey: this.file.retiringKey, rotation: this.file.rotation };
    const active = { certificatePem, keyPem };
    if (retiringPem === undefined) return { active, paths };
    const retiringKeyPem = await readOptional(this.file.retiringKey);
    if (retiringKeyPem !== undefined) await checkKeyFileMode(this.file.retiringKey);
    const rotationStartedAt = await this.rotationStart();
    return { active, retiringPem, ...(retiringKeyPem !== undefined ? { retiringKeyPem } : {}), rotationStartedAt, paths };
  }

  async initialize(root: RootMaterial): Promise<void> {
    await makeDir(this.dir);
    if (await exists(this.file.cert)) throw new Error(`${this.file.cert} already exists`);
    await this.stage(root);
    await this.commit();
    await recordTrustAnchor(this.stateDir, root.certificatePem);
  }

  previousRootEvidence(): Promise<string | undefined> {
    return previousRootEvidence(this.stateDir);
  }

  async beginRotation(next: RootMaterial, startedAt: number): Promise<void> {
    if (await exists(this.file.retiring)) {
      throw new CaError('rotation-state', 'a root rotation is already in progress', 'finish it first (trellis ca rotate --finish)', this.file.retiring);
    }
    const current = await readOptional(this.file.cert);
    const currentKey = await readOptional(this.file.key);
    if (current === undefined || currentKey === undefined) throw new Error(`${this.file.cert} or ${this.file.key} is missing`);
    await this.stage(next);
    await this.keepRetiring(current, currentKey, startedAt);
    await this.commit();
    await recordTrustAnchor(this.stateDir, next.certificatePem, startedAt);
  }

  async finishRotation(): Promise<void> {
    if (!(await exists(this.file.retiring))) {
      throw new CaError('rotation-state', 'no root rotation is in progress', 'start one first (trellis ca rotate)', this.file.retiring);
    }
    await unlinkDurable(this.file.retiring);
    await this.removeLeftovers();
  }

  /** rotation.json and retiring.key first, retiring.crt last: see the header. */
  private async keepRetiring(certificatePem: string, keyPem: string, startedAt: number): Promise<void> {
    await writeFileAtomic(this.file.rotation, `${JSON.stringify({ startedAt: new Date(startedAt).toISOString() })}\n`, CERT_MODE);
    await writeFileAtomic(this.file.retiringKey, keyPem, KEY_MODE);
    await writeFileAtomic(this.file.retiring, certificatePem, CERT_MODE);
  }

  private async removeLeftovers(): Promise<void> {
    for (const f of [this.file.retiringKey, this.file.rotation]) if (await exists(f)) await unlinkDurable(f);
  }

  /**
   * When the rotation in progress began: rotation.json, or (a rotation begun
   * before it was written) the time retiring.crt was written.
   */
  private async rotationStart(): Promise<number> {
    const text = await readOptional(this.file.rotation);
    if (text === undefined) return (await stat(this.file.retiring)).mtimeMs;
    let startedAt: number | undefined;
    try {
      const v = JSON.parse(text) as { startedAt?: unknown };
      startedAt = typeof v.startedAt === 'string' ? Date.parse(v.startedAt) : undefined;
    } catch {
      startedAt = undefined;
    }
    if (startedAt === undefined || !Number.isFinite(startedAt)) {
      throw new CaError('corrupt-state', `the CA state is incomplete: ${this.file.rotation} does not hold {"startedAt": "<ISO time>"}`,
        `write the time \`trellis ca rotate\` ran into it (e.g. {"startedAt": "2026-01-01T00:00:00Z"}), or delete it to use the time ${this.file.retiring} was written`,
        this.file.rotation);
    }
    return startedAt;
  }

  private async stage(root: RootMaterial): Promise<void> {
    await writeFileAtomic(this.file.nextKey, root.keyPem, KEY_MODE);
    await writeFileAtomic(this.file.nextCert, root.certificatePem, CERT_MODE);
  }

  private async commit(): Promise<void> {
    if (await exists(this.file.nextKey)) await renameDurable(this.file.nextKey, this.file.key);
    await renameDurable(this.file.nextCert, this.file.cert);
  }

  /** Finishes or undoes what a crash interrupted; see the header for why this is enough. */
  private async recover(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.includes('.tmp-')) await unlink(join(this.dir, name));
    }
    if (await exists(this.file.nextCert)) {
      // A rotation cut short between staging and retiring.crt: root.crt is
      // still the old root (commit has not started), keep it trusted.
      const current = await readOptional(this.file.cert);
      const currentKey = await readOptional(this.file.key);
      if (current !== undefined && currentKey !== undefined && !(await exists(this.file.retiring))) {
        // The rotation's start is unknown to a later process: it is now.
        await this.keepRetiring(current, currentKey, Date.now());
      }
      await this.commit();
    } else if (await exists(this.file.nextKey)) {
      await unlinkDurable(this.file.nextKey);
    }
    if (!(await exists(this.file.retiring))) await this.removeLeftovers();
  }

  /** False if there is no CA dir yet; throws if it is not a directory. */
  private async checkDir(): Promise<boolean> {
    try {
      const s = await stat(this.dir);
      if (!s.isDirectory()) this.corrupt(this.dir, `${this.dir} is not a directory`);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  private corrupt(path: string, problem: string): never {
    throw new CaError(
      'corrupt-state',
      `the CA state is incomplete: ${problem}`,
      `restore ${this.dir} from a backup; if the root is lost, move ${this.dir} aside and start \`trellis serve --new-ca\` to create a new root, then re-bootstrap every workload`,
      path,
    );
  }
}
