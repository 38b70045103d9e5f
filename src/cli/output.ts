/**
 * `--out FILE` for the commands that write data (bootstrap, inject): a file
 * that cannot be written (a full disk, a missing directory, no permission) is
 * the operator's problem, told in one line (exit 1), and no partial file is
 * left for Envoy or kubectl to read later (issue 16 bug 11).
 */
import { unlink, writeFile } from 'node:fs/promises';
import { errorMessage, OperatorError } from '../errors.ts';

export async function writeOutput(file: string, text: string, mode?: number): Promise<void> {
  try {
    await writeFile(file, text, mode === undefined ? undefined : { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === undefined) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') await unlink(file).catch(() => undefined);
    throw new OperatorError(`cannot write --out ${file}: ${errorMessage(e)}`);
  }
}
