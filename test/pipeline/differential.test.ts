/**
 * DESIGN: "Anything built incrementally must equal what a fresh start builds."
 * For each named edit an operator could make, in Permissive and Strict mode:
 * a control plane that served the base mesh and then the edited one must hold,
 * for every connected proxy and every type (CDS, EDS, LDS, RDS, SDS), the very
 * resources — names, versions, bytes — that a control plane started on the
 * edited mesh holds; and the same for the edit undone. The guard that no input
 * of a proxy's config was left out of what decides whether to translate it
 * again (issue 9: a TrafficPolicy on a split root, edited, reached nobody).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUSH_ORDER, SHORT_NAMES, TypeUrl } from '../../src/xds/type-urls.ts';
import { decodeAnyValue } from '../../src/xds/wire.ts';
import { buildMesh } from '../../src/model/build.ts';
import { objectsFrom } from '../../src/model/testing.ts';
import type { YamlFiles } from '../support/mesh-harness.ts';
import { baseFiles, clientYaml, NODES, tcpServiceYaml, webPod, webPolicyYaml, webSplitYaml } from './differential-mesh.ts';
import { anyChange, differences, Plane, TrustDomainSecrets } from './differential-plane.ts';
import { intentsYaml, meshYaml, reviewsSlices, TRUST } from './shop.ts';
import { tlsPair, tlsSecretYaml, trellisGatewayYaml } from '../../src/model/gateway-testing.ts';
import { externalPki } from '../support/openssl-certs.ts';

type Mode = 'Permissive' | 'Strict';
type Change = (files: YamlFiles, mode: Mode) => YamlFiles;

/** Replace a file, or add one. */
const put = (file: string, text: string | ((mode: Mode) => string)): Change => (files, mode) => ({ ...files, [file]: typeof text === 'string' ? text : text(mode) });

const remove = (...names: string[]): Change => (files) => {
  const out = { ...files };
  for (const n of names) {
    if (!(n in out)) throw new Error(`edit: no file ${n}`);
    delete out[n];
  }
  return out;
};

/** Edit a file's text in place; the text must be there (an edit that matches nothing tests nothing). */
const replace = (file: string, from: string, to: string): Change => (files) => {
  const text = files[file];
  if (!text?.includes(from)) throw new Error(`edit: ${file} has no ${JSON.stringify(from)}`);
  return { ...files, [file]: text.replaceAll(from, to) };
};

/** Delete one object (a YAML document) from a file. */
const drop = (file: string, kind: string, name: string): Change => (files) => {
  const docs = (files[file] ?? '').split(/^---$/m);
  const kept = docs.filter((d) => !(new RegExp(`^kind: ${kind}$`, 'm').test(d) && new RegExp(`^(  name: |metadata: \\{name: )${name}[,}\\s]`, 'm').test(d)));
  if (kept.length !== docs.length - 1) throw new Error(`edit: ${file} has no single ${kind} ${name}`);
  return { ...files, [file]: kept.join('---') };
};

const all = (...changes: Change[]): Change => (files, mode) => changes.reduce((f, c) => c(f, mode), files);

interface Edit {
  name: string;
  change: Change;
  /** Modes in which the edit changes some proxy's config (default both); in the others it must change none. */
  visibleIn?: Mode[];
}

const STRICT_ONLY: Mode[] = ['Strict'];

const SCALE_UP = `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-v1-2
  namespace: shop
  labels: {kubernetes.io/service-name: reviews-v1}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints:
- addresses: [10.0.0.8]
  conditions: {ready: true}
  zone: zone-b
`;

const RATINGS_ADMIN = `apiVersion: v1
kind: Service
metadata: {name: ratings-admin, namespace: shop}
spec:
  selector: {app: ratings}
  ports:
  - {name: http-admin, port: 9000, targetPort: 8080}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ratings-admin-1
  namespace: shop
  labels: {kubernetes.io/service-name: ratings-admin}
addressType: IPv4
ports: [{name: http-admin, port: 8080}]
endpoints:
- addresses: [10.0.0.5]
  targetRef: {kind: Pod, name: ratings}
`;


const PROBE_TO_REVIEWS = `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: probe-to-reviews, namespace: shop}
spec:
  destination: {kind: ServiceAccount, name: reviews, namespace: shop}
  sources:
  - {kind: ServiceAccount, name: probe, namespace: ops}
`;

const WEB_V1_POLICY = `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web-v1, namespace: shop}
spec:
  targetRef: {kind: Service, name: web-v1, port: http}
  outlierDetection: {consecutive5xx: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
`;

/** issue 15: end-user tokens at the reviews sidecars (one explicit, one transparent), keys fetched from a URL. */
const REVIEWS_AUTHN = `apiVersion: trellis.io/v1alpha1
kind: RequestAuthentication
metadata: {name: reviews-jwt, namespace: shop}
spec:
  targetRef: {kind: Service, name: reviews}
  jwtRules:
  - issuer: https://auth.example.com
    audiences: [reviews]
    jwksUri: https://auth.example.com/jwks.json
  rules:
  - claims: {scope: [reviews.read]}
`;
/** Where the ratings TrafficPolicy's target ends: new sections go after it. */
const RATINGS_TARGET = '    name: ratings\n    port: http\n';
const RLS = '  rateLimitService: {address: "ratelimit.ops:8081"}\n';
const mtlsPolicy = (name: string, mode: 'Strict' | 'Permissive', target?: string) => `apiVersion: trellis.io/v1alpha1
kind: MTLSPolicy
metadata: {name: ${name}, namespace: shop}
spec:
  mode: ${mode}
${target ? `  targetRef: ${target}\n` : ''}`;

