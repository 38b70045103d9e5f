/**
 * The YAML an operator writes for a small mesh on loopback, as builders, so
 * end-to-end tests and benchmarks that start real sidecars (sidecar-mesh.ts)
 * do not each spell out pods, services, slices and access rules. Services
 * here map each port to the same targetPort (what the explicit-mode inbound
 * listener binds, on the pod's IP), all in namespace `demo`.
 */

export const NAMESPACE = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
`;

export function meshConfig(mode: 'Strict' | 'Permissive'): string {
  return `---
apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata: {name: trellis}
spec:
  authorization: {mode: ${mode}}
`;
}

export function serviceAccounts(...names: string[]): string {
  return names.map((sa) => `---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ${sa}, namespace: demo}\n`).join('');
}

/** An MTLSPolicy making one pod Permissive (mTLS and plaintext on its ports), as a document that follows others. */
export function permissivePod(name: string): string {
  return `---
apiVersion: trellis.io/v1alpha1
kind: MTLSPolicy
metadata: {name: ${name}-permissive, namespace: demo}
spec:
  mode: Permissive
  targetRef: {kind: Pod, name: ${name}}
`;
}

/** A running, ready pod with its IP. */
export function pod(name: string, sa: string, ip: string, app: string): string {
  return `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: demo, labels: {app: ${app}}}
spec: {serviceAccountName: ${sa}, containers: [{name: app}]}
status: {podIP: ${ip}, conditions: [{type: Ready, status: "True"}]}
`;
}

/** A service selecting `app` (default: its name), its HTTP ports (named p<port>), and its EndpointSlice listing `pods` as [name, ip]. */
export function service(name: string, ports: readonly number[], pods: ReadonlyArray<readonly [string, string]>, app = name): string {
  return serviceYaml(name, app, ports.map((p) => ({ name: `p${p}`, port: p, spec: `targetPort: ${p}, appProtocol: http` })), pods);
}

/** A TCP service (`appProtocol: tcp`, one port named tcp) selecting `app`, and its EndpointSlice listing `pods` as [name, ip]. */
export function tcpService(name: string, port: number, pods: ReadonlyArray<readonly [string, string]>, app: string): string {
  return serviceYaml(name, app, [{ name: 'tcp', port, spec: 'appProtocol: tcp' }], pods);
}

function serviceYaml(name: string, app: string, ports: ReadonlyArray<{ name: string; port: number; spec: string }>, pods: ReadonlyArray<readonly [string, string]>): string {
  return `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  selector: {app: ${app}}
  ports: [${ports.map((p) => `{name: ${p.name}, port: ${p.port}, ${p.spec}}`).join(', ')}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: demo, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [${ports.map((p) => `{name: ${p.name}, port: ${p.port}}`).join(', ')}]
endpoints:
${pods.map(([pod, ip]) => `- {addresses: ["${ip}"], conditions: {ready: true}, targetRef: {kind: Pod, name: ${pod}}}`).join('\n')}
`;
}

/** `source` may call workloads running as `destination`. */
export function trafficTarget(source: string, destination: string): string {
  return `---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: ${source}-to-${destination}, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: ${destination}}
  sources: [{kind: ServiceAccount, name: ${source}}]
`;
}
