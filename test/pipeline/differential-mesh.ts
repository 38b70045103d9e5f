/**
 * The mesh the differential test edits: the shop (shop.ts: a split root with
 * endpoints, a header canary, PreferSameZone on ratings, a probe in `ops`)
 * plus `web`, an apex service with no selector that a TrafficSplit sends to
 * web-v1, with a TrafficPolicy written for `web` (its backends' clusters
 * inherit it) and a `client` that may call web's service account — the shape
 * of the issue 9 bug. One file per concern, as an operator keeps them, so an
 * edit replaces or deletes a file.
 */
import type { NodeInfo } from '../../src/xds/wire.ts';
import { NODE_METADATA } from '../../src/translate/sidecar.ts';
import type { YamlFiles } from '../support/mesh-harness.ts';
import { shopFiles } from './shop.ts';

/** A pod of web's service account; the `version` label picks the web-vN service that selects it. */
export const webPod = (name: string, version: string, ip: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: shop
  labels: {app: web, version: ${version}}
spec:
  serviceAccountName: web
  containers:
  - name: app
    ports: [{name: http, containerPort: 8080}]
status:
  podIP: ${ip}
  conditions: [{type: Ready, status: "True"}]
`;

export const webAppYaml = `# web: the apex service clients call; it selects no pods (the TrafficSplit sends its traffic on).
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports:
  - {name: http, port: 8080, targetPort: http}
${['v1', 'v2']
  .map(
    (v, i) => `---
apiVersion: v1
kind: Service
metadata: {name: web-${v}, namespace: shop}
spec:
  selector: {app: web, version: ${v}}
  ports:
  - {name: http, port: 8080, targetPort: http}
---
${webPod(`web-${v}`, v, `10.0.2.${i + 1}`)}---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-${v}-1
  namespace: shop
  labels: {kubernetes.io/service-name: web-${v}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- addresses: [10.0.2.${i + 1}]
  conditions: {ready: true}
  zone: zone-${i === 0 ? 'a' : 'b'}
  targetRef: {kind: Pod, name: web-${v}}
`,
  )
  .join('')}`;

export const clientYaml = `# client: calls web.
apiVersion: v1
kind: ServiceAccount
metadata: {name: client, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: shop
  labels: {app: client}
spec:
  serviceAccountName: client
  containers: [{name: app}]
status:
  podIP: 10.0.2.9
  conditions: [{type: Ready, status: "True"}]
`;

export const webSplitYaml = (backends = '  - {service: web-v1, weight: 100}\n') => `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: shop}
spec:
  service: web
  backends:
${backends}`;

export const webTargetYaml = `# client may call web's pods (in Strict mode that is web-v1 and web-v2: web itself has none).
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-web, namespace: shop}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: shop}
  sources:
  - {kind: ServiceAccount, name: client, namespace: shop}
`;

export const webPolicyYaml = (sections = '  circuitBreaker:\n    maxConnections: 100\n') => `# Written for web: web-v1's and web-v2's clusters inherit it.
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web, namespace: shop}
spec:
  targetRef: {kind: Service, name: web}
${sections}`;

/**
 * db (issue 11): a TCP service on the ratings pod (ClusterIP 10.96.0.50:5432 →
 * 10.0.0.5:15432), which client and web may reach by a TCPRoute rule. The
 * ratings and web-v1 sidecars are transparent: their `outbound` chains match
 * the ClusterIP and the endpoint, their `inbound` chain for 15432 is TCP.
 */
/** A TCP service on the ratings pod (10.0.0.5:15432), with its EndpointSlice. */
export const tcpServiceYaml = (name: string, clusterIP: string, port: number) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  clusterIP: ${clusterIP}
  selector: {app: ratings}
  ports: [{name: db, port: ${port}, targetPort: 15432, appProtocol: tcp}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: shop, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: db, port: 15432}]
endpoints:
- addresses: [10.0.0.5]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: ratings}
---
`;

export const dbYaml = `${tcpServiceYaml('db', '10.96.0.50', 5432)}apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: db, namespace: shop}
spec:
  matches: {ports: [5432]}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: tcp-to-db, namespace: shop}
spec:
  destination: {kind: ServiceAccount, name: ratings, namespace: shop}
  sources:
  - {kind: ServiceAccount, name: client, namespace: shop}
  - {kind: ServiceAccount, name: web, namespace: shop}
  rules: [{kind: TCPRoute, name: db}]
`;

export function baseFiles(mode: 'Permissive' | 'Strict'): YamlFiles {
  return {
    ...shopFiles(mode),
    'web/app.yaml': webAppYaml,
    'web/split.yaml': webSplitYaml(),
    'web/target.yaml': webTargetYaml,
    'web/policy.yaml': webPolicyYaml(),
    'client.yaml': clientYaml,
    'db.yaml': dbYaml,
  };
}

const sidecar = (id: string, metadata: Record<string, string> = {}, zone?: string): NodeInfo => ({
  id,
  cluster: 'differential',
  user_agent_name: 'envoy',
  ...(zone ? { locality: { zone } } : {}),
  metadata,
});

const proxyless = (id: string, metadata: Record<string, string>, zone?: string): NodeInfo => ({
  id,
  cluster: 'differential',
  user_agent_name: 'grpc-node-js',
  ...(zone ? { locality: { zone } } : {}),
  metadata,
});

const explicit = (workload: string, appPorts?: string) => ({
  [NODE_METADATA.workload]: workload,
  [NODE_METADATA.mode]: 'explicit',
  ...(appPorts ? { [NODE_METADATA.appPorts]: appPorts } : {}),
});
const transparent = (workload: string) => ({ [NODE_METADATA.workload]: workload, [NODE_METADATA.mode]: 'transparent' });

/**
 * The proxies connected to both control planes: sidecars of most workloads in
 * both interception modes, one named by its id only, one whose pod appears
 * only in an edit, and proxyless gRPC clients (one with no workload, in a zone
 * no pod is in: PreferSameZone must make endpoint variants for it).
 */
export const NODES: readonly NodeInfo[] = [
  sidecar('frontend', { ...explicit('shop/frontend', '8080=18080'), [NODE_METADATA.outboundAddress]: '127.0.0.1:15001' }),
  sidecar('reviews-v1.shop', { [NODE_METADATA.mode]: 'transparent' }),
  sidecar('reviews-v2', explicit('shop/reviews-v2')),
  sidecar('ratings', transparent('shop/ratings')),
  // The same pod's sidecar in explicit mode: db's TCP port is an `inbound:5432` listener there (issue 11: its Permissive twin).
  sidecar('ratings-explicit', explicit('shop/ratings')),
  sidecar('probe', explicit('ops/probe'), 'zone-b'),
  sidecar('client', explicit('shop/client')),
  sidecar('web-v1', transparent('shop/web-v1')),
  sidecar('web-v2', explicit('shop/web-v2', '8080=18081')),
  sidecar('web-v3', explicit('shop/web-v3')),
  proxyless('grpc-client', { [NODE_METADATA.workload]: 'shop/client' }),
  proxyless('grpc-anonymous', {}, 'zone-c'),
  // gRFC A29/A36/A41: an xDS-enabled gRPC server with a certificate provider (its listeners carry mTLS and RBAC).
  proxyless('grpc-secure-reviews', { [NODE_METADATA.workload]: 'shop/reviews-v2', 'trellis.certificate_provider': 'trellis' }),
  // issue 10: a gateway Envoy of the Gateway shop/edge (which only some meshes have).
  sidecar('edge-gateway', { [NODE_METADATA.gateway]: 'shop/edge', [NODE_METADATA.gatewayAddress]: '127.0.0.1' }),
];
