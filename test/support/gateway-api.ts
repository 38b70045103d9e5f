/**
 * Where scripts/setup-gateway-api.sh puts the pinned Gateway API modules and
 * the conformance suite's echo server. Tests that need them fail with a
 * message naming the script when they are missing (they never skip).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export const GATEWAY_API_VERSION = 'v1.6.3';

const DIR = path.join(process.env.TRELLIS_CACHE ?? path.join(homedir(), '.cache/trellis'), `gateway-api-${GATEWAY_API_VERSION}`);

function need(p: string, what: string): string {
  if (!existsSync(p)) throw new Error(`${what} is missing at ${p}: run \`bash scripts/setup-gateway-api.sh\` (downloads sigs.k8s.io/gateway-api ${GATEWAY_API_VERSION} and its conformance module, builds echo-basic)`);
  return p;
}

/** The sigs.k8s.io/gateway-api module's files (config/crd/standard/...). */
export function gatewayApiModule(): string {
  return need(path.join(DIR, 'module'), `sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`);
}

/** The sigs.k8s.io/gateway-api/conformance module's files (tests/mesh/..., mesh/manifests.yaml). */
export function conformanceModule(): string {
  return need(path.join(DIR, 'conformance'), `sigs.k8s.io/gateway-api/conformance@${GATEWAY_API_VERSION}`);
}

/** The echo-basic binary. */
export function echoBasicBin(): string {
  return need(path.join(DIR, 'echo-basic'), 'echo-basic');
}
