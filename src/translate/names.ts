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
  return listenerOrChain.replace(/[:/]/g, '_');
}

/**
 * A Permissive workload's inbound port takes plaintext too, on a second
 * filter chain beside the mTLS one: `<chain or listener>/plaintext`
 * (`inbound:8080/plaintext`, stats `http.inbound_8080_plaintext.*`), so an
 * operator sees in the stats who still calls without mTLS before switching
 * the workload to Strict.
 */
export function plaintextChainName(chain: string): string {
  return `${chain}/plaintext`;
}

/**
 * Endpoint metadata key (under `envoy.transport_socket_match`) that marks an
 * endpoint without a sidecar, and the name of the cluster's transport socket
 * match that then connects to it in plaintext (translate/permissive.ts).
 */
export const PLAINTEXT_MATCH = 'plaintext';

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
/** Their cluster: ORIGINAL_DST from sidecar.ts INBOUND_PASSTHROUGH_SOURCE, which the redirect lets through. */
export const INBOUND_PASSTHROUGH_CLUSTER = 'inbound-passthrough';
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
 * TCP services (translate/tcp-listeners.ts). A TCP connection carries no
 * Host, so each service port needs its own way in:
 *   explicit mode: a listener per TCP service port the proxy may call,
 *     `outbound-tcp:svc.ns:port`, on the outbound address at the service port;
 *   transparent mode: filter chains of `outbound` matching the address the
 *     client dialled, `tcp:svc.ns:port` for the ClusterIP and
 *     `tcp:svc.ns:port/endpoints:<targetPort>` for the pods' own addresses.
 * Their tcp_proxy stat prefix is the same name with `_` for `:` and `/`
 * (`tcp.tcp_db.demo_5432.*`).
 */
export function outboundTcpListenerName(namespace: string, service: string, port: number): string {
  return `outbound-tcp:${outboundClusterName(namespace, service, port)}`;
}

export function outboundTcpChainName(namespace: string, service: string, port: number, endpointPort?: number): string {
  return `tcp:${outboundClusterName(namespace, service, port)}${endpointPort !== undefined ? `/endpoints:${endpointPort}` : ''}`;
}

export function tcpStatPrefix(listenerOrChain: string): string {
  return listenerOrChain.replace(/[:/]/g, '_');
}

/**
 * Transparent mode: a client that dials one pod of a TCP service (a
 * StatefulSet member, a headless service) must reach that pod, not any
 * endpoint, so its chain goes to `svc.ns:port/direct`, an ORIGINAL_DST
 * cluster with the service's mTLS: per service port, since the identities
 * its certificate must carry and the policy are the service port's.
 */
export function directClusterName(namespace: string, service: string, port: number): string {
  return `${outboundClusterName(namespace, service, port)}/direct`;
}

/**
 * Transparent mode, HTTP service ports routed by the address dialled
 * (http-destinations.ts): `http:svc.ns:port` for the ClusterIP (its route
 * configuration `outbound/svc.ns:port`), `http:svc.ns:port/endpoints:<targetPort>`
 * for the pods' own addresses.
 */
export function outboundHttpChainName(namespace: string, service: string, port: number, endpointPort?: number): string {
  return `http:${outboundClusterName(namespace, service, port)}${endpointPort !== undefined ? `/endpoints:${endpointPort}` : ''}`;
}