const externalService = (timeout: string, sources = '') => `apiVersion: trellis.io/v1alpha1
kind: ExternalService
metadata: {name: payments, namespace: shop}
spec:
  hosts: [api.payments.test]
  ports:
  - {port: 80, protocol: HTTP}
  - {port: 443, protocol: TLS}
  - {port: 5432, protocol: TCP}
  addresses: [192.0.2.10]
  timeouts: {request: ${timeout}}
${sources}`;

/** brief conn: TLS origination (spec.tls) with an operator's own CA. */
const originationTls = `  tls:\n    subjectAltName: pg.payments.test\n    caBundle: |\n${externalPki('api.payments.test').caPem.trim().split('\n').map((l) => `      ${l}`).join('\n')}\n`;

/** issues 10/11: db-v2, a second TCP service on the ratings pod, and a Gateway API TCPRoute on db's port. */
const DB_V2 = tcpServiceYaml('db-v2', '10.96.0.52', 5433);
const dbTcpRoute = (v1: number, v2: number, v2Name = 'db-v2') => `apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: db, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
  rules: [{backendRefs: [{name: db, port: 5432, weight: ${v1}}, {name: ${v2Name}, port: 5433, weight: ${v2}}]}]
`;

/** Edits of a mesh with db-v2 and the TCPRoute (50/50): only the route changes, so only its being in the signature shows them. */
const TCP_ROUTE_EDITS: Edit[] = [
  { name: 'TCPRoute weights 50/50 -> 0/100 (one backend: a plain cluster)', change: put('db-route.yaml', dbTcpRoute(0, 100)) },
  { name: 'TCPRoute weights 50/50 -> 90/10', change: put('db-route.yaml', dbTcpRoute(90, 10)) },
  { name: 'TCPRoute: a backend that does not exist (its share refused)', change: put('db-route.yaml', dbTcpRoute(3, 1, 'db-v9')) },
  { name: 'TCPRoute removed (db\'s own endpoints again)', change: remove('db-route.yaml') },
];

const other = (mode: Mode): Mode => (mode === 'Strict' ? 'Permissive' : 'Strict');

/** issue 10: a Gateway API route on the split root web (it replaces the TrafficSplit on port 8080). */
const webRoute = (rules = '  - backendRefs: [{name: web-v1, port: 8080, weight: 80}, {name: web-v2, port: 8080, weight: 20}]\n') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 8080}]
  rules:
${rules}`;

/** issue 12: a Rollout driving the web HTTPRoute's rule (Trellis then owns web-v1's and web-v2's weights). */
const WEB_ROLLOUT = `apiVersion: trellis.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  service: web
  stable: web-v1
  canary: web-v2
  trafficRef: {kind: HTTPRoute, name: web}
  steps: [{weight: 30, pause: 10s}, {weight: 60, pause: 10s}]
  analysis: {window: 30s, minRequests: 10, successRate: 99}
`;

const OPS_CONSUMER_ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-for-ops, namespace: ops}
spec:
  parentRefs: [{group: "", kind: Service, name: web, namespace: shop}]
  rules:
  - backendRefs: [{name: web-v2, namespace: shop, port: 8080}]
`;

/**
 * Edits of a mesh that has the HTTPRoute: base = baseFiles + web/route.yaml.
 * In Strict mode no proxy may call web itself (it has no pods of its own; the
 * TrafficTarget names the backends' identity), so only a change of a backend
 * service shows there: a route that adds or drops web-v2 as a backend does,
 * since web-v2's cluster follows web's TrafficPolicy only while some split or
 * producer route sends to it.
 */
