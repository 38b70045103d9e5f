/**
 * The files an operator gives for a CA (`trellis ca import` / `ca rotate`,
 * CertificateAuthority.open's operatorRoot): read, and named back in
 * messages and in the flags that would give them again.
 */
import { readFile } from 'node:fs/promises';
import type { CaOrigin, CaPem } from './chain.ts';
import { CaError } from './errors.ts';
import { errorMessage } from '../errors.ts';

/** An operator's CA: a root, or an intermediate with the chain up to its root (chain.ts). */
export interface RootFiles {
  certFile: string;
  /** Its private key; '' where only the certificates are read (`ca show`). */
  keyFile: string;
  /** Intermediates above the certificate, and possibly the root. */
  chainFile?: string;
  /** The root the chain must end at. */
  rootFile?: string;
}

async function readInput(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CaError('invalid-config', `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`,
      'check the path and that Trellis may read it', path);
  }
}

/** The certificates (and, if `keyFile` is set, the key) as PEM. */
export async function readCaFiles(files: RootFiles): Promise<CaPem & { keyPem: string }> {
  return {
    certificatePem: await readInput(files.certFile),
    keyPem: files.keyFile === '' ? '' : await readInput(files.keyFile),
    ...(files.chainFile !== undefined ? { chainPem: await readInput(files.chainFile) } : {}),
    ...(files.rootFile !== undefined ? { rootPem: await readInput(files.rootFile) } : {}),
  };
}

export function originOf(files: RootFiles): CaOrigin {
  return { certPath: files.certFile, keyPath: files.keyFile, chainPath: files.chainFile, rootPath: files.rootFile, state: false };
}

/** The flags that give these files to `trellis ca import` / `ca rotate`. */
export function filesFlags(files: RootFiles): string {
  return [`--cert ${files.certFile}`, `--key ${files.keyFile}`, files.chainFile && `--chain ${files.chainFile}`, files.rootFile && `--root ${files.rootFile}`].filter(Boolean).join(' ');
}
