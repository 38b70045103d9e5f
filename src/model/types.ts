/**
 * The mesh model: what the translator reads to build each proxy's Envoy
 * config. Everything here is resolved and valid — references point at things
 * that exist, defaults are applied, lists are sorted — so the translator
 * never re-validates and never has to handle operator mistakes.
 *
 * Keys: a namespaced object is keyed `namespace/name` within its kind
 * (`ObjectKey`); identities are keyed by SPIFFE ID. Maps iterate in key order.
 */

export type ObjectKey = string;
export type Labels = Readonly<Record<string, string>>;

/**
 * How a service port's traffic is proxied. `auto`: undeclared (no
 * appProtocol, no protocol-naming port name): HTTP/1.x and h2c are detected
 * per connection and proxied as HTTP, anything else as TCP (translate/detect.ts).
 */
export type AppProtocol = 'http' | 'http2' | 'grpc' | 'tcp' | 'auto';

/**
 * What a workload's inbound ports accept: strict, mTLS only; permissive, mTLS
 * and plaintext on the same port (a plaintext caller has no identity).
 */
export type MtlsMode = 'strict' | 'permissive';

export interface MeshModel {
  mesh: MeshSettings;
  services: ReadonlyMap<ObjectKey, MeshService>;
  workloads: ReadonlyMap<ObjectKey, Workload>;
  identities: ReadonlyMap<string, Identity>;
  routeGroups: ReadonlyMap<ObjectKey, RouteGroup>;
  /** Accepted TrafficSplits by their own key; `MeshService.splits` lists them per root service. */
  splits: ReadonlyMap<ObjectKey, Split>;
  /** Accepted TrafficTargets by their own key. */
  accessRules: ReadonlyMap<ObjectKey, AccessRule>;
  /** TrafficTargets by destination SPIFFE ID (the inbound side's question: who may call me?). */
  accessByDestination: ReadonlyMap<string, readonly AccessRule[]>;
  /** Accepted TrafficPolicies by their own key; their effect is in `ServicePort.policy` and `.clusterPolicy`. */
  policies: ReadonlyMap<ObjectKey, PolicyIntent>;
  /** Accepted RequestAuthentications by their own key; their effect is in `ServedPort.authentication`. */
  authentications: ReadonlyMap<ObjectKey, RequestAuthn>;
  /** Namespaces declared or used by any object. */
  namespaces: readonly string[];
  /** Accepted ExternalServices by their own key (destinations outside the mesh). */
  externalServices: ReadonlyMap<ObjectKey, ExternalService>;
  /** Gateways of Trellis's GatewayClasses, by their own key: what each gateway proxy serves (north-south). */
  gateways: ReadonlyMap<ObjectKey, MeshGateway>;
  /** Accepted Rollouts by their own key; their weights are already in the splits and routes they drive. */
  rollouts: ReadonlyMap<ObjectKey, MeshRollout>;
}

/**
 * A Gateway Trellis programs (docs/gateway-api.md "North-south"): its
 * listeners grouped by port, with the routes attached to each. The gateway is
 * a mesh member: it calls backends over mTLS as `identity`.
 */
export interface MeshGateway {
  key: ObjectKey;
  namespace: string;
  name: string;
  /** The service account it runs as (annotation trellis.io/service-account, default the Gateway's name). */
  serviceAccount: string;
  /** `spiffe://<trust-domain>/ns/<ns>/sa/<serviceAccount>` */
  identity: string;
  /** Sorted by port; only ports with at least one programmed listener. */
  ports: readonly GatewayPort[];
  /** A RequestAuthentication targeting it: every listener checks tokens so (issue 15). */
  authentication?: RequestAuthn;
}

export interface GatewayPort {
  port: number;
  /** TLS: passthrough, routed by SNI (TLSRoute); TCP: one TCPRoute's backends. */
  protocol: 'HTTP' | 'HTTPS' | 'TLS' | 'TCP';
  /** Its programmed listeners, in the Gateway's order. */
  listeners: readonly GatewayListener[];
}

