/**
 * "Programmed on N of M proxies": read from the xDS server's sync-status
 * view. A proxy (node) is programmed when it is in sync (sync-status.ts has
 * the one definition); it rejected the config where its latest answer for a
 * type is a NACK.
 */
import type { XdsServer } from '../server/xds-server.ts';
import { nodeInSync } from '../server/sync-status.ts';
import type { ProgrammedSummary } from '../sources/kubernetes/status.ts';
import { SHORT_NAMES } from '../xds/type-urls.ts';

export function programmedSummary(xds: XdsServer): ProgrammedSummary {
  const view = xds.syncStatus();
  const rejected: ProgrammedSummary['rejected'] = [];
  for (const { node, streams } of view) {
    for (const s of streams) {
      for (const t of s.types) if (t.rejected) rejected.push({ node: node.id, type: SHORT_NAMES[t.typeUrl], message: t.lastNack!.message });
    }
  }
  // In node order: the view is sorted by node.
  return { proxies: view.length, programmed: view.filter((n) => nodeInSync(n)).length, rejected };
}
