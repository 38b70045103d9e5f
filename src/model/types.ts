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

/** How a service port's traffic is proxied. */
export type AppProtocol = 'http' | 'http2' | 'grpc' | 'tcp';

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
  /** Namespaces declared or used by any object. */
  namespaces: readonly string[];
}

export interface MeshSettings {
  trustDomain: string;
  /** permissive: every mesh identity may call; strict: only what TrafficTargets allow. mTLS is on in both. */
  authorization: 'permissive' | 'strict';
  certificateLifetimeMs: number;
  /** The MeshConfig these settings came from; absent when defaults apply. */
  source?: string;
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
  /** SPIFFE IDs of the workloads behind this service's endpoints, sorted. */
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
  /** SPIFFE ID of that pod, when known (what the caller must see in the server certificate). */
  identity?: string;
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
  /** undefined: every request is allowed; else a request must match one of these. */
  routes?: readonly HttpMatch[];
}

export interface Timeouts {
  /** Whole request, retries included. */
  requestMs?: number;
  /** Each attempt. */
  perTryMs?: number;
  /** Idle stream/connection. */
  idleMs?: number;
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

export interface RoutePolicy {
  /** The request matches this policy applies to (first matching route policy wins). */
  matches: readonly HttpMatch[];
  timeouts?: Timeouts;
  retries?: RetryPolicy;
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
  /** Empty: every request matching the rule gets 500 (no backend with a positive weight), unless a redirect answers it. */
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