export interface GatewayListener {
  name: string;
  /** Absent: any host. */
  hostname?: string;
  /** HTTPS: the certificates it presents (at least one). */
  certificates: readonly GatewayCertificate[];
  /** Attached routes, oldest first (the order that breaks precedence ties). */
  routes: readonly GatewayRoute[];
  /** TLS and TCP listeners: the TLSRoutes (each SNI name once) or the one TCPRoute attached, oldest first. */
  streams: readonly GatewayStreamRoute[];
}

/** A TLSRoute or TCPRoute as attached to one TLS or TCP listener: where its connections go. */
export interface GatewayStreamRoute {
  kind: 'TLSRoute' | 'TCPRoute';
  namespace: string;
  name: string;
  /** TLSRoute: the SNI names it takes on this listener (its hostnames intersected with the listener's, none another route took first). */
  hostnames: readonly string[];
  /** Positive weights only; none: every connection is refused. */
  backends: readonly TcpRouteBackend[];
}

/** A kubernetes.io/tls Secret's pair. The key goes only into that gateway's SDS secret. */
export interface GatewayCertificate {
  /** The Secret's `namespace/name`. */
  secret: ObjectKey;
  certificateChainPem: string;
  privateKeyPem: string;
}

/** An HTTPRoute or GRPCRoute as attached to one listener. */
export interface GatewayRoute {
  kind: 'HTTPRoute' | 'GRPCRoute';
  namespace: string;
  name: string;
  /** The route's hostnames intersected with the listener's; empty: every host the listener takes. */
  hostnames: readonly string[];
  rules: readonly MeshRouteRule[];
}

/** A destination outside the mesh, declared by an ExternalService (docs/intents.md "Egress"). */
export interface ExternalService {
  key: ObjectKey;
  namespace: string;
  name: string;
  /** DNS names, as the application writes them (Host header, SNI). */
  hosts: readonly string[];
  ports: readonly ExternalPort[];
  /** CIDRs (`a.b.c.d/n`) a TCP port's connections go to; empty: matched by port alone. */
  addresses: readonly string[];
  /**
   * TLS origination on the HTTP and TCP ports: the sidecar speaks TLS to the
   * service (SNI `sni`, default the host), its certificate checked against
   * this bundle and for the name `subjectAltName` (default the SNI).
   */
  tls?: { caBundlePem: string; sni?: string; subjectAltName?: string };
  /** SPIFFE IDs that may reach it; undefined: the mesh's authorization mode decides (permissive: all, strict: none). */
  sources?: readonly string[];
  /** Timeouts, retries, circuit breaking and outlier detection, as a TrafficPolicy writes them. */
  policy: PolicySettings;
}

export interface ExternalPort {
  name?: string;
  port: number;
  targetPort: number;
  protocol: 'HTTP' | 'TLS' | 'TCP';
}

export interface MeshSettings {
  trustDomain: string;
  /** permissive: every mesh identity may call; strict: only what TrafficTargets allow. mTLS is on in both. */
  authorization: 'permissive' | 'strict';
  certificateLifetimeMs: number;
  /** Where global rate limits are counted; absent: none may be written. */
  rateLimitService?: RateLimitService;
  /** The inbound mTLS mode of workloads no MTLSPolicy covers (MeshConfig spec.mtls.mode; default strict). */
  mtls: MtlsMode;
  /**
   * Transparent mode, connections to destinations outside the mesh that no
   * ExternalService declares: passed through (default), or refused.
   */
  egress: 'passthrough' | 'registryOnly';
  /** The MeshConfig these settings came from; absent when defaults apply. */
  source?: string;
  /** Access logs of the sidecars (docs/telemetry.md); absent: off everywhere. */
  accessLog?: AccessLogPolicy;
  /** OpenTelemetry tracing of every sidecar; absent: off. */
  tracing?: TracingSettings;
}

/** Where a sidecar writes its access log: off, or JSON lines to stdout, stderr or a file. */
export type AccessLogSettings = { format: 'off' } | { format: 'json'; path: string };

/** The mesh-wide setting and its overrides (telemetry.ts accessLogOf picks the one for a workload). */
export interface AccessLogPolicy {
  mesh: AccessLogSettings;
  /** In the order written; a selector's override beats a whole namespace's. */
  overrides: readonly AccessLogOverride[];
}

