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

/** Inbound cluster that forwards to the local application on `port`. */
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
 * Inbound listener for one service port of the workload: `inbound:port`
 * (the service port number, which is what callers' endpoints name).
 */
export function inboundListenerName(port: number): string {
  return `inbound:${port}`;
}

/** Route configuration (inline in the inbound listener) for one inbound port. */
export function inboundRouteName(port: number): string {
  return `inbound:${port}`;
}

/** Virtual host of one service port in the outbound route configuration. */
export function virtualHostName(namespace: string, service: string, port: number): string {
  return `${service}.${namespace}:${port}`;
}

/** Passthrough cluster for transparent mode: destinations outside the mesh keep working. */
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