export function destinationRouteName(namespace: string, service: string, port: number): string {
  return `${OUTBOUND_ROUTE}/${outboundClusterName(namespace, service, port)}`;
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

/**
 * The name an outbound cluster's stats go by (its `alt_stat_name`), which
 * the sidecar's stats tags (translate/stats.ts) take apart into labels:
 * `outbound|<port>|<service>|<namespace>|<principals>|`, the principals being
 * the SPIFFE IDs of the service's workloads without `spiffe://` (Envoy turns
 * `://` and `:` into `_` in stat names), joined by `,`. So a metric names its
 * destination by service, namespace, port and identity, never by the cluster
 * name alone. `|` cannot occur in a Kubernetes name; the trailing `|` ends the
 * principals, which contain dots. Envoy's %UPSTREAM_CLUSTER% shows this name
 * too; access logs use %UPSTREAM_CLUSTER_RAW%, the cluster's own name.
 */
export function outboundClusterStatName(namespace: string, service: string, port: number, identities: readonly string[]): string {
  return `outbound|${port}|${service}|${namespace}|${identities.map(principalOf).join(',')}|`;
}

/** `spiffe://td/ns/x/sa/y` -> `td/ns/x/sa/y`: a SPIFFE ID as it can stand in a stat name. */
export function principalOf(spiffeId: string): string {
  return spiffeId.replace(/^spiffe:\/\//, '');
}

/**
 * A route's stat prefix: its name (above: `split/<name>/<match>`, ...) and a
 * `|` that ends it, since names may contain dots. Envoy keeps per-route stats
 * under `vhost.<virtual host>.route.<prefix>.`, which the stats tags take
 * apart into destination service, namespace, port and route.
 */
export function routeStatPrefix(route: string): string {
  return `${route}|`;
}

/**
 * The sidecar's Prometheus listener and the static cluster that reaches its
 * own admin page (bootstrap, not xDS: only the bootstrap knows the admin's
 * address). `_` in both, like the xDS cluster, so neither can equal a mesh name.
 */
export const STATS_LISTENER = 'trellis_stats';
export const ADMIN_CLUSTER = 'trellis_admin';

/** The OpenTelemetry collector's cluster (MeshConfig spec.tracing.collector), sent over CDS. */
export const TRACING_CLUSTER = 'trellis_otel_collector';

/** The bootstrap's runtime layer (Envoy's /runtime shows it by this name). */
export const BOOTSTRAP_RUNTIME_LAYER = 'static';

/**
 * The cluster a destination sidecar fetches a JWKS through (RequestAuthentication
 * `jwksUri`): `jwks|<scheme>|<host>|<port>`. Scheme, host and port are all that
 * make it unique (TLS and its SNI follow from them; the path is in the URL each
 * provider fetches), so issuers sharing a key host share one cluster. `|` cannot
 * occur in a host, nor in a mesh cluster name (`svc.ns:port`).
 */
export function jwksClusterName(scheme: 'http' | 'https', host: string, port: number): string {
  return `jwks|${scheme}|${host}|${port}`;
}

/**
 * A jwt_authn provider: the RequestAuthentication `ns/name` and the index of its
 * jwtRules entry. Providers are a map in the filter (one filter per port, one
 * RequestAuthentication per port), so the index is unique; the name leads an
 * operator reading Envoy's jwt_authn debug log back to the object and rule.
 */
export function jwtProviderName(namespace: string, name: string, index: number): string {
  return `${namespace}/${name}#${index}`;
}

/** The RBAC policy of one `rules` entry of a RequestAuthentication, `ns/name#index`, likewise. */
export function claimPolicyName(namespace: string, name: string, index: number): string {
  return `${namespace}/${name}#rule${index}`;
}

/**
 * The claim RBAC filter's name in an inbound connection manager and its stats
 * prefix (`http.<prefix>.rbac.claims.allowed`...; Envoy adds the dot): it is a second RBAC filter
 * beside the TrafficTarget one (`envoy.filters.http.rbac`), and the two must be
 * told apart in config dumps and stats.
 */
export const CLAIM_RBAC_FILTER = 'trellis.claim_rbac';
export const CLAIM_RBAC_STAT_PREFIX = 'claims';

/**
 * The cluster a sidecar reaches the rate limit service through (MeshConfig
 * spec.rateLimitService). One per proxy, whatever the service's address:
 * the filter names it, so an edited address changes the cluster, not the
 * listeners.
 */
export const RATELIMIT_CLUSTER = 'trellis_ratelimit';

/**
 * Stat prefixes of the fault and rate limit filters (`<prefix>.…` in Envoy's
 * stats): by direction, since one proxy has both, and the same on every
 * sidecar so a mesh-wide sum is one query. The connection limit's names the
 * listener or filter chain it guards.
 */
export const LOCAL_RATELIMIT_STAT_PREFIX = { inbound: 'inbound_local_ratelimit', outbound: 'outbound_local_ratelimit' } as const;
export const RATELIMIT_STAT_PREFIX = { inbound: 'inbound_ratelimit', outbound: 'outbound_ratelimit' } as const;
export function connectionLimitStatPrefix(listenerOrChain: string): string {
  return `connection_limit_${listenerOrChain.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/**
 * The descriptor key under which global limits are counted (the rate limit
 * service's config and the routes' generic_key actions must agree); the
 * value is the policy's (resolve/policies.ts withDescriptor).
 */
export const RATELIMIT_DESCRIPTOR_KEY = 'trellis_policy';

/**
 * The descriptor key of a per-caller bucket (a local limit with `perCaller`):
 * the value is the caller's SPIFFE ID, read from the verified client
 * certificate's URI SAN that the inbound connection manager writes into
 * x-forwarded-client-cert.
 */
export const CALLER_DESCRIPTOR_KEY = 'trellis_caller';

/**
 * Egress (translate/egress.ts). An ExternalService's cluster, virtual host
 * and (transparent mode, TLS and TCP ports) filter chain of the outbound
 * listener: `external/<host>:<port>` — a host and port belong to one
 * ExternalService (the model rejects a second), and the `/` can never be in
 * a mesh cluster's name (`svc.ns:port`), so a host such as `web.demo` cannot
 * collide with the mesh service of that name.
 */
export function externalName(host: string, port: number): string {
  return `external/${host}:${port}`;
}

/**
 * Explicit mode: the local listener of the ExternalServices' TLS and TCP
 * ports with one port number, `outbound-external:<port>` on the outbound
 * address (translate/egress-explicit.ts). It is named for the port alone:
 * several TLS hosts share it, told apart by SNI (its chains carry
 * `externalName`).
 */
export function externalListenerName(port: number): string {
  return `outbound-external:${port}`;
}

/** Its stat prefix: `external_<host>_<port>` (`tcp.external_api.example.com_443.*`). */
export function externalStatPrefix(host: string, port: number): string {
  return `external_${host}_${port}`;
}

/**
 * Transparent mode's outbound listener, besides the external chains: HTTP
 * (what http_inspector recognises) goes to the HTTP connection manager
 * (`outbound-http`); anything else not declared goes where it was going
 * (`egress-passthrough`, MeshConfig egress Passthrough) or is refused
 * (`egress-blocked`, RegistryOnly). HTTP to a host nothing declares meets
 * the catch-all virtual host of the same name in the route configuration.
 * Stat prefixes: `egress_passthrough`, `egress_blocked` (`egress_blocked.rbac.denied`
 * counts refused connections; `http.outbound.rq_direct_response` refused requests).
 */
export const OUTBOUND_HTTP_CHAIN = 'outbound-http';
export const EGRESS_PASSTHROUGH = 'egress-passthrough';
export const EGRESS_BLOCKED = 'egress-blocked';
/**
 * The share of a Gateway API TCPRoute's connections whose backend does not
 * exist: a cluster without endpoints, so tcp_proxy closes them
 * (`cluster.tcp-route-refused.upstream_cx_none_healthy` counts them).
 */
export const TCP_ROUTE_REFUSED = 'tcp-route-refused';
export const EGRESS_PASSTHROUGH_STAT_PREFIX = 'egress_passthrough';
export const EGRESS_BLOCKED_STAT_PREFIX = 'egress_blocked';
/** An ExternalService chain whose sources leave this caller out: `tcp` RBAC stats `external_denied.rbac.denied`. */
export const EXTERNAL_DENIED_STAT_PREFIX = 'external_denied';

/**
 * Proxyless gRPC security (gRFC A29): the certificate provider instance a
 * proxyless workload's bootstrap declares (`certificate_providers`), whose
 * files Trellis writes and renews (`trellis workload-certs`); clusters and
 * server listeners name it instead of carrying certificates.
 */
export const PROXYLESS_CERTIFICATE_PROVIDER = 'trellis';

/**
 * An xDS-enabled gRPC server (gRFC A36) asks LDS for the listener of the
 * address it listens on, by its bootstrap's `server_listener_resource_name_template`
 * with `%s` the address (`10.0.0.5:50051`, `0.0.0.0:50051`, `[::]:50051`).
 */
export const PROXYLESS_SERVER_LISTENER_TEMPLATE = 'trellis/server?address=%s';

export function proxylessServerListenerName(address: string, port: number): string {
  return PROXYLESS_SERVER_LISTENER_TEMPLATE.replace('%s', `${address.includes(':') ? `[${address}]` : address}:${port}`);
}

/**
 * A Trellis gateway (docs/gateway-api.md "North-south"): one listener per
 * port of the Gateway, `gateway_<port>`, whatever its listeners are called
 * (Gateway API listeners that share a port are one Envoy listener). Its HTTP
 * routes are one route configuration per port; an HTTPS port has one per
 * Gateway listener (each is a filter chain of its own, chosen by SNI), so
 * the listener's name is in it. `_` never occurs in a mesh cluster or
 * listener name, so these never collide with a sidecar's.
 */
export function gatewayListenerName(port: number): string {
  return `gateway_${port}`;
}

/**
 * A TLS passthrough or TCP port's filter chain for one route on one Gateway
 * listener (`<listener>/<Kind>/<ns>/<name>`): what a config dump shows for
 * the SNI names that route takes. `<listener>/refused` when none attached.
 */
export function gatewayStreamChainName(listener: string, route?: { kind: string; namespace: string; name: string }): string {
  return route ? `${listener}/${route.kind}/${route.namespace}/${route.name}` : `${listener}/refused`;
}

export function gatewayRouteConfigName(port: number, listener?: string): string {
  return listener === undefined ? `gateway_${port}` : `gateway_${port}_${listener}`;
}

/** A virtual host of a gateway route configuration: its listener and the host it takes (`*`: any). */
export function gatewayVirtualHostName(listener: string, host: string): string {
  return `${listener}|${host}`;
}

/**
 * The certificate a gateway's HTTPS listener presents: the Secret's
 * namespace and name, so two listeners naming one Secret share it, and the
 * name says where the operator wrote it. Owned by the gateway's identity
 * (runtime/proxy-resources.ts): no other stream receives it.
 */
export function gatewayCertificateSecretName(namespace: string, secret: string): string {
  return `gateway-certificate/${namespace}/${secret}`;
}