export interface AccessLogOverride {
  namespace: string;
  /** matchLabels of the pods it is for; absent: every pod of the namespace. */
  selector?: Labels;
  settings: AccessLogSettings;
}

export interface TracingSettings {
  /** OTLP/gRPC collector. */
  collector: { host: string; port: number };
  /** Share of requests without a sampling decision that are traced, 0-100. */
  samplingPercent: number;
}

export interface MeshService {
  key: ObjectKey;
  namespace: string;
  name: string;
  labels: Labels;
  selector?: Labels;
  clusterIP?: string;
  /** Sorted by port number. Only TCP ports: UDP and SCTP are not proxied. */
  ports: readonly ServicePort[];
  /** SPIFFE IDs of the workloads with a sidecar behind this service's endpoints, sorted: what callers check. */
  identities: readonly string[];
  /**
   * Keys of the TrafficSplits rooted at this service, in the order a router
   * must try them: those with matches first (by name), then the one without.
   */
  splits: readonly ObjectKey[];
  /**
   * Gateway API routes whose parentRefs name this service (GAMMA, GEP-1294),
   * oldest first (creationTimestamp, then namespace/name): the order that
   * breaks precedence ties. Where they apply to a port, they replace the
   * service's TrafficSplits there (docs/gateway-api.md).
   */
  routes: readonly MeshRoute[];
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort: number | string;
  appProtocol?: string;
  /** From appProtocol, else the port name's prefix (`http-`, `grpc-`, …), else http. */
  protocol: AppProtocol;
  /** Sorted by address then port; includes not-ready endpoints (with their state). */
  endpoints: readonly Endpoint[];
  /**
   * The TrafficPolicy written for this port (service-wide merged with
   * port-specific), if any: what callers' routes to this service apply.
   */
  policy?: EffectivePolicy;
  /**
   * The policy this port's cluster follows: `policy`, else the one it inherits
   * as the backend of a TrafficSplit (resolve/policies.ts `clusterPolicies`).
   * Traffic sent to a root lands on its backends' clusters, so the circuit
   * breakers, outlier detection, load balancing and locality written for the
   * root hold there.
   */
  clusterPolicy?: EffectivePolicy;
  /**
   * Set when some (or all) of the endpoints have no sidecar (`Endpoint.plaintext`):
   * meshed callers then use plaintext to those (translate/permissive.ts). A
   * fact derived from the endpoints, kept here so what a caller's cluster
   * depends on is in the port's content.
   */
  plaintext?: 'some' | 'all';
  /**
   * The Gateway API TCPRoute attached to this (TCP) port, if any: callers'
   * connections to it go to the route's backends (resolve/mesh-tcp-routes.ts).
   */
  tcpRoute?: MeshTcpRoute;
}

/**
 * A Gateway API TCPRoute attached to a Service's TCP port (GAMMA), resolved:
 * the oldest one on the port (the others are Conflicted). Producer routes
 * only: a TCP connection is routed for every caller alike.
 */
export interface MeshTcpRoute {
  namespace: string;
  name: string;
  /** Positive weights only; none: every connection is refused. */
  backends: readonly TcpRouteBackend[];
}

export interface TcpRouteBackend extends RouteBackendRef {
  weight: number;
  /** False: no such TCP Service port (ResolvedRefs=False, BackendNotFound): its share of connections is refused. */
  found: boolean;
}

export interface Endpoint {
  address: string;
  /** The port to connect to (the resolved targetPort). */
  port: number;
  /** EndpointSlice conditions; an unset `ready`/`serving` counts as true, unset `terminating` as false. */
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  zone?: string;
  nodeName?: string;
  hostname?: string;
  /** The pod behind this address, when known. */
  workload?: ObjectKey;
  /** SPIFFE ID of that pod, when known (its service account's; what the caller must see in the server certificate if it has a sidecar). */
  identity?: string;
  /**
   * No sidecar behind this address: a pod opted out of injection, or (with the
   * Service's `trellis.io/unmeshed-endpoints: plaintext`) no pod Trellis knows.
   * Meshed callers use plaintext to it.
   */
  plaintext?: true;
}