const PERMISSIVE_ONLY: Mode[] = ['Permissive'];
const ROUTE_EDITS: Edit[] = [
  { name: 'HTTPRoute weights 80/20 -> 50/50', change: replace('web/route.yaml', 'weight: 80}, {name: web-v2, port: 8080, weight: 20}', 'weight: 50}, {name: web-v2, port: 8080, weight: 50}'), visibleIn: PERMISSIVE_ONLY },
  { name: 'HTTPRoute: a header-matched rule added before the default', change: put('web/route.yaml', webRoute('  - matches: [{headers: [{name: x-canary, value: "true"}]}]\n    backendRefs: [{name: web-v2, port: 8080}]\n  - backendRefs: [{name: web-v1, port: 8080}]\n')), visibleIn: PERMISSIVE_ONLY },
  { name: 'HTTPRoute: a RequestHeaderModifier and a timeout added', change: replace('web/route.yaml', '  - backendRefs:', '  - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-via, value: route}]}}]\n    timeouts: {request: 5s}\n    backendRefs:'), visibleIn: PERMISSIVE_ONLY },
  { name: 'HTTPRoute: a backend that does not exist (its share answered with 500)', change: replace('web/route.yaml', 'name: web-v2, port: 8080', 'name: web-v9, port: 8080') },
  { name: 'HTTPRoute: a consumer route in ops (only callers in ops see it)', change: put('ops-route.yaml', OPS_CONSUMER_ROUTE), visibleIn: PERMISSIVE_ONLY },
  { name: 'HTTPRoute: the split backend web-v2 vanishes (the route\'s backend)', change: drop('web/app.yaml', 'Service', 'web-v2') },
  { name: 'HTTPRoute removed (the TrafficSplit takes the port again)', change: remove('web/route.yaml') },
  { name: 'HTTPRoute: the TrafficSplit beside it removed (the backends keep the parent\'s TrafficPolicy through the route: no proxy changes)', change: remove('web/split.yaml'), visibleIn: [] },
  { name: 'HTTPRoute without a TrafficSplit: its parent\'s circuit breaker 100 -> 200 (the backends\' clusters follow)', change: all(remove('web/split.yaml'), replace('web/policy.yaml', 'maxConnections: 100', 'maxConnections: 200')) },
  // Strict: client holds web-v2's cluster, not the route (web has no pods): web-v2 at weight 0 keeps the parent's policy, so nothing it holds changes.
  { name: 'issue 12: a Rollout added on the route (80/20 -> 100/0 until the controller moves it)', change: put('web/rollout.yaml', WEB_ROLLOUT), visibleIn: PERMISSIVE_ONLY },
];

