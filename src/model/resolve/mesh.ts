/**
 * The mesh-wide settings: from the one MeshConfig, or defaults when there is
 * none. Two MeshConfigs conflict (issue 16 bug 8): the one that configures
 * the mesh now (the incumbent: in the previous model) keeps it and every
 * other is rejected at its own file and line, so adding a MeshConfig never
 * takes the mesh over, whatever its name. With no incumbent (a first start,
 * `trellis validate`) the older by creation time is used (in a cluster, the
 * API server sets it), else the first by name; it then carries a warning
 * naming the others, so both files are named. See docs/intents.md.
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
import { writtenAt, type Incumbents } from './incumbents.ts';

export function resolveMesh(configs: readonly Entry<MeshConfigSpec>[], book: Book, incumbents: Incumbents, runningTrustDomain?: string): MeshSettings {
  if (runningTrustDomain !== undefined) {
    for (const e of configs) {
      if (book.rejected(e) || e.spec.trustDomain === runningTrustDomain) continue;
      book.error(e, 'spec.trustDomain', 'RequiresRestart',
        `the trust domain cannot change while Trellis runs: its CA issues and verifies identities in "${runningTrustDomain}", which every proxy's certificate and token name. ` +
          `To move to "${e.spec.trustDomain}", restart Trellis and bootstrap every sidecar again; to keep serving, set trustDomain back to "${runningTrustDomain}"`);
    }
  }
  const valid = configs.filter((e) => !book.rejected(e)).toSorted(olderFirst);
  const incumbent = valid.find((e) => incumbents.held(e));
  const winner = incumbent ?? valid[0];
  if (!winner) return runningTrustDomain !== undefined ? { ...DEFAULT_MESH, trustDomain: runningTrustDomain } : DEFAULT_MESH;
  const losers = valid.filter((e) => e !== winner);
  const byTime = losers.every((e) => e.obj.metadata.creationTimestamp && winner.obj.metadata.creationTimestamp && e.obj.metadata.creationTimestamp !== winner.obj.metadata.creationTimestamp);
  const rule = incumbent ? 'it configured the mesh before this one appeared' : byTime ? 'it is the older' : 'with no running mesh to say which came first, the first by name is used';
  const advice = incumbent ? `Delete it, or move its settings into "${winner.name}"` : 'Delete the one you do not mean';
  for (const e of losers) {
    book.error(e, 'metadata.name', 'Conflict', `MeshConfig "${winner.name}"${writtenAt(winner)} configures the mesh (${rule}) and only one may; this one is not used. ${advice}`);
  }
  if (!incumbent && losers.length > 0) {
    const others = losers.map((e) => `"${e.name}"${writtenAt(e)}`).join(', ');
    book.warn(winner, 'metadata.name', 'Conflict', `MeshConfig ${others} also ${losers.length === 1 ? 'configures' : 'configure'} the mesh and only one may; this one is used (${rule}). ${advice}`);
  }
  return { ...winner.spec, source: winner.name };
}
