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
 * Outbound listener for the explicit mode (the application calls a local
 * Envoy port), one per service port number: `outbound:port`. All services
 * that share a port number share the listener and are told apart by Host.
 */
export function outboundListenerName(port: number): string {
  return `outbound:${port}`;
}

/** The single transparent-mode outbound listener (iptables redirect target). */
export const TRANSPARENT_OUTBOUND_LISTENER = 'outbound';
/** The single transparent-mode inbound listener (iptables redirect target). */
export const TRANSPARENT_INBOUND_LISTENER = 'inbound';

/** Inbound listener for one workload port in explicit mode: `inbound:port`. */
export function inboundListenerName(port: number): string {
  return `inbound:${port}`;
}

/** Route configuration shared by every outbound listener for `port`. */
export function outboundRouteName(port: number): string {
  return `outbound:${port}`;
}

/** Route configuration of the inbound listener for `port`. */
export function inboundRouteName(port: number): string {
  return `inbound:${port}`;
}

/**
 * Proxyless gRPC clients ask LDS for the target's authority as written in
 * `xds:///host:port`, so the listener is named exactly that
 * (`svc.ns.svc.cluster.local:8080`, or a shorter form the client used).
 */
export function proxylessListenerName(host: string, port: number): string {
  return `${host}:${port}`;
}

/**
 * SDS: a workload's certificate and key are named by the SPIFFE ID they
 * carry, so the name says whose secret it is and two identities can never
 * collide. The trust bundle has one well-known name.
 */
export function identitySecretName(spiffeId: string): string {
  return spiffeId;
}

export const TRUST_BUNDLE_SECRET = 'trellis-trust-bundle';
