/**
 * The mesh and the connections of the SDS restart benchmark
 * (bench/sds-reconnect.ts), apart so a test can hold them to the server's
 * limits (test/bench/sds-mesh.test.ts): issue 14's 10,000-stream restart
 * "never got a workload certificate" because the mesh broke the file
 * source's size limit and the streams broke the per-connection limit.
 */
import { XDS_LIMITS } from '../src/server/limits.ts';

export const TRUST_DOMAIN = 'trellis.local';
export const NS = 'bench';
/** Pods (or ServiceAccounts) per mesh file: well under the file source's 4 MiB (src/sources/file/limits.ts). */
const OBJECTS_PER_FILE = 1000;

export interface SdsMesh {
  workloads: number;
  services: number;
  /** ServiceAccounts; the bench's default is one per workload (as many certificates as streams) */
  identities: number;
}

export const pod = (i: number) => `w-${String(i).padStart(4, '0')}`;
/** Workload i's ServiceAccount: one per workload, or shared round-robin when there are fewer identities. */
export const account = (i: number, identities: number) => `sa-${String(i % identities).padStart(4, '0')}`;
const svc = (i: number) => `s-${String(i).padStart(3, '0')}`;

/** The mesh's files, by name: Namespace + MeshConfig, Services, ServiceAccounts and Pods. */
export function sdsMeshFiles(o: SdsMesh): Record<string, string> {
  const { workloads: WORKLOADS, services: SERVICES, identities: IDENTITIES } = o;
  const files: Record<string, string> = {
    'mesh.yaml': `apiVersion: v1
kind: Namespace
metadata:
  name: ${NS}
---
apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata:
  name: trellis
spec:
  trustDomain: ${TRUST_DOMAIN}
  authorization:
    mode: Permissive
`,
  };
  const services: string[] = [];
  for (let s = 0; s < SERVICES; s++) {
    services.push(`apiVersion: v1
kind: Service
metadata:
  name: ${svc(s)}
  namespace: ${NS}
spec:
  selector:
    app: ${svc(s)}
  ports:
  - name: http
    port: 8080
    targetPort: http
    appProtocol: http
`);
  }
  files['services.yaml'] = services.join('---\n');
  // Under the file source's 4 MiB limit per file (src/sources/file/limits.ts):
  // one pods.yaml of 10,000 Pods was refused whole, so the server ran with no
  // workload and every stream got the trust bundle alone (issue 14's "not
  // yet understood" restart at 10,000).
  const chunk = (name: string, docs: string[]) => {
    for (let i = 0; i < docs.length; i += OBJECTS_PER_FILE) files[`${name}-${String(i / OBJECTS_PER_FILE).padStart(3, '0')}.yaml`] = docs.slice(i, i + OBJECTS_PER_FILE).join('---\n');
  };
  const accounts: string[] = [];
  for (let i = 0; i < IDENTITIES; i++) {
    accounts.push(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${account(i, IDENTITIES)}
  namespace: ${NS}
`);
  }
  chunk('accounts', accounts);
  const pods: string[] = [];
  for (let i = 0; i < WORKLOADS; i++) {
    const n = i + 1; // 10.0.0.1, ... (an invalid podIP would drop the pod from the mesh)
    const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    pods.push(`apiVersion: v1
kind: Pod
metadata:
  name: ${pod(i)}
  namespace: ${NS}
  labels:
    app: ${svc(i % SERVICES)}
spec:
  serviceAccountName: ${account(i, IDENTITIES)}
  containers:
  - name: app
    image: app:bench
    ports:
    - name: http
      containerPort: 8080
status:
  phase: Running
  podIP: ${ip}
  podIPs:
  - ip: ${ip}
  conditions:
  - type: Ready
    status: "True"
`);
  }
  chunk('pods', pods);
  return files;
}

/**
 * TLS connections per client process. The server admits
 * XDS_LIMITS.maxStreamsPerConnection (100) concurrent streams per HTTP/2
 * connection; grpc-js queues the rest until one ends, and ADS streams never
 * end, so 10 connections for 2,000 streams left 1,000 waiting forever. An
 * Envoy opens one connection; the bench packs at most the limit into each:
 * `requested` (default 5) is raised to that minimum.
 */
export function sdsChannels(workloads: number, clients: number, requested = 5): number {
  const min = Math.max(1, Math.ceil(workloads / clients / XDS_LIMITS.maxStreamsPerConnection));
  return Math.max(min, requested);
}
