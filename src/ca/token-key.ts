/**
 * The key that signs workload tokens (token.ts), kept at
 * `<state-dir>/tokens/signing.key` (PKCS#8 PEM, ECDSA P-256, mode 0600).
 *
 * Why a key of its own rather than the CA key:
 * - ES256 needs a P-256 key; an operator-supplied root may be RSA or P-384.
 * - Root rotation must not void every bootstrap already written, and a token
 *   key must be replaceable (after a leak) without re-rooting the mesh.
 * - A leaked token key lets one obtain workload secrets from this Trellis
 *   until it is replaced; a leaked CA key lets one mint certificates every
 *   peer trusts. Keeping them apart keeps the second out of the token path.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { CaError } from './errors.ts';
import { checkKeyFileMode, makeDir, readOptional, writeFileAtomic } from './files.ts';
import { errorMessage } from '../errors.ts';

export function tokenKeyPath(stateDir: string): string {
  return join(stateDir, 'tokens', 'signing.key');
}

/** Loads the token signing key, creating it on first start. */
export async function loadOrCreateTokenKey(stateDir: string): Promise<KeyObject> {
  const path = tokenKeyPath(stateDir);
  const pem = await readOptional(path);
  if (pem === undefined) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await makeDir(join(stateDir, 'tokens'));
    await writeFileAtomic(path, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
    return privateKey;
  }
  await checkKeyFileMode(path);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw corrupt(path, `is not a valid private key (${errorMessage(err)})`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw corrupt(path, 'is not an ECDSA P-256 key');
  }
  return key;
}

function corrupt(path: string, problem: string): CaError {
  return new CaError(
    'corrupt-state',
    `${path} ${problem}`,
    `restore it from a backup, or delete it so Trellis makes a new one (every bootstrap token must then be re-issued with trellis bootstrap)`,
    path,
  );
}
