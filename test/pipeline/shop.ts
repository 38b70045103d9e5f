/**
 * The mesh the pipeline tests start from, as an operator would write it: one
 * file per application plus mesh.yaml and intents.yaml. Namespace `shop`:
 * frontend calls reviews (a root service split 80/20 over reviews-v1 and
 * reviews-v2, with a header canary), reviews calls ratings. Namespace `ops`
 * has a probe that may call ratings. Tests replace single files to make edits.
 */
import type { YamlFiles } from '../support/mesh-harness.ts';

export const TRUST = 'trellis.local';
export const spiffe = (ns: string, sa: string) => `spiffe://${TRUST}/ns/${ns}/sa/${sa}`;

export const meshYaml = (mode: 'Permissive' | 'Strict') => `# The mesh: identities in ${TRUST}, ${mode.toLowerCase()} authorization.
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: Namespace
metadata:
  name: ops
---
apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata:
  name: trellis
spec:
  trustDomain: ${TRUST}
  authorization:
    mode: ${mode}
`;

const pod = (name: string, ns: string, sa: string, ip: string, labels: string, port = 'http: 9080') => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  labels: {${labels}}
spec:
  serviceAccountName: ${sa}
  containers:
  - name: app
    image: shop/${name}:1
    ports:
    - {name: ${port.split(':')[0]}, containerPort: ${port.split(':')[1]!.trim()}}
status:
  podIP: ${ip}
  conditions:
  - {type: Ready, status: "True"}
`;

export const frontendYaml = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: frontend
  namespace: shop
---
apiVersion: v1
kind: Service
metadata:
  name: frontend
  namespace: shop
spec:
  selector: {app: frontend}
  ports:
  - name: http
    port: 8080
    targetPort: http
${pod('frontend', 'shop', 'frontend', '10.0.0.2', 'app: frontend', 'http: 8080')}---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: frontend-1
  namespace: shop
  labels:
    kubernetes.io/service-name: frontend
addressType: IPv4
ports:
- {name: http, port: 8080}
endpoints:
- addresses: [10.0.0.2]
  conditions: {ready: true}
  zone: zone-a
  targetRef: {kind: Pod, name: frontend}
`;

/** reviews: the root service (two ports) and one service per version. */
export const reviewsSlices = (v2Ready = true, extra = '') => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-1
  namespace: shop
  labels:
    kubernetes.io/service-name: reviews
addressType: IPv4
ports:
- {name: http, port: 9080}
- {name: grpc, port: 9090}
endpoints:
- addresses: [10.0.0.3]
  conditions: {ready: true}
  zone: zone-a
  targetRef: {kind: Pod, name: reviews-v1}
- addresses: [10.0.0.7]          # starting up: not ready yet
  conditions: {ready: false, serving: false}
  zone: zone-a
- addresses: [10.0.0.4]
  conditions: {ready: ${v2Ready}}
  zone: zone-b
  targetRef: {kind: Pod, name: reviews-v2}
- addresses: [10.0.0.6]          # shutting down, still finishing requests
  conditions: {ready: false, serving: true, terminating: true}
  zone: zone-b
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-v1-1
  namespace: shop
  labels:
    kubernetes.io/service-name: reviews-v1
addressType: IPv4
ports:
- {name: http, port: 9080}
- {name: grpc, port: 9090}
endpoints:
- addresses: [10.0.0.3]
  zone: zone-a
  targetRef: {kind: Pod, name: reviews-v1}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-v2-1
  namespace: shop
  labels:
    kubernetes.io/service-name: reviews-v2
addressType: IPv4
ports:
- {name: http, port: 9080}
- {name: grpc, port: 9090}
endpoints:
- addresses: [10.0.0.4]
  conditions: {ready: ${v2Ready}}
  zone: zone-b
  targetRef: {kind: Pod, name: reviews-v2}
${extra}`;

const reviewsService = (name: string, selector: string, clusterIP?: string) => `---
apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: shop
spec:
${clusterIP ? `  clusterIP: ${clusterIP}\n` : ''}  selector: {${selector}}
  ports:
  - name: http
    port: 8080
    targetPort: 9080
  - name: grpc
    port: 9090
    appProtocol: grpc
`;

export const reviewsYaml = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: reviews
  namespace: shop
${reviewsService('reviews', 'app: reviews', '10.96.0.20')}${reviewsService('reviews-v1', 'app: reviews, version: v1')}${reviewsService('reviews-v2', 'app: reviews, version: v2')}${pod('reviews-v1', 'shop', 'reviews', '10.0.0.3', 'app: reviews, version: v1')}${pod('reviews-v2', 'shop', 'reviews', '10.0.0.4', 'app: reviews, version: v2')}`;

