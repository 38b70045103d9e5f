/**
 * File primitives for the state dir: writes that a crash cannot leave half
 * done, and reads that tell "absent" from "unreadable".
 */
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CaError } from './errors.ts';

/**
 * Writes `path` so that it holds either its old content or all of `data`,
 * never a prefix: write a sibling temp file, fsync it, rename it over the
 * target (atomic on POSIX), fsync the directory so the rename survives a
 * power loss.
 */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
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
}

export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncDir(dirname(to));
}

export async function unlinkDurable(path: string): Promise<void> {
  await unlink(path);
  await syncDir(dirname(path));
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
