/**
 * Where the CA keeps its roots between runs, so a restart keeps trust.
 *
 * Layout of `<state-dir>/ca/` (a contract: operators back it up):
 *   root.crt      the root that signs new leaves (PEM)
 *   root.key      its private key (PKCS#8 PEM, mode 0600)
 *   retiring.crt  during a root rotation only: the previous root, still in
 *                 the trust bundle until the rotation finishes
 *   next.crt/.key transient: a rotation (or first start) being committed
 *
 * Crash safety: every file is written atomically (files.ts), and a root
 * change is staged as next.key then next.crt, then committed by renaming
 * next.key over root.key and next.crt over root.crt. next.crt exists only
 * once next.key is complete, so on load: next.key alone means the staging
 * was cut short (drop it); next.crt means the commit was decided (finish
 * it). retiring.crt is written before the commit starts (and recovery writes
 * it if the crash came between staging and that write), so no moment exists
 * where the old root has left both root.crt and retiring.crt.
 *
 * The Kubernetes source will keep the same content in a Secret; the CA
 * depends only on the CaStore interface.
 */
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError } from './errors.ts';
import { checkKeyFileMode, exists, readOptional, renameDurable, unlinkDurable, writeFileAtomic } from './files.ts';

export interface RootMaterial {
  certificatePem: string;
  keyPem: string;
}

export interface PersistedRoots {
  active: RootMaterial;
  /** The previous root's certificate while a rotation is in progress. */
  retiringPem?: string;
  /** Paths of the files, for messages. */
  paths: { cert: string; key: string; retiring: string };
}

export interface CaStore {
  /** The stored roots, or undefined if none were ever stored. Throws CaError on corruption. */
  load(): Promise<PersistedRoots | undefined>;
  /** Stores the first root. */
  initialize(root: RootMaterial): Promise<void>;
  /** Makes `next` the signing root and keeps the current one as retiring. */
  beginRotation(next: RootMaterial): Promise<void>;
  /** Forgets the retiring root. */
  finishRotation(): Promise<void>;
}

const CERT_MODE = 0o644;
const KEY_MODE = 0o600;

export class FileCaStore implements CaStore {
  readonly dir: string;
  private readonly file: Record<'cert' | 'key' | 'retiring' | 'nextCert' | 'nextKey', string>;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'ca');
    this.file = {
      cert: join(this.dir, 'root.crt'),
      key: join(this.dir, 'root.key'),
      retiring: join(this.dir, 'retiring.crt'),
      nextCert: join(this.dir, 'next.crt'),
      nextKey: join(this.dir, 'next.key'),
    };
  }

  async load(): Promise<PersistedRoots | undefined> {
    if (!(await this.checkDir())) return undefined;
    await this.recover();
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
    const paths = { cert: this.file.cert, key: this.file.key, retiring: this.file.retiring };
    return retiringPem === undefined ? { active: { certificatePem, keyPem }, paths } : { active: { certificatePem, keyPem }, retiringPem, paths };
  }

  async initialize(root: RootMaterial): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (await exists(this.file.cert)) throw new Error(`${this.file.cert} already exists`);
    await this.stage(root);
    await this.commit();
  }

  async beginRotation(next: RootMaterial): Promise<void> {
    if (await exists(this.file.retiring)) {
      throw new CaError('rotation-state', 'a root rotation is already in progress', 'finish it first (trellis ca rotate --finish)', this.file.retiring);
    }
    const current = await readOptional(this.file.cert);
    if (current === undefined) throw new Error(`${this.file.cert} is missing`);
    await this.stage(next);
    await writeFileAtomic(this.file.retiring, current, CERT_MODE);
    await this.commit();
  }

  async finishRotation(): Promise<void> {
    if (!(await exists(this.file.retiring))) {
      throw new CaError('rotation-state', 'no root rotation is in progress', 'start one first (trellis ca rotate)', this.file.retiring);
    }
    await unlinkDurable(this.file.retiring);
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
      if (current !== undefined && !(await exists(this.file.retiring))) {
        await writeFileAtomic(this.file.retiring, current, CERT_MODE);
      }
      await this.commit();
    } else if (await exists(this.file.nextKey)) {
      await unlinkDurable(this.file.nextKey);
    }
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
      `restore ${this.dir} from a backup; if the root is lost, move ${this.dir} aside so Trellis creates a new root, then re-bootstrap every workload`,
      path,
    );
  }
}