const EDITS: Edit[] = [
  // TrafficPolicy
  { name: 'TrafficPolicy on a split root: circuit breaker 100 -> 200 (issue 9)', change: replace('web/policy.yaml', 'maxConnections: 100', 'maxConnections: 200') },
  { name: 'TrafficPolicy on a split root: removed', change: remove('web/policy.yaml') },
  { name: 'TrafficPolicy on a split root: PreferSameZone added', change: put('web/policy.yaml', webPolicyYaml('  circuitBreaker:\n    maxConnections: 100\n  locality:\n    mode: PreferSameZone\n')) },
  { name: 'TrafficPolicy on a split backend: its own, over the inherited one', change: put('web/v1-policy.yaml', WEB_V1_POLICY) },
  { name: 'TrafficPolicy: circuit breaker edited', change: put('intents.yaml', intentsYaml({ ratingsMaxRequests: 7 })) },
  { name: 'TrafficPolicy: retries edited', change: put('intents.yaml', intentsYaml({ reviewsRetries: '  retries:\n    attempts: 4\n    methods: [GET]\n' })) },
  { name: 'TrafficPolicy: PreferSameZone turned off', change: replace('intents.yaml', 'mode: PreferSameZone', 'mode: None') },
  { name: 'TrafficPolicy: a route section removed', change: replace('intents.yaml', '      request: 30s\n', '      request: 3s\n') },
  { name: 'TrafficPolicy on a root with endpoints: RingHash added', change: replace('intents.yaml', '    perTry: 1s\n', '    perTry: 1s\n  loadBalancer: {policy: RingHash, hashOn: {header: x-session}}\n') },
  { name: 'TrafficPolicy deleted', change: drop('intents.yaml', 'TrafficPolicy', 'ratings') },
  // TrafficPolicy faults and rate limits (issue 15)
  { name: 'TrafficPolicy: a fault added (its callers’ routes)', change: replace('intents.yaml', RATINGS_TARGET, `${RATINGS_TARGET}  fault:\n    abort: {percent: 5, httpStatus: 503}\n    headers: {x-chaos: "on"}\n`) },
  { name: 'TrafficPolicy: a server-side local limit and a connection cap (the server’s own inbound)', change: replace('intents.yaml', RATINGS_TARGET, `${RATINGS_TARGET}  rateLimit:\n    local: {requests: 10, unit: second}\n    connections: {max: 20}\n`) },
  { name: 'TrafficPolicy: a per-caller server limit (a bucket per identity)', change: replace('intents.yaml', RATINGS_TARGET, `${RATINGS_TARGET}  rateLimit:\n    local: {requests: 10, unit: second, perCaller: true}\n`) },
  {
    name: 'a workload with a new service account, beside a per-caller server limit (the buckets follow the identities)',
    change: all(replace('intents.yaml', RATINGS_TARGET, `${RATINGS_TARGET}  rateLimit:\n    local: {requests: 10, unit: second, perCaller: true}\n`), put('client.yaml', clientYaml.replaceAll('client', 'buyer').replace('app: buyer', 'app: client'))),
  },
  { name: 'TrafficPolicy: a route section’s client-side limit', change: replace('intents.yaml', '    timeouts:\n      request: 30s\n', '    timeouts:\n      request: 30s\n    rateLimit:\n      local: {requests: 3, unit: minute, at: Client}\n') },
  { name: 'MeshConfig: a rate limit service (every sidecar gets its cluster)', change: replace('mesh.yaml', `  trustDomain: ${TRUST}\n`, `  trustDomain: ${TRUST}\n${RLS}`) },
  {
    name: 'MeshConfig: a rate limit service, and a global limit that uses it',
    change: all(replace('mesh.yaml', `  trustDomain: ${TRUST}\n`, `  trustDomain: ${TRUST}\n${RLS}`), replace('intents.yaml', RATINGS_TARGET, `${RATINGS_TARGET}  rateLimit:\n    global: {requests: 100, unit: minute}\n`)),
  },
  // TrafficSplit
  { name: 'TrafficSplit weights 80/20 -> 50/50', change: put('intents.yaml', intentsYaml({ weights: [50, 50] })) },
  { name: 'TrafficSplit backend replaced', change: put('web/split.yaml', webSplitYaml('  - {service: web-v2, weight: 100}\n')) },
  { name: 'TrafficSplit backend added', change: put('web/split.yaml', webSplitYaml('  - {service: web-v1, weight: 50}\n  - {service: web-v2, weight: 50}\n')) },
  { name: 'TrafficSplit removed', change: remove('web/split.yaml') },
  { name: 'TrafficSplit with matches (the canary) removed', change: drop('intents.yaml', 'TrafficSplit', 'reviews-canary') },
  // TrafficTarget
  { name: 'TrafficTarget added', change: put('probe-target.yaml', PROBE_TO_REVIEWS), visibleIn: STRICT_ONLY },
  { name: 'TrafficTarget removed', change: drop('intents.yaml', 'TrafficTarget', 'frontend-to-reviews'), visibleIn: STRICT_ONLY },
  { name: 'TrafficTarget removed (the split backends’ callers)', change: remove('web/target.yaml'), visibleIn: STRICT_ONLY },
  { name: 'TrafficTarget edited: a source removed', change: replace('intents.yaml', '  - kind: ServiceAccount\n    name: probe\n    namespace: ops\n', ''), visibleIn: STRICT_ONLY },
  { name: 'TrafficTarget edited: route rules removed', change: replace('intents.yaml', '  rules:\n  - kind: HTTPRouteGroup\n    name: ratings-read\n', ''), visibleIn: STRICT_ONLY },
  // HTTPRouteGroup
  { name: 'HTTPRouteGroup edited: a TrafficTarget’s path', change: replace('intents.yaml', 'pathRegex: "/ratings/.*"', 'pathRegex: "/v2/ratings/.*"'), visibleIn: STRICT_ONLY },
  { name: 'HTTPRouteGroup edited: a canary split’s header', change: replace('intents.yaml', 'x-canary: "true"', 'x-canary: "yes"') },
  { name: 'HTTPRouteGroup edited: a policy route’s methods', change: replace('intents.yaml', 'methods: [GET]\n', 'methods: [GET, POST]\n') },
  // Endpoints
  { name: 'a pod turns not ready', change: put('reviews/endpointslices.yaml', reviewsSlices(false)) },
  { name: 'a service scales up (a new EndpointSlice)', change: put('reviews/endpointslices.yaml', reviewsSlices(true, SCALE_UP)) },
  { name: 'a pod moves to another IP', change: replace('ratings.yaml', '10.0.0.5', '10.0.0.15') },
  { name: 'a pod with an explicit-mode sidecar moves to another IP (its inbound address)', change: replace('web/app.yaml', '10.0.2.2', '10.0.2.12') },
  { name: 'an endpoint moves to another zone (PreferSameZone)', change: replace('ratings.yaml', 'zone: zone-a', 'zone: zone-b') },
  { name: 'a split backend’s endpoint moves to another zone', change: replace('web/app.yaml', 'zone: zone-a', 'zone: zone-c') },
  // Services and workloads
  { name: 'a service appears', change: put('ratings-admin.yaml', RATINGS_ADMIN) },
  { name: 'a service nobody splits to vanishes', change: drop('web/app.yaml', 'Service', 'web-v2') },
  { name: 'a split root vanishes with its split and policy', change: all(drop('web/app.yaml', 'Service', 'web'), remove('web/split.yaml', 'web/policy.yaml')) },
  { name: 'a workload appears', change: put('web/v3.yaml', webPod('web-v3', 'v2', '10.0.2.3')) },
  { name: 'a workload vanishes', change: drop('client.yaml', 'Pod', 'client') },
  { name: 'a named container port moves (the targetPort it resolves to)', change: replace('web/app.yaml', 'ports: [{name: http, containerPort: 8080}]', 'ports: [{name: http, containerPort: 8081}]') },
  // TCP services (issue 11)
  { name: 'TCP service: appProtocol tcp -> http', change: replace('db.yaml', 'appProtocol: tcp', 'appProtocol: http') },
  { name: 'TCP service: its endpoint moves (transparent chains match it)', change: replace('db.yaml', 'addresses: [10.0.0.5]', 'addresses: [10.0.0.25]') },
  { name: 'TCP service: ClusterIP changed', change: replace('db.yaml', '10.96.0.50', '10.96.0.51') },
  { name: 'TCP service: TrafficPolicy with connect and idle timeouts', change: put('db-policy.yaml', 'apiVersion: trellis.io/v1alpha1\nkind: TrafficPolicy\nmetadata: {name: db, namespace: shop}\nspec:\n  targetRef: {kind: Service, name: db}\n  timeouts: {connect: 250ms, idle: 30s}\n') },
  { name: 'TCP service: removed with its TCPRoute and TrafficTarget', change: remove('db.yaml') },
  { name: 'TCPRoute edited: its ports', change: replace('db.yaml', 'ports: [5432]', 'ports: [6000]'), visibleIn: STRICT_ONLY },
  { name: 'TrafficTarget edited: its TCPRoute rule replaced by no rules', change: replace('db.yaml', '  rules: [{kind: TCPRoute, name: db}]\n', ''), visibleIn: STRICT_ONLY },
  { name: 'Gateway API TCPRoute added on the TCP service db, split with db-v2 (issues 10/11)', change: put('db-route.yaml', DB_V2 + dbTcpRoute(50, 50)) },

  // MeshConfig
  { name: 'authorization mode flipped', change: put('mesh.yaml', (mode) => meshYaml(other(mode))) },
  { name: 'trust domain changed', change: put('mesh.yaml', (mode) => meshYaml(mode).replaceAll(TRUST, 'other.local')) },
  // MeshConfig telemetry (issue 12): access logs and tracing go into the listeners and add the collector's cluster
  { name: 'access log on for the mesh (JSON to stdout)', change: put('mesh.yaml', (mode) => `${meshYaml(mode)}  accessLog:\n    format: JSON\n`) },
  { name: 'access log for one namespace, to a file', change: put('mesh.yaml', (mode) => `${meshYaml(mode)}  accessLog:\n    overrides:\n    - namespace: shop\n      path: /var/log/trellis/shop.log\n`) },
  { name: 'access log for one workload (a selector), the mesh off', change: put('mesh.yaml', (mode) => `${meshYaml(mode)}  accessLog:\n    format: Off\n    overrides:\n    - namespace: shop\n      selector: {matchLabels: {app: reviews, version: v2}}\n      format: JSON\n`) },
  { name: 'tracing on: an OTLP collector, 10% sampled', change: put('mesh.yaml', (mode) => `${meshYaml(mode)}  tracing:\n    collector: otel-collector.ops:4317\n    samplingPercent: 10\n`) },
  { name: 'tracing on: every request sampled', change: put('mesh.yaml', (mode) => `${meshYaml(mode)}  tracing:\n    collector: 10.0.9.9:4317\n    samplingPercent: 100\n`) },
  { name: 'MeshConfig deleted (defaults)', change: put('mesh.yaml', (mode) => meshYaml(mode).split('---\napiVersion: trellis.io')[0]!) },
  // issue 15: request authentication, hedging, Retry-After, active health checks
  { name: 'RequestAuthentication added (a reviews port\'s inbound filters and JWKS cluster)', change: put('reviews-authn.yaml', REVIEWS_AUTHN) },
  { name: 'RequestAuthentication edited: a claim rule\'s value', change: all(put('reviews-authn.yaml', REVIEWS_AUTHN), replace('reviews-authn.yaml', 'reviews.read', 'reviews.write')) },
  { name: 'RequestAuthentication edited: keys from another host', change: all(put('reviews-authn.yaml', REVIEWS_AUTHN), replace('reviews-authn.yaml', 'https://auth.example.com/jwks.json', 'http://keys.example.com:8080/jwks')) },
  { name: 'TrafficPolicy: hedging turned on', change: replace('intents.yaml', '  retries:\n    attempts: 2\n  routes:', '  retries:\n    attempts: 2\n    hedgeOnPerTryTimeout: true\n    retriableStatusCodes: [429]\n    retryAfter: {maxInterval: 5s}\n  routes:') },
  { name: 'TrafficPolicy: active health check added', change: replace('intents.yaml', '    perTry: 1s\n', '    perTry: 1s\n  healthCheck: {http: {path: /healthz}, interval: 5s}\n') },
  // Incremental adoption (issue 11)
  { name: 'MeshConfig spec.mtls.mode: Permissive', change: put('mesh.yaml', (mode) => meshYaml(mode).replace('authorization:', 'mtls: {mode: Permissive}\n  authorization:')) },
  { name: 'MTLSPolicy Permissive for a namespace', change: put('mtls.yaml', mtlsPolicy('shop', 'Permissive')) },
  { name: 'MTLSPolicy Permissive for a Service’s pods', change: put('mtls.yaml', mtlsPolicy('web-v1', 'Permissive', '{kind: Service, name: web-v1}')) },
  { name: 'MTLSPolicy Permissive for one Pod (explicit mode)', change: put('mtls.yaml', mtlsPolicy('web-v2', 'Permissive', '{kind: Pod, name: web-v2}')) },
  { name: 'a pod opted out of injection (its callers go plaintext)', change: replace('web/app.yaml', 'labels: {app: web, version: v1}', 'labels: {app: web, version: v1}\n  annotations: {trellis.io/inject: "false"}') },
  { name: 'a pod without a sidecar joins a service beside one with (plaintext per endpoint)', change: put('web/v1-legacy.yaml', `${webPod('web-v1-legacy', 'v1', '10.0.2.7').replace('labels: {app: web, version: v1}', 'labels: {app: web, version: v1}\n  annotations: {trellis.io/inject: "false"}')}---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-v1-2, namespace: shop, labels: {kubernetes.io/service-name: web-v1}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.0.2.7], conditions: {ready: true}, targetRef: {kind: Pod, name: web-v1-legacy}}]
`) },
  // Egress (issue 11)
  { name: 'MeshConfig spec.egress.mode: RegistryOnly', change: put('mesh.yaml', (mode) => meshYaml(mode).replace('authorization:', 'egress: {mode: RegistryOnly}\n  authorization:')) },
  { name: 'an ExternalService appears', change: put('external.yaml', externalService('3s')) },
  { name: 'an ExternalService with sources (who may reach it)', change: put('external.yaml', externalService('3s', '  sources: [{kind: ServiceAccount, name: client}]\n')) },
  { name: 'brief conn: an ExternalService originating TLS on its HTTP and TCP ports (CA bundle, SAN)', change: put('external.yaml', externalService('3s', originationTls)) },
  { name: 'a workload renamed, with a new service account', change: put('client.yaml', clientYaml.replaceAll('client', 'buyer').replace('app: buyer', 'app: client')) },
  { name: 'HTTPRoute added on a split root (issue 10)', change: put('web/route.yaml', webRoute()) },
  { name: 'HTTPRoute added with a header match, redirect, rewrite and mirror (issue 10)', change: put('web/route.yaml', webRoute('  - matches: [{path: {type: PathPrefix, value: /old}}]\n    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 301}}]\n  - matches: [{path: {type: PathPrefix, value: /v2}, headers: [{name: x-canary, value: "true"}]}]\n    filters:\n    - {type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}\n    - {type: RequestMirror, requestMirror: {backendRef: {name: web-v1, port: 8080}, percent: 10}}\n    backendRefs: [{name: web-v2, port: 8080}]\n')) },
];

