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
 * SNI a sidecar sends to a service's pods: the service's FQDN, the name the
 * caller meant, so a TLS-aware hop or a packet capture can tell which service
 * was called. Nothing routes on it: the server side matches on the port, and
 * the client checks the peer by SPIFFE ID, not by this name.
 */
export function upstreamSni(namespace: string, service: string): string {
  return serviceFqdn(namespace, service);
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

/**
 * An EDS resource is named by its cluster (the cluster's own name as its
 * service_name), except for a cluster whose policy prefers the caller's
 * zone: `cluster@zone`, the same endpoints with the caller's zone at
 * priority 0 and the others at 1 (failover), so one resource per
 * (cluster, zone) rather than per caller.
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
 * Stat prefixes of the HTTP connection managers: Envoy's stats read
 * `http.<prefix>.*`, so each says which way the traffic goes. `outbound` for
 * the sidecar's outbound listener; `proxyless` for the API listeners of gRPC
 * clients (which keep no such stats, but the field is required).
 */
export const OUTBOUND_STAT_PREFIX = 'outbound';
export const PROXYLESS_STAT_PREFIX = 'proxyless';

/**
 * Explicit mode: inbound listener for one service port of the workload,
 * `inbound:port`, bound on the pod address.
 */
export function inboundListenerName(port: number): string {
  return `inbound:${port}`;
}

/**
 * An inbound HTTP connection manager's stat prefix: its listener's or filter
 * chain's name with `_` for `:` (`inbound_8080`), since `:` is the value
 * separator of statsd lines and awkward in metric names. Its inline route
 * configuration takes the listener's or filter chain's own name: one per port.
 */
export function inboundStatPrefix(listenerOrChain: string): string {
  return listenerOrChain.replace(':', '_');
}

/** The one virtual host of an inbound route configuration: everything goes to the application. */
export const INBOUND_VIRTUAL_HOST = 'app';

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

/** Stat prefixes of those two chains' TCP proxies (and the refusing RBAC filter): `tcp.inbound_passthrough.*`. */
export const INBOUND_PASSTHROUGH_STAT_PREFIX = 'inbound_passthrough';
export const INBOUND_DIRECT_STAT_PREFIX = 'inbound_direct';

/** Virtual host of one service port in the outbound route configuration. */
export function virtualHostName(namespace: string, service: string, port: number): string {
  return `${service}.${namespace}:${port}`;
}

/**
 * Routes of a virtual host, named for the intent that made them, so a route
 * in a config dump or an access log (%ROUTE_NAME%) leads back to its YAML.
 * Names are unique within their virtual host (one service port): a split or
 * policy is named within the service's namespace, and its match by its name
 * in the HTTPRouteGroup, or its index when it has none.
 *   `split/<TrafficSplit>/<match>`   a TrafficSplit with matches (a canary)
 *   `policy/<TrafficPolicy>/<match>` a TrafficPolicy route section
 *   `default`                        everything else
 */
export function splitRouteName(split: string, match: string | number): string {
  return `split/${split}/${match}`;
}

export function policyRouteName(policy: string, match: string | number): string {
  return `policy/${policy}/${match}`;
}

export const DEFAULT_ROUTE = 'default';

/**
 * A Gateway API route's rule match: `<kind>/<ns>/<route>/<rule>/<match>`, the
 * kind lower-case (`httproute/demo/web/canary/0`). The namespace is in the
 * name because a consumer route lives in another namespace than the service
 * whose virtual host holds it; the rule is its name, else its index.
 */
export function meshRouteName(kind: string, namespace: string, route: string, rule: string, match: number): string {
  return `${kind.toLowerCase()}/${namespace}/${route}/${rule}/${match}`;
}

/**
 * The twin of a Gateway API route that answers the share of its requests
 * whose backends do not exist with 500: `<route>/backend-not-found`.
 */
export function missingBackendsRouteName(route: string): string {
  return `${route}/backend-not-found`;
}

/**
 * When retries are limited to some methods, a route is doubled: `<route>/retry`
 * matches those methods and retries, `<route>` takes the rest without.
 */
export function retryRouteName(route: string): string {
  return `${route}/retry`;
}

/**
 * RBAC policy of one TrafficTarget, `ns/name`: policies are a map in the
 * filter, so the key must be unique, and a TrafficTarget is unique by
 * namespace and name; an operator reading the config dump (or Envoy's RBAC
 * debug log) is led back to the TrafficTarget that allows the callers.
 */
export function rbacPolicyName(namespace: string, trafficTarget: string): string {
  return `${namespace}/${trafficTarget}`;
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

/**
 * The bootstrap's one static cluster, the xDS server: named for Trellis and
 * with `_`, so it can never equal a mesh cluster (`svc.ns:port`, `inbound:port`,
 * `passthrough`). A bootstrap that dials through the Google gRPC client (a
 * token file) has no such cluster and uses the name as its stat prefix.
 */
export const XDS_CLUSTER = 'trellis_xds';

/**
 * SNI a sidecar sends to the xDS server: a DNS name the control plane's
 * serving certificate always carries (runtime/security.ts). The sidecar
 * accepts the server by its SPIFFE ID; the name only has to be one the
 * certificate holds, whatever address the sidecar dials.
 */
export const XDS_SERVER_NAME = 'trellis';

/** The bootstrap's runtime layer (Envoy's /runtime shows it by this name). */
export const BOOTSTRAP_RUNTIME_LAYER = 'static';