export interface Workload {
  key: ObjectKey;
  namespace: string;
  name: string;
  labels: Labels;
  serviceAccount: string;
  /** `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` */
  identity: string;
  /** Primary IP (status.podIP); absent until the pod has one. */
  ip?: string;
  ips: readonly string[];
  ports: readonly WorkloadPort[];
  /** Pod Ready condition (true when the source carries no status but the pod has an IP). */
  ready: boolean;
  /** Set when the pod is being deleted. */
  terminating: boolean;
  /** False for a pod opted out of injection (`trellis.io/inject: "false"`): no sidecar, no certificate. */
  sidecar: boolean;
  /** What its inbound ports accept: its MTLSPolicy (pod, then service, then namespace), else the mesh's. */
  mtls: MtlsMode;
  /** From an EndpointSlice endpoint for this pod, else the `topology.kubernetes.io/zone` label. */
  zone?: string;
  /** Services that select this pod or list it as an endpoint, sorted. */
  services: readonly ObjectKey[];
  /**
   * The TCP ports of those services, in that order: what this workload's
   * inbound listeners serve. Endpoints and policies are left out: they belong
   * to the callers' side.
   */
  servedPorts: readonly ServedPort[];
}

export interface ServedPort {
  service: ObjectKey;
  name?: string;
  /** The service port callers name. */
  port: number;
  /** The port the application listens on: the targetPort, a name resolved to this workload's container port of that name (else `port`). */
  targetPort: number;
  protocol: AppProtocol;
  /**
   * The RequestAuthentication this port's inbound side enforces (the port's
   * own, else the service-wide one), if any. Carried here, in the workload,
   * because it shapes the workload's own listeners (and so its signature).
   */
  authentication?: RequestAuthn;
  /** The limits its service port's TrafficPolicy counts here, at the server (resolve/server-limits.ts). */
  limits?: ServerLimits;
}

/**
 * What a server's sidecar enforces on one port it serves: the Server-side
 * rate limits of the port's policy, per port and per route section, and its
 * connection cap. On the workload, so that the workload's own config follows
 * an edit of a policy of a service it serves, whoever may call it.
 */
export interface ServerLimits {
  local?: LocalRateLimit;
  global?: GlobalRateLimit;
  connections?: { max: number };
  /** With a `perCaller` bucket: the SPIFFE IDs that get one each (every identity of the mesh), sorted. */
  callers?: readonly string[];
  /** Route sections with Server-side limits, in policy order (first match wins). */
  routes: readonly { matches: readonly HttpMatch[]; local?: LocalRateLimit; global?: GlobalRateLimit; from: ObjectKey }[];
}