/** Rename a file (its text unchanged). */
const rename = (from: string, to: string): Change => (files) => {
  const { [from]: text, ...rest } = files;
  if (text === undefined) throw new Error(`edit: no file ${from}`);
  return { ...rest, [to]: text };
};

/**
 * issue 14: edits the file source's document cache (sources/file/documents.ts) and the
 * model's decode cache (model/kinds/decode-cache.ts) see as "one document of a file
 * changed": every incremental plane reads files through them (differential-plane.ts), so
 * every edit of this file goes through them; these are the shapes an edit of a
 * multi-document file takes.
 */
const DOCUMENT_EDITS: Edit[] = [
  { name: 'a document of a multi-document file edited, two lines longer (the documents after it move down)', change: replace('intents.yaml', '    - x-canary: "true"\n', '    - x-canary: "true"\n  - name: canary-cookie\n    headers: [{cookie: "canary=1"}]\n') },
  { name: 'a document removed from the middle of a multi-document file (the documents after it move up)', change: drop('intents.yaml', 'TrafficSplit', 'reviews-canary') },
  { name: 'a document added at the top of a multi-document file', change: (files) => ({ ...files, 'intents.yaml': `${WEB_V1_POLICY}---\n${files['intents.yaml']}` }) },
  { name: 'a multi-document file renamed (nothing served changes)', change: rename('intents.yaml', 'shop/intents.yaml'), visibleIn: [] },
  { name: 'two documents swapped (nothing served changes)', change: (files) => {
    const [first, second, ...rest] = files['intents.yaml']!.split(/^---\n/m);
    return { ...files, 'intents.yaml': [second, first, ...rest].join('---\n') };
  }, visibleIn: [] },
];