export const ratingsYaml = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: ratings
  namespace: shop
---
apiVersion: v1
kind: Service
metadata:
  name: ratings
  namespace: shop
spec:
  selector: {app: ratings}
  ports:
  - name: http
    port: 8080
    targetPort: http
${pod('ratings', 'shop', 'ratings', '10.0.0.5', 'app: ratings', 'http: 8080')}---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ratings-1
  namespace: shop
  labels:
    kubernetes.io/service-name: ratings
addressType: IPv4
ports:
- {name: http, port: 8080}
endpoints:
- addresses: [10.0.0.5]
  zone: zone-a
  targetRef: {kind: Pod, name: ratings}
`;

export const probeYaml = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: probe
  namespace: ops
${pod('probe', 'ops', 'probe', '10.0.1.2', 'app: probe', 'metrics: 9100')}`;

export interface IntentOptions {
  /** reviews split weights (v1, v2) */
  weights?: [number, number];
  /** second backend of the reviews split */
  secondBackend?: string;
  /** ratings circuit breaker maxRequests */
  ratingsMaxRequests?: number;
  /** replaces the reviews TrafficPolicy's `retries:` block */
  reviewsRetries?: string;
}

/** The intents; `o` makes the edits tests need, written where an operator would. */
export const intentsYaml = (o: IntentOptions = {}) => {
  const [w1, w2] = o.weights ?? [80, 20];
  return `# Routing and resilience for the shop.
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: reviews-canary
  namespace: shop
spec:
  matches:
  - name: canary-header
    headers:
    - x-canary: "true"
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: reviews-reports
  namespace: shop
spec:
  matches:
  - name: slow-report
    pathRegex: "/reports/.*"
    methods: [GET]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata:
  name: ratings-read
  namespace: shop
spec:
  matches:
  - name: read
    pathRegex: "/ratings/.*"
    methods: [GET, HEAD]
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: reviews
  namespace: shop
spec:
  service: reviews
  backends:
  - service: reviews-v1
    weight: ${w1}
  - service: ${o.secondBackend ?? 'reviews-v2'}
    weight: ${w2}
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: reviews-canary
  namespace: shop
spec:
  service: reviews
  matches:
  - kind: HTTPRouteGroup
    name: reviews-canary
  backends:
  - service: reviews-v2
    weight: 100
---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata:
  name: reviews
  namespace: shop
spec:
  targetRef:
    kind: Service
    name: reviews
  timeouts:
    request: 3s
    perTry: 1s
${o.reviewsRetries ?? `  retries:
    attempts: 2
`}  routes:
  - match:
      kind: HTTPRouteGroup
      name: reviews-reports
    timeouts:
      request: 30s
---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata:
  name: ratings
  namespace: shop
spec:
  targetRef:
    kind: Service
    name: ratings
    port: http
  retries:
    attempts: 3
    retryOn: [unavailable, 5xx]
    methods: ["*"]
    budget:
      percent: 25
      minConcurrency: 5
  circuitBreaker:
    maxConnections: 100
    maxPendingRequests: 50
    maxRequests: ${o.ratingsMaxRequests ?? 200}
    maxRetries: 10
  outlierDetection:
    consecutive5xx: 3
    interval: 5s
    baseEjectionTime: 30s
    maxEjectionPercent: 50
  loadBalancer:
    policy: RingHash
    hashOn:
      header: x-user-id
    minimumRingSize: 512
  locality:
    mode: PreferSameZone
---
# Who may call whom (enforced in Strict mode only).
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata:
  name: frontend-to-reviews
  namespace: shop
spec:
  destination:
    kind: ServiceAccount
    name: reviews
    namespace: shop
  sources:
  - kind: ServiceAccount
    name: frontend
    namespace: shop
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata:
  name: readers-to-ratings
  namespace: shop
spec:
  destination:
    kind: ServiceAccount
    name: ratings
    namespace: shop
  sources:
  - kind: ServiceAccount
    name: reviews
    namespace: shop
  - kind: ServiceAccount
    name: probe
    namespace: ops
  rules:
  - kind: HTTPRouteGroup
    name: ratings-read
`;
};

export function shopFiles(mode: 'Permissive' | 'Strict', intents: IntentOptions = {}): YamlFiles {
  return {
    'mesh.yaml': meshYaml(mode),
    'frontend.yaml': frontendYaml,
    'reviews/reviews.yaml': reviewsYaml,
    'reviews/endpointslices.yaml': reviewsSlices(),
    'ratings.yaml': ratingsYaml,
    'ops/probe.yaml': probeYaml,
    'intents.yaml': intentsYaml(intents),
  };
}
