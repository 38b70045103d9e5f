/**
 * Transparent mode: HTTP service ports routed by the address the client
 * dialled, not by its Host (Gateway API MeshClusterIPMatching; the
 * conformance cases MeshFrontend and MeshFrontendHostname). A connection
 * whose original destination is a Service's ClusterIP and port meets that
 * port's virtual host whatever Host it sends (a filter chain of `outbound`
 * matching the address, with a route configuration of its own holding that
 * one virtual host for every domain); one to a pod's own address and port is
 * no Service's frontend, so no route applies: it goes to that pod over mTLS
 * (the port's ORIGINAL_DST `/direct` cluster), as a TCP service's does
 * (tcp-outbound.ts). Other HTTP keeps the shared route by Host. Pure.
 *
 * Each address and port is claimed once: first the TCP services'
 * (transparentTcpDestinations), then these, in service and port order (a pod
 * behind two Services on one targetPort is dialled through the first).
 */
import type { MeshModel, MeshService, ServicePort } from '../model/types.ts';
import type { FilterChain, RouteConfiguration } from '../xds/envoy-types.ts';
import type { Filter } from '../xds/envoy-types.ts';
import { destinationRouteName, directClusterName, outboundHttpChainName, tcpStatPrefix } from './names.ts';
import { httpPorts, virtualHost } from './routes.ts';
import { tcpProxy, type TcpDestination } from './tcp-listeners.ts';
import type { TcpPort } from './tcp-outbound.ts';

export interface HttpDestinations {
  /** A ClusterIP and port: its own route configuration (`route`). */
  frontends: Array<TcpPort & { address: string; route: string; chain: string }>;
  /** Pods' own addresses at a targetPort: to that pod (`/direct`), no route. */
  pods: TcpDestination[];
  /** The ports whose `/direct` cluster a pod chain names. */
  direct: TcpPort[];
}

/** The HTTP ports' destinations of these services; `claimed` (`address port`) are the TCP services'. */
export function transparentHttpDestinations(services: readonly MeshService[], tcp: readonly TcpDestination[]): HttpDestinations {
  const claimed = new Set(tcp.flatMap((d) => d.addresses.map((a) => `${a} ${d.port}`)));
  const claim = (address: string, port: number) => !claimed.has(`${address} ${port}`) && !!claimed.add(`${address} ${port}`);
  const out: HttpDestinations = { frontends: [], pods: [], direct: [] };
  for (const service of services) {
    // Undeclared ports are the TCP services' (detect.ts): HTTP on them is told by the inspector.
    for (const port of httpPorts(service).filter((p) => p.protocol !== 'auto')) {
      const { namespace: ns, name } = service;
      if (service.clusterIP && service.clusterIP !== 'None' && claim(service.clusterIP, port.port)) {
        out.frontends.push({ service, port, address: service.clusterIP, route: destinationRouteName(ns, name, port.port), chain: outboundHttpChainName(ns, name, port.port) });
      }
      const byPort = new Map<number, string[]>();
      for (const ep of port.endpoints) if (claim(ep.address, ep.port)) byPort.set(ep.port, [...(byPort.get(ep.port) ?? []), ep.address]);
      for (const [epPort, addresses] of [...byPort].sort((a, b) => a[0] - b[0])) {
        out.pods.push({ name: outboundHttpChainName(ns, name, port.port, epPort), addresses, port: epPort, cluster: directClusterName(ns, name, port.port) });
      }
      if (byPort.size > 0) out.direct.push({ service, port });
    }
  }
  return out;
}

/** The outbound chains: a frontend's HTTP connection manager (`hcm(route)`), a pod's tcp_proxy. */
export function httpDestinationChains(d: HttpDestinations, hcm: (route: string) => Filter): FilterChain[] {
  const match = (addresses: readonly string[], port: number) => ({ destination_port: port, prefix_ranges: addresses.map((a) => ({ address_prefix: a, prefix_len: a.includes(':') ? 128 : 32 })) });
  return [
    ...d.frontends.map((f): FilterChain => ({ name: f.chain, filter_chain_match: match([f.address], f.port.port), filters: [hcm(f.route)] })),
    ...d.pods.map((p): FilterChain => ({ name: p.name, filter_chain_match: match(p.addresses, p.port), filters: [tcpProxy(tcpStatPrefix(p.name), p.cluster)] })),
  ];
}

/** A frontend's route configuration: the port's virtual host (as the caller meets it by Host), for every domain. */
export function destinationRouteConfiguration(model: MeshModel, name: string, service: MeshService, port: ServicePort, callerNamespace: string | undefined): RouteConfiguration {
  const vh = virtualHost(model, service, port, { callerNamespace, isDefaultPort: true, kind: 'envoy' });
  return { name, virtual_hosts: [{ ...vh, domains: ['*'] }], validate_clusters: false };
}