/** issue 14: an invalid edit of one document, then its fix: while broken, the last good config is served; fixed, what a fresh start on the fixed files serves. */
const BROKEN_EDITS: Array<{ name: string; broken: Change }> = [
  { name: 'a YAML syntax error in one document (the file keeps its last good objects)', broken: replace('intents.yaml', 'maxConnections: 100', 'maxConnections: [100') },
  { name: 'a schema error in one document (the object keeps its last good version)', broken: replace('intents.yaml', 'maxConnections: 100', 'maxConnections: lots') },
];
const FIX = replace('intents.yaml', 'maxConnections: 100', 'maxConnections: 250');

/** issue 10 (north-south): a Trellis Gateway in shop, HTTP and HTTPS, with a route to the web split's backends. */
const gatewayPair = tlsPair(['web.shop.example']);
const otherPair = tlsPair(['other.shop.example']);
const GATEWAY = trellisGatewayYaml({ namespace: 'shop', httpPort: 18080, httpsPort: 18443, hostname: 'web.shop.example', secret: 'web-cert' });
const gatewayRoute = (rules = '  - matches: [{path: {type: PathPrefix, value: /web}}]\n    backendRefs: [{name: web-v1, port: 8080, weight: 80}, {name: web-v2, port: 8080, weight: 20}]\n') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: edge-web, namespace: shop}
spec:
  parentRefs: [{name: edge}]
  rules:
${rules}`;

/** A listener added to the gateway, after its HTTPS one. */
const addGatewayListener = (listener: string): Change => replace('gateway/gateway.yaml', '    tls: {mode: Terminate, certificateRefs: [{name: web-cert}]}\n', `    tls: {mode: Terminate, certificateRefs: [{name: web-cert}]}\n  - ${listener}\n`);
const gatewayStreamRoute = (kind: 'TLSRoute' | 'TCPRoute', listener: string, hostnames: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: ${kind}
metadata: {name: edge-db, namespace: shop}
spec:
  parentRefs: [{name: edge, sectionName: ${listener}}]
${hostnames}  rules: [{backendRefs: [{name: db, port: 5432}]}]
`;