export interface WorkloadPort {
  container: string;
  name?: string;
  containerPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface Identity {
  spiffeId: string;
  namespace: string;
  serviceAccount: string;
  /** A ServiceAccount object exists (identities are also implied by pods that use them). */
  declared: boolean;
  workloads: readonly ObjectKey[];
  /** Services whose endpoints run as this identity. */
  services: readonly ObjectKey[];
}

export interface IdentityRef {
  spiffeId: string;
  namespace: string;
  serviceAccount: string;
}

/** One SMI HTTPRouteGroup match, resolved. All present conditions must hold. */
export interface HttpMatch {
  /** The HTTPRouteGroup it came from. */
  group: ObjectKey;
  name: string;
  /** RE2, matched against the whole path (SMI anchors it at the start; Envoy's safe_regex matches the whole path). */
  pathRegex?: string;
  /** Upper-case methods; empty means any method (SMI `*`). */
  methods: readonly string[];
  /** Header name (lower-case) to an RE2 regex its value must match. */
  headers: readonly { name: string; valueRegex: string }[];
}

export interface RouteGroup {
  key: ObjectKey;
  namespace: string;
  name: string;
  matches: readonly HttpMatch[];
}

export interface Split {
  key: ObjectKey;
  namespace: string;
  name: string;
  /** The root service clients call. */
  service: ObjectKey;
  /** Empty: applies to every request; else only to requests that match one of these. */
  matches: readonly HttpMatch[];
  /** Only backends that exist; weights are whole numbers, at least one is positive. */
  backends: readonly SplitBackend[];
}

export interface SplitBackend {
  service: ObjectKey;
  weight: number;
  /**
   * Root service port numbers this backend also exposes (SMI: a backend takes
   * a port's traffic only if it has the same port number).
   */
  ports: readonly number[];
}

export interface AccessRule {
  key: ObjectKey;
  namespace: string;
  name: string;
  destination: IdentityRef & { port?: number };
  sources: readonly IdentityRef[];
  /**
   * undefined (no rules): every request is allowed; else a request must match
   * one of these (none: the rules were all TCPRoutes, so no HTTP request is).
   */
  routes?: readonly HttpMatch[];
  /**
   * Connections to TCP ports (resolve/tcp-routes.ts). undefined (no rules):
   * every connection is allowed; else one must be to a port one of these
   * allows (none: the rules were all HTTPRouteGroups, so no TCP connection is).
   */
  tcpRoutes?: readonly TcpMatch[];
}

/**
 * One TCPRoute a TrafficTarget names, resolved: SMI's
 * specs.smi-spec.io TCPRoute today; the Gateway API TCPRoute for mesh can
 * feed the same shape (a route and the ports it allows).
 */
export interface TcpMatch {
  /** The route it came from (`namespace/name`). */
  route: ObjectKey;
  /** Destination ports, service ports or targetPorts; empty: every port. */
  ports: readonly number[];
}

export interface Timeouts {
  /** Whole request, retries included. */
  requestMs?: number;
  /** Each attempt. */
  perTryMs?: number;
  /** Idle stream/connection (HTTP: the route's stream idle timeout; TCP: tcp_proxy's idle_timeout). */
  idleMs?: number;
  /** Establishing a connection to an endpoint (the cluster's connect_timeout; port-wide only). */
  connectMs?: number;
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  attempts: number;
  /** Envoy retry-on conditions (x-envoy-retry-on / x-envoy-retry-grpc-on names). */
  retryOn: readonly string[];
  retriableStatusCodes: readonly number[];
  /** Only requests with these methods are retried (default: the idempotent ones). */
  methods: readonly string[];
  /** Cluster-wide cap on concurrent retries (service or port level only). */
  budget?: { percent: number; minConcurrency: number };
  /**
   * Hedging: when an attempt outlives the per-try timeout, send another one
   * without cancelling it; the first answer wins. Only on routes whose retried
   * methods are all idempotent, with a per-try timeout (validated).
   */
  hedgeOnPerTryTimeout?: boolean;
  /** Back off as the upstream's Retry-After says (on retriable status codes such as 429), up to this. */
  retryAfter?: { maxIntervalMs: number };
}

/** Active health checking of a service port's endpoints, by each caller's sidecar. */
export interface HealthCheck {
  check: { http: { path: string; host?: string; expectedStatuses: readonly { start: number; end: number }[] } } | { grpc: { service: string } } | { tcp: Record<string, never> };
  intervalMs: number;
  timeoutMs: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
}

export interface CircuitBreaker {
  maxConnections?: number;
  maxPendingRequests?: number;
  maxRequests?: number;
  maxRetries?: number;
}

export interface OutlierDetection {
  consecutive5xx?: number;
  consecutiveGatewayErrors?: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
}

export type HashOn = { header: string } | { cookie: { name: string; ttlMs?: number; path?: string } };

export interface LoadBalancer {
  policy: 'RoundRobin' | 'LeastRequest' | 'RingHash';
  /** LeastRequest: how many random hosts to compare. */
  choiceCount?: number;
  /** RingHash: what makes a request sticky. */
  hashOn?: HashOn;
  minimumRingSize?: number;
}

export interface Locality {
  /** PreferSameZone: endpoints in the caller's zone first, other zones only when those fail. */
  mode: 'PreferSameZone' | 'None';
}

/**
 * Fault injection (issue 15), applied by callers' sidecars: a share of
 * requests is delayed and/or aborted; only those with `headers`, when set.
 */
export interface Fault {
  delay?: { percent: number; delayMs: number };
  abort?: { percent: number } & ({ httpStatus: number } | { grpcStatus: number });
  /** Exact header values a request must carry to be eligible (lower-case names), sorted by name. */
  headers: readonly { name: string; value: string }[];
}

/** Where a limit is counted: each instance of the service (Server) or each caller's sidecar (Client). */
export type LimitSide = 'Server' | 'Client';
export type LimitUnit = 'second' | 'minute' | 'hour' | 'day';

/** A token bucket at each sidecar on `at`: `requests` per `unit`, bursts up to `burst`. */
export interface LocalRateLimit {
  requests: number;
  unit: Exclude<LimitUnit, 'day'>;
  burst: number;
  at: LimitSide;
  /** Server side: one bucket per caller identity (ServerLimits.callers), not one for all. */
  perCaller?: boolean;
}

/** Counted mesh-wide by the rate limit service (MeshSettings.rateLimitService). */
export interface GlobalRateLimit {
  requests: number;
  unit: LimitUnit;
  at: LimitSide;
  /** The descriptor value the counter is kept under: unique per policy (and route). */
  descriptor: string;
}

export interface RateLimit {
  local?: LocalRateLimit;
  global?: GlobalRateLimit;
  /** Concurrent inbound connections per instance of the service (port level only). */
  connections?: { max: number };
}

/** Where sidecars send global rate limit checks: an envoyproxy/ratelimit (or compatible) gRPC service. */
export interface RateLimitService {
  host: string;
  port: number;
  domain: string;
  /** Refuse requests (Envoy answers 500) while the service cannot be reached; default false: let them through. */
  failClosed: boolean;
  timeoutMs: number;
}

export interface RoutePolicy {
  /** The request matches this policy applies to (first matching route policy wins). */
  matches: readonly HttpMatch[];
  timeouts?: Timeouts;
  retries?: RetryPolicy;
  fault?: Fault;
  rateLimit?: RateLimit;
  /** The TrafficPolicy it came from. */
  from: ObjectKey;
}

export interface PolicySettings {
  timeouts?: Timeouts;
  retries?: RetryPolicy;
  circuitBreaker?: CircuitBreaker;
  outlierDetection?: OutlierDetection;
  loadBalancer?: LoadBalancer;
  locality?: Locality;
  healthCheck?: HealthCheck;
  fault?: Fault;
  rateLimit?: RateLimit;
}

/** An accepted TrafficPolicy, resolved. */
export interface PolicyIntent extends PolicySettings {
  key: ObjectKey;
  namespace: string;
  name: string;
  service: ObjectKey;
  /** The port it is limited to; absent: every port of the service. */
  port?: number;
  routes: readonly RoutePolicy[];
}

/** What applies to one service port: port-specific sections override service-wide ones. */
export interface EffectivePolicy extends PolicySettings {
  /** Contributing TrafficPolicies, service-wide first. */
  from: readonly ObjectKey[];
  /** Port-specific route policies first, then service-wide ones. */
  routes: readonly RoutePolicy[];
}

/** Where a JWT is read from: a header (with a value prefix such as `Bearer `) or a query parameter. */
export interface JwtLocation {
  header?: { name: string; prefix?: string };
  param?: string;
}

/** One trusted token issuer of a RequestAuthentication. */
export interface JwtRule {
  issuer: string;
  /** The token's `aud` must include one of these; empty: any audience. */
  audiences: readonly string[];
  jwks: { inline: string } | { uri: string; scheme: 'http' | 'https'; host: string; port: number; path: string; cacheDurationMs: number; timeoutMs: number };
  /** Default: the Authorization header with prefix `Bearer `. */
  from: readonly JwtLocation[];
  forwardOriginalToken: boolean;
  claimToHeaders: readonly { header: string; claim: string }[];
}

/** One claim condition: the claim equals one of `values`, or (a list, or a space-delimited `scope`) contains one. */
export interface ClaimMatch {
  claim: string;
  values: readonly string[];
}

/** Who may call, by token claims (and optionally caller identity): every condition of a rule must hold. */
export interface ClaimRule {
  claims: readonly ClaimMatch[];
  /** Caller identities; empty: any. */
  sources: readonly IdentityRef[];
}

/** An accepted RequestAuthentication, resolved. */
export interface RequestAuthn {
  key: ObjectKey;
  namespace: string;
  name: string;
  /** What it targets: a Service's sidecars, or a Gateway (its ingress gateway's listeners). */
  service?: ObjectKey;
  gateway?: ObjectKey;
  /** The port it is limited to; absent: every HTTP port of the service. */
  port?: number;
  jwtRules: readonly JwtRule[];
  /**
   * undefined: a token is optional, but one that is present must be valid.
   * Else a request needs a valid token and must match one rule.
   */
  rules?: readonly ClaimRule[];
}

/**
 * A Gateway API HTTPRoute or GRPCRoute attached to a Service (GAMMA),
 * resolved. A producer route (in the service's namespace) applies to every
 * caller; a consumer route (another namespace) only to callers in its own
 * namespace, and for them replaces the producer routes (GEP-1294).
 */
export interface MeshRoute {
  kind: 'HTTPRoute' | 'GRPCRoute';
  namespace: string;
  name: string;
  consumer: boolean;
  /** The service ports it is attached to (parentRef.port); empty: every port. */
  ports: readonly number[];
  rules: readonly MeshRouteRule[];
}

export interface MeshRouteRule {
  /** The rule's name, else its index in the route. */
  name: string;
  /** At least one (the default match, PathPrefix "/", is filled in); a gRPC method match is a path match here. */
  matches: readonly GatewayMatch[];
  filters: readonly RouteFilter[];
  /**
   * Every backendRef, weight 0 included (like a TrafficSplit's backends: in callers' scope, and their
   * clusters inherit the parent's policy). None that exists with a positive weight: every request
   * matching the rule gets 500, unless a redirect answers it.
   */
  backends: readonly RouteBackend[];
  timeouts?: { requestMs?: number; backendRequestMs?: number };
}

export interface GatewayMatch {
  path: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
  headers: readonly ValueMatch[];
  queryParams: readonly ValueMatch[];
  method?: string;
}

export interface ValueMatch {
  type: 'Exact' | 'RegularExpression';
  /** Headers: lower-case. */
  name: string;
  value: string;
}

export interface HeaderModifier {
  set: readonly { name: string; value: string }[];
  add: readonly { name: string; value: string }[];
  remove: readonly string[];
}

export type PathModifier = { type: 'ReplaceFullPath' | 'ReplacePrefixMatch'; value: string };

export type RouteFilter =
  | { type: 'RequestHeaderModifier' | 'ResponseHeaderModifier'; modifier: HeaderModifier }
  | { type: 'RequestRedirect'; scheme?: string; hostname?: string; port?: number; path?: PathModifier; statusCode: number }
  | { type: 'URLRewrite'; hostname?: string; path?: PathModifier }
  /** `percent` of requests, as a fraction: numerator / denominator. */
  | { type: 'RequestMirror'; backend: RouteBackendRef; numerator: number; denominator: number };

export interface RouteBackendRef {
  namespace: string;
  name: string;
  port: number;
}

export interface RouteBackend extends RouteBackendRef {
  weight: number;
  /** False: the Service or its port does not exist (ResolvedRefs=False, BackendNotFound); its share of requests gets 500. */
  found: boolean;
  /** Backend-level filters: header modifiers only. */
  filters: readonly RouteFilter[];
}

/**
 * An accepted Rollout (docs/intents.md "Rollout"), resolved: its services
 * exist, it drives a TrafficSplit or HTTPRoute rule that has both backends,
 * and it is the only Rollout of its service. `canaryWeight` is the weight the
 * model serves now (the progress the controller handed the build, when it is
 * of this revision; else 0); the driven object's weights are already replaced.
 */
export interface MeshRollout {
  key: ObjectKey;
  namespace: string;
  name: string;
  service: ObjectKey;
  stable: ObjectKey;
  canary: ObjectKey;
  target: { kind: 'TrafficSplit' | 'HTTPRoute'; name: string; rule?: string };
  steps: readonly { weight: number; pauseMs: number }[];
  analysis: { windowMs: number; intervalMs: number; minRequests: number; successRatePercent?: number; latencyP99Ms?: number };
  /** A digest of the spec: progress recorded for another revision does not apply (an edited Rollout starts over). */
  revision: string;
  canaryWeight: number;
}

/** What the rollout controller has set, per Rollout key: a model input (BuildOptions.rolloutProgress). */
export interface RolloutWeight {
  revision: string;
  canaryWeight: number;
}
