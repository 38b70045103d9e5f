/**
 * File primitives for the state dir: writes that a crash cannot leave half
 * done, and reads that tell "absent" from "unreadable".
 */
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CaError } from './errors.ts';

/**
 * Writes `path` so that it holds either its old content or all of `data`,
 * never a prefix: write a sibling temp file, fsync it, rename it over the
 * target (atomic on POSIX), fsync the directory so the rename survives a
 * power loss. If any step fails the temp file is removed and the error says
 * what could not be written and why (writeFailure).
 */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fh = await open(tmp, 'w', mode);
    try {
      await fh.writeFile(data);
      await fh.chmod(mode); // the umask may have narrowed or widened `mode` on open
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await syncDir(dirname(path));
  } catch (err) {
    // A full disk leaves an empty temp file otherwise (issue 16 bug 11); load() would remove it, but only at the next start.
    await unlink(tmp).catch(() => undefined);
    throw writeFailure(path, err);
  }
}

/** `mkdir -p` for the state dir, failing the way writeFileAtomic does. */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw writeFailure(dir, err);
  }
}

export async function renameDurable(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
    await syncDir(dirname(to));
  } catch (err) {
    throw writeFailure(to, err);
  }
}

export async function unlinkDurable(path: string): Promise<void> {
  try {
    await unlink(path);
    await syncDir(dirname(path));
  } catch (err) {
    throw writeFailure(path, err);
  }
}

/** Conditions of the machine that stop a write to the state dir: what each means, what to do. */
const WRITE_FAILURES: Record<string, { cause: string; fix: string }> = {
  ENOSPC: { cause: 'no space left on device', fix: 'free space on that file system (or give --state-dir on another one), then start again' },
  EDQUOT: { cause: 'disk quota exceeded', fix: 'raise the quota or free space (or give --state-dir elsewhere), then start again' },
  EROFS: { cause: 'read-only file system', fix: 'give --state-dir on a writable file system' },
  EACCES: { cause: 'permission denied', fix: 'let the user running Trellis write there (or give --state-dir elsewhere)' },
  EPERM: { cause: 'operation not permitted', fix: 'let the user running Trellis write there (or give --state-dir elsewhere)' },
  ENOTDIR: { cause: 'a path component is not a directory', fix: 'move that file aside or give another --state-dir' },
};

/**
 * Why the state dir cannot be written, for the operator, in one line: the
 * path, the cause, what to do. A condition of the machine becomes CaError
 * 'write-failed' (exit 1, no stack trace); anything else stays the bug it is.
 */
function writeFailure(path: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const known = code === undefined ? undefined : WRITE_FAILURES[code];
  if (err instanceof CaError || known === undefined) return err;
  return new CaError('write-failed', `cannot write ${path}: ${known.cause} (${code})`, known.fix, path);
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The file's text, or undefined if it does not exist. Other errors (EACCES, EISDIR) throw. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') {
      throw new CaError('corrupt-state', `${path} is a directory, not a file`, `remove or rename ${path}`, path);
    }
    throw err;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Private keys in the state dir are the mesh's trust: one readable by other
 * users may already have been copied, so Trellis refuses rather than
 * quietly tightening it (the same stance as OpenSSH on private keys).
 */
export async function checkKeyFileMode(path: string): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) {
    throw new CaError(
      'insecure-key-file',
      `${path} is readable by users other than its owner (mode ${(mode & 0o777).toString(8)})`,
      `run \`chmod 600 ${path}\`; if others may have read it, replace the key (for the root: trellis ca rotate)`,
      path,
    );
  }
}