const GATEWAY_EDITS: Edit[] = [
  { name: 'gateway route: path and weights edited', change: put('gateway/route.yaml', gatewayRoute('  - matches: [{path: {type: Exact, value: /web/home}}]\n    backendRefs: [{name: web-v1, port: 8080, weight: 50}, {name: web-v2, port: 8080, weight: 50}]\n')) },
  { name: 'gateway route: a header filter and a hostname added', change: replace('gateway/route.yaml', '  rules:\n', '  hostnames: [web.shop.example]\n  rules:\n  - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-via, value: edge}]}}]\n    backendRefs: [{name: reviews-v1, port: 9080}]\n') },
  { name: 'gateway route removed', change: remove('gateway/route.yaml') },
  { name: 'gateway certificate replaced', change: put('gateway/secret.yaml', tlsSecretYaml('shop', 'web-cert', otherPair)) },
  { name: 'gateway listener hostname changed', change: replace('gateway/gateway.yaml', 'hostname: "web.shop.example"', 'hostname: "other.shop.example"') },
  { name: 'gateway deleted', change: remove('gateway/gateway.yaml') },
  { name: 'issue 15: a RequestAuthentication on the Gateway (a JWKS URL and a claim rule)', change: put('gateway/authn.yaml', `apiVersion: trellis.io/v1alpha1
kind: RequestAuthentication
metadata: {name: edge-tokens, namespace: shop}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: edge}
  jwtRules: [{issuer: https://auth.shop.example, jwksUri: https://auth.shop.example/jwks.json}]
  rules: [{claims: {scope: [shop.read]}}]
`) },
  { name: 'gateway service account set by annotation', change: replace('gateway/gateway.yaml', 'metadata: {name: edge, namespace: shop}', 'metadata: {name: edge, namespace: shop, annotations: {trellis.io/service-account: ingress}}') },
  { name: 'gateway backend web-v2 vanishes', change: drop('web/app.yaml', 'Service', 'web-v2') },
  // issues 10/11: TLS passthrough and TCP listeners
  { name: 'gateway TCP listener with a TCPRoute to db added', change: all(addGatewayListener('{name: tcp, port: 15432, protocol: TCP}'), put('gateway/stream.yaml', gatewayStreamRoute('TCPRoute', 'tcp', ''))) },
  { name: 'gateway TLS passthrough listener with a TLSRoute to db added', change: all(addGatewayListener('{name: tls, port: 18444, protocol: TLS, tls: {mode: Passthrough}}'), put('gateway/stream.yaml', gatewayStreamRoute('TLSRoute', 'tls', '  hostnames: [db.shop.example]\n'))) },
  { name: 'gateway TCP listener whose TCPRoute names a missing backend', change: all(addGatewayListener('{name: tcp, port: 15432, protocol: TCP}'), put('gateway/stream.yaml', gatewayStreamRoute('TCPRoute', 'tcp', '').replace('name: db,', 'name: db-v9,'))) },
];

let dir: string;
let secrets: TrustDomainSecrets;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trellis-differential-'));
  secrets = await TrustDomainSecrets.open(dir, [TRUST, 'other.local', 'cluster.local']);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A plane fed `first`, with every node connected, then each later version in turn. */
function planeAfter(first: YamlFiles, ...later: YamlFiles[]): Plane {
  const p = new Plane(secrets);
  p.apply(first);
  p.connect(NODES);
  for (const files of later) p.apply(files);
  return p;
}

/** The edit seen by a plane that served `base` first (and by one that served the edit first, then `base`) equals a fresh start. */
function expectIncrementalEqualsFresh(base: YamlFiles, { change, visibleIn }: Edit, mode: Mode): void {
  const edited = change(base, mode);
  const freshBase = planeAfter(base);
  const freshEdited = planeAfter(edited);
  expect(anyChange(freshBase, freshEdited), 'does the edit change any proxy’s config?').toBe((visibleIn ?? [mode]).includes(mode));
  expect(differences(planeAfter(base, edited), freshEdited), 'base, then the edit').toEqual([]);
  expect(differences(planeAfter(edited, base), freshBase), 'the edit, then undone').toEqual([]);
}

const withRoute = (mode: Mode): YamlFiles => ({ ...baseFiles(mode), 'web/route.yaml': webRoute() });
const withTcpRoute = (mode: Mode): YamlFiles => ({ ...baseFiles(mode), 'db-v2.yaml': DB_V2, 'db-route.yaml': dbTcpRoute(50, 50) });

describe.each<Mode>(['Permissive', 'Strict'])('%s: issues 10/11: Gateway API TCPRoute edits, incremental equals fresh', (mode) => {
  it.each(TCP_ROUTE_EDITS)('$name', (edit) => expectIncrementalEqualsFresh(withTcpRoute(mode), edit, mode));
});

describe.each<Mode>(['Permissive', 'Strict'])('%s: issue 10: HTTPRoute edits, incremental equals fresh', (mode) => {
  it.each(ROUTE_EDITS)('$name', (edit) => expectIncrementalEqualsFresh(withRoute(mode), edit, mode));
});

const withGateway = (mode: Mode): YamlFiles => ({
  ...baseFiles(mode),
  'gateway/gateway.yaml': GATEWAY,
  'gateway/secret.yaml': tlsSecretYaml('shop', 'web-cert', gatewayPair),
  'gateway/route.yaml': gatewayRoute(),
});

