/**
 * Egress in explicit mode (docs/intents.md "Egress"). An application that
 * knows its sidecar names an HTTP destination in `Host`, but a TLS or TCP
 * connection carries no Host, so — as for the mesh's TCP services
 * (tcp-outbound.ts) — it dials a local listener on the sidecar's outbound
 * address at the ExternalService's port: `outbound-external:<port>`.
 *
 * Its filter chains are the ones transparent mode matches (egress.ts
 * externalChains) less the destination address, which here is the listener
 * itself:
 *   - TLS ports: `tls_inspector`, one chain per host matched on the SNI,
 *     the TLS session passed on untouched to that host's cluster; a
 *     ClientHello naming no declared host, or no TLS at all, matches no chain
 *     and is closed (explicit mode has no pass-through);
 *   - TCP ports: one chain on the port (a TCP port carries one host; of two
 *     ExternalServices with a TCP port of one number, the first by
 *     namespace/name is reached here, the other in transparent mode only).
 * Who may reach it is what transparent mode enforces: a caller the sources
 * leave out gets a chain that closes the connection and logs it.
 *
 * A port number already held on the outbound address (the outbound
 * listener, the workload's own inbound ports and application ports, a mesh
 * TCP service's listener: tcp-outbound.ts heldPorts) gets no listener: that
 * destination is reached in transparent mode only. Pure.
 */
import type { MeshModel } from '../model/types.ts';
import type { FilterChain, Listener } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';
import { externalChains, mayReach } from './egress.ts';
import { socketAddress } from './fragments.ts';
import { externalListenerName } from './names.ts';

/**
 * The local listeners of the ExternalServices' TLS and TCP ports a caller
 * (`identity`) sees, by port; `refuses`: some chain refuses it (and names
 * the `egress-blocked` cluster, egress.ts blackholeCluster).
 */
export function explicitExternalListeners(model: MeshModel, identity: string | undefined, o: { address: string; held: ReadonlySet<number> }): { listeners: Listener[]; refuses: boolean } {
  const byPort = new Map<number, FilterChain[]>();
  for (const chain of externalChains(model, identity)) {
    const { prefix_ranges: _address, ...match } = chain.filter_chain_match ?? {};
    // externalChains writes the port as a number (the generated type also allows a wrapper).
    const port = Number(match.destination_port);
    if (o.held.has(port)) continue;
    const chains = byPort.get(port) ?? [];
    // One TCP chain per port (it matches every connection the TLS chains do not): the first.
    if (!match.server_names && chains.some((c) => !c.filter_chain_match?.server_names)) continue;
    chains.push({ ...chain, filter_chain_match: match });
    byPort.set(port, chains);
  }
  const listeners: Listener[] = [...byPort].sort((a, b) => a[0] - b[0]).map(([port, chains]) => ({
    name: externalListenerName(port),
    address: socketAddress(o.address, port),
    traffic_direction: 'OUTBOUND',
    // Only where a chain needs the SNI: a server-first TCP protocol sends nothing for the inspector to read.
    ...(chains.some((c) => c.filter_chain_match?.server_names) ? { listener_filters: [extension('TlsInspector', {})] } : {}),
    filter_chains: chains,
  }));
  const refuses = listeners.length > 0 && [...model.externalServices.values()].some((es) => !mayReach(model, es, identity) && es.ports.some((p) => p.protocol !== 'HTTP'));
  return { listeners, refuses };
}
