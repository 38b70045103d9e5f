/**
 * The mesh-wide settings: from the one MeshConfig, or defaults when there is
 * none. Two MeshConfigs conflict; the older one wins.
 *
 * `runningTrustDomain`: the trust domain the running control plane's CA
 * issues and verifies identities in. It cannot change under running proxies
 * (their certificates, tokens and peers' SAN checks all name it), so a
 * MeshConfig naming another one is refused (its last good version stays
 * served) and, with no MeshConfig left, the defaults keep the running one.
 */
import { DEFAULT_MESH, type MeshConfigSpec } from '../kinds/mesh-config.ts';
import type { MeshSettings } from '../types.ts';
import { olderFirst, type Book, type Entry } from './book.ts';

export function resolveMesh(configs: readonly Entry<MeshConfigSpec>[], book: Book, runningTrustDomain?: string): MeshSettings {
  if (runningTrustDomain !== undefined) {
    for (const e of configs) {
      if (book.rejected(e) || e.spec.trustDomain === runningTrustDomain) continue;
      book.error(e, 'spec.trustDomain', 'RequiresRestart',
        `the trust domain cannot change while Trellis runs: its CA issues and verifies identities in "${runningTrustDomain}", which every proxy's certificate and token name. ` +
          `To move to "${e.spec.trustDomain}", restart Trellis and bootstrap every sidecar again; to keep serving, set trustDomain back to "${runningTrustDomain}"`);
    }
  }
  const valid = configs.filter((e) => !book.rejected(e)).toSorted(olderFirst);
  const [winner, ...losers] = valid;
  for (const e of losers) {
    book.error(e, 'metadata.name', 'Conflict', `MeshConfig "${winner!.name}" already configures the mesh and only one may; delete one of them`);
  }
  if (winner) return { ...winner.spec, source: winner.name };
  return runningTrustDomain !== undefined ? { ...DEFAULT_MESH, trustDomain: runningTrustDomain } : DEFAULT_MESH;
}