describe.each<Mode>(['Permissive', 'Strict'])('%s: issue 10: gateway edits, incremental equals fresh', (mode) => {
  it.each(GATEWAY_EDITS)('$name', (edit) => expectIncrementalEqualsFresh(withGateway(mode), edit, mode));

  it('the gateway node holds listeners, routes, clusters and its certificate', () => {
    const snapshot = planeAfter(withGateway(mode)).cache.get('edge-gateway')!;
    for (const t of PUSH_ORDER) expect(snapshot.get(t).items.size, SHORT_NAMES[t]).toBeGreaterThan(0);
  });
});

/**
 * issue 12: the rollout controller's weights are a build input like the
 * objects: a plane that served one weight and then another holds what a
 * plane started on the second holds — a restart mid-rollout, given the
 * persisted progress, serves what the running one served.
 */
describe.each<Mode>(['Permissive', 'Strict'])('%s: issue 12: rollout progress, incremental equals fresh', (mode) => {
  const files = (): YamlFiles => ({ ...withRoute(mode), 'web/rollout.yaml': WEB_ROLLOUT });
  const revision = () => buildMesh(objectsFrom(files())).model.rollouts.get('shop/web')!.revision;
  const at = (canaryWeight: number) => new Map([['shop/web', { revision: revision(), canaryWeight }]]);
  /** A plane started with `weights[0]` (as after a restart), then moved to each later one. */
  const planeAt = (...weights: number[]): Plane => {
    const p = new Plane(secrets);
    p.rolloutProgress(at(weights[0]!));
    p.apply(files());
    p.connect(NODES);
    for (const w of weights.slice(1)) p.rolloutProgress(at(w));
    return p;
  };
  it.each([[0, 30], [30, 60], [60, 100], [100, 0], [30, 0]])('canary %i %% -> %i %%', (from, to) => {
    // Strict: client may call web's pods but not web (it has none), so the route is none of its
    // config and a weight changes nothing it holds: a backend at weight 0 inherits the route
    // parent's TrafficPolicy as at any other weight (resolve/policies.ts clusterPolicies).
    expect(anyChange(planeAt(from), planeAt(to)), 'does the weight change any proxy’s config?').toBe(mode === 'Permissive');
    expect(differences(planeAt(from, to), planeAt(to))).toEqual([]);
  });

  it('the canary’s cluster keeps the route parent’s circuit breaker at weight 0', () => {
    const canaryCluster = (weight: number) => {
      const r = planeAt(weight).cache.get('client')!.get(TypeUrl.Cluster).items.get('web-v2.shop:8080');
      expect(r, `client holds web-v2's cluster at weight ${weight}`).toBeDefined();
      return decodeAnyValue(TypeUrl.Cluster, r!.value) as { circuit_breakers?: { thresholds?: { max_connections?: { value: number } }[] } };
    };
    expect(canaryCluster(0).circuit_breakers?.thresholds?.[0]?.max_connections).toEqual({ value: 100 });
    expect(canaryCluster(0)).toEqual(canaryCluster(30));
  });
});

describe.each<Mode>(['Permissive', 'Strict'])('%s: issue 14: edits of one document of a file, through the document and decode caches, incremental equals fresh', (mode) => {
  it.each(DOCUMENT_EDITS)('$name', (edit) => expectIncrementalEqualsFresh(baseFiles(mode), edit, mode));

  it.each(BROKEN_EDITS)('$name, then fixed', ({ broken }) => {
    const base = baseFiles(mode);
    const plane = planeAfter(base);
    plane.apply(broken(base, mode), { invalid: true });
    expect(differences(plane, planeAfter(base)), 'while broken: the last good config').toEqual([]);
    const fixed = FIX(base, mode);
    plane.apply(fixed);
    expect(anyChange(planeAfter(base), planeAfter(fixed)), 'does the fix change any proxy’s config?').toBe(true);
    expect(differences(plane, planeAfter(fixed)), 'fixed').toEqual([]);
  });
});

describe.each<Mode>(['Permissive', 'Strict'])('%s: incremental publishing equals a fresh start', (mode) => {
  it.each(EDITS)('$name', (edit) => expectIncrementalEqualsFresh(baseFiles(mode), edit, mode));

  it('the comparison sees every type: a sidecar holds clusters, endpoints, listeners, routes and secrets', () => {
    const snapshot = planeAfter(baseFiles(mode)).cache.get('frontend')!;
    for (const t of PUSH_ORDER) expect(snapshot.get(t).items.size, SHORT_NAMES[t]).toBeGreaterThan(0);
  });

  it('one long-lived plane walks through every edit and back', () => {
    const base = baseFiles(mode);
    const plane = planeAfter(base);
    for (const { name, change } of EDITS) {
      const edited = change(base, mode);
      plane.apply(edited);
      expect(differences(plane, planeAfter(edited)), name).toEqual([]);
      plane.apply(base);
    }
    expect(differences(plane, planeAfter(base))).toEqual([]);
    // Every edit builds two fresh planes beside the long-lived one: ~40 s alone, 70 s on a loaded machine.
  }, 240_000);
});
