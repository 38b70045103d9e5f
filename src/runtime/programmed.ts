/**
 * "Programmed on N of M proxies": read from the xDS server's streams. A proxy
 * (node) is programmed when, on each of its streams, every type it asked for
 * has been ACKed at the version last sent and nothing newer is pending; it
 * rejected the config when its last answer for a type is a NACK.
 */
import type { XdsServer } from '../server/xds-server.ts';
import type { ProgrammedSummary } from '../sources/kubernetes/status.ts';
import { SHORT_NAMES } from '../xds/type-urls.ts';

export function programmedSummary(xds: XdsServer): ProgrammedSummary {
  let proxies = 0;
  let programmed = 0;
  const rejected: ProgrammedSummary['rejected'] = [];
  for (const [node, streams] of xds.nodes()) {
    proxies++;
    let ok = true;
    for (const s of streams) {
      for (const [typeUrl, st] of s.types) {
        if (!st.requested) continue;
        const nacked = st.lastNack !== null && st.lastNack.at >= st.ackedAt;
        if (nacked) rejected.push({ node, type: SHORT_NAMES[typeUrl], message: st.lastNack!.message });
        if (nacked || st.dirty || st.ackedVersion !== st.sentVersion) ok = false;
      }
    }
    if (ok) programmed++;
  }
  rejected.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return { proxies, programmed, rejected };
}
