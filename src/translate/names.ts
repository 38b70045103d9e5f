/**
 * Every name Trellis gives an Envoy object is made here, and only here.
 * Operators read these names in Envoy's admin page (/clusters, /config_dump),
 * in stats and in Trellis's own config dumps, so they are stable contracts:
 * change one only on purpose, with the README (docs/names.md) in the same change.
 *
 * A name must carry everything that makes the object unique within one proxy;
 * two objects that may differ in content must never share a name.
 */

/** The DNS suffix Kubernetes gives services; the file source uses the same. */
export const CLUSTER_DOMAIN = 'cluster.local';

/** `svc.ns.svc.cluster.local` — the fully qualified host of a service. */
export function serviceFqdn(namespace: string, service: string): string {
  return `${service}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

/**
 * Outbound cluster for one port of one service: `svc.ns:port`.
 * A cluster is per port because each port may have its own protocol, policy
 * and endpoints (targetPort), and per service because endpoints are per
 * service. A TrafficSplit backend is a service in its own right (SMI), so a
 * backend's cluster is the backend service's cluster: splits reuse clusters.
 */
export function outboundClusterName(namespace: string, service: string, port: number): string {
  return `${service}.${namespace}:${port}`;
}

/** EDS resource name of an outbound cluster: the cluster's own name. */
export function endpointsName(clusterName: string): string {
  return clusterName;
}

/**
 * EDS resource of a cluster whose policy prefers the caller's zone: the
 * same endpoints, with the caller's zone at priority 0 and the others at 1
 * (failover), so one resource per (cluster, zone) rather than per caller.
 */
export function zonalEndpointsName(clusterName: string, zone: string): string {
  return `${clusterName}@${zone}`;
}

/**
 * Inbound cluster that forwards to the local application: `inbound:port`,
 * with the service port in explicit mode and the targetPort (the port the
 * application listens on) in transparent mode.
 */
export function inboundClusterName(port: number): string {
  return `inbound:${port}`;
}

/**
 * The one outbound listener of a sidecar and its route configuration. In
 * explicit mode the application calls it on a local port; in transparent
 * mode iptables redirects outbound connections to it. Requests are told
 * apart by Host (`svc`, `svc.ns`, `svc.ns.svc.cluster.local`, with or
 * without port), so one listener serves every service the proxy may call.
 */
export const OUTBOUND_LISTENER = 'outbound';
export const OUTBOUND_ROUTE = 'outbound';

/**
 * Explicit mode: inbound listener for one service port of the workload,
 * `inbound:port`, bound on the pod address.
 */
export function inboundListenerName(port: number): string {
  return `inbound:${port}`;
}

/**
 * Transparent mode: the one inbound listener, `inbound` on 0.0.0.0:15006.
 * iptables redirects every inbound TCP connection of the pod to it, and the
 * original_dst listener filter recovers the port the caller connected to:
 * the targetPort, which callers' endpoints name. So one listener serves
 * every port, with one filter chain per port (inboundFilterChainName), as
 * Istio's `virtualInbound` does; the application keeps its own ports.
 */
export const INBOUND_LISTENER = 'inbound';

/** Transparent mode: the filter chain of `inbound` for one targetPort, `inbound:port`. */
export function inboundFilterChainName(port: number): string {
  return `inbound:${port}`;
}

/**
 * Transparent mode, the other filter chains of `inbound`: a connection to a
 * port the mesh does not serve goes on to the application as it is
 * (`passthrough`, plain TCP to the passthrough cluster); one made to 15006
 * itself is refused (`inbound-direct`), since passing it through would loop.
 */
export const INBOUND_PASSTHROUGH_CHAIN = 'passthrough';
export const INBOUND_DIRECT_CHAIN = 'inbound-direct';

/** Route configuration (inline in an inbound listener or filter chain) for one inbound port. */
export function inboundRouteName(port: number): string {
  return `inbound:${port}`;
}

/** Virtual host of one service port in the outbound route configuration. */
export function virtualHostName(namespace: string, service: string, port: number): string {
  return `${service}.${namespace}:${port}`;
}

/**
 * Passthrough cluster for transparent mode (ORIGINAL_DST): connections the
 * mesh does not handle go where they were going (inbound: to the
 * application's port that is no mesh port).
 */
export const PASSTHROUGH_CLUSTER = 'passthrough';

/**
 * Proxyless gRPC clients ask LDS for the target's authority as written in
 * `xds:///host:port`, so the listener is named exactly that
 * (`svc.ns.svc.cluster.local:8080`, or a shorter form the client used).
 */
export function proxylessListenerName(host: string, port: number): string {
  return `${host}:${port}`;
}

/**
 * SDS: every sidecar's own certificate and key go by one name, and the trust
 * bundle by another. One name for all identities keeps clusters and listeners
 * identical across workloads, so they are built and encoded once for the
 * mesh instead of once per identity; which certificate a stream receives
 * under that name is decided by the identity it proved (the secret's owner),
 * never by the name it asks for.
 */
export const WORKLOAD_CERTIFICATE_SECRET = 'workload-certificate';

export const TRUST_BUNDLE_SECRET = 'trellis-trust-bundle';
