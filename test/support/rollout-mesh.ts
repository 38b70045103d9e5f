/**
 * The rollout e2e's mesh (issue 12): a frontend calling `recommendation`,
 * whose TrafficSplit sends to recommendation-v1 (stable) and -v2 (canary),
 * each one demo-app pod with a sidecar, started by the demo runtime; and the
 * traffic the frontend's application sends through its sidecar.
 *
 * The recommendation pods are labelled `app: reco` so that the demo
 * application calls no upstream (runtime/demo.ts UPSTREAMS): an answer is
 * the canary's or the stable's own, and nothing else can fail it.
 */
import http from 'node:http';
import { DEMO_PORTS } from '../../src/runtime/demo.ts';

export interface RolloutNet {
  frontend: string;
  v1: string;
  v2: string;
}

function service(name: string, selector: string): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  selector: ${selector}
  ports:
  - {name: http, port: 8080, targetPort: http, appProtocol: http}
`;
}

function pod(name: string, labels: string, sa: string, ip: string): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: demo, labels: ${labels}}
spec:
  serviceAccountName: ${sa}
  containers:
  - name: app
    ports: [{name: http, containerPort: 8080}]
status:
  phase: Running
  podIP: ${ip}
  conditions: [{type: Ready, status: "True"}]
`;
}

function slice(svc: string, pods: Array<[string, string]>): string {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${svc}, namespace: demo, labels: {kubernetes.io/service-name: ${svc}}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
${pods.map(([name, ip]) => `- addresses: ["${ip}"]
  conditions: {ready: true, serving: true, terminating: false}
  targetRef: {kind: Pod, name: ${name}, namespace: demo}`).join('\n')}
`;
}

/**
 * Namespace, MeshConfig, the three pods, their services and slices, and what
 * routes recommendation (all to v1): a TrafficSplit, or an HTTPRoute (GAMMA)
 * whose rule `split` the Rollout drives.
 */
export function rolloutMeshFiles(net: RolloutNet, routing: 'TrafficSplit' | 'HTTPRoute' = 'TrafficSplit'): Record<string, string> {
  const docs = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n',
    'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: trellis}\nspec:\n  trustDomain: trellis.test\n  authorization: {mode: Permissive}\n',
    'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: frontend, namespace: demo}\n',
    'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: recommendation, namespace: demo}\n',
    service('frontend', '{app: frontend}'),
    service('recommendation', '{tier: recommendation}'),
    service('recommendation-v1', '{tier: recommendation, version: v1}'),
    service('recommendation-v2', '{tier: recommendation, version: v2}'),
    pod('frontend', '{app: frontend}', 'frontend', net.frontend),
    pod('recommendation-v1', '{app: reco, tier: recommendation, version: v1}', 'recommendation', net.v1),
    pod('recommendation-v2', '{app: reco, tier: recommendation, version: v2}', 'recommendation', net.v2),
    slice('frontend', [['frontend', net.frontend]]),
    slice('recommendation', [['recommendation-v1', net.v1], ['recommendation-v2', net.v2]]),
    slice('recommendation-v1', [['recommendation-v1', net.v1]]),
    slice('recommendation-v2', [['recommendation-v2', net.v2]]),
  ];
  const split = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: recommendation, namespace: demo}
spec:
  service: recommendation
  backends: [{service: recommendation-v1, weight: 100}, {service: recommendation-v2, weight: 0}]
`;
  const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: recommendation, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: recommendation, port: 8080}]
  rules:
  - name: split
    backendRefs: [{name: recommendation-v1, port: 8080, weight: 100}, {name: recommendation-v2, port: 8080, weight: 0}]
`;
  return { 'mesh.yaml': docs.join('---\n'), ...(routing === 'TrafficSplit' ? { 'split.yaml': split } : { 'route.yaml': route }) };
}

/** A Rollout of recommendation on its TrafficSplit, or on its HTTPRoute's rule `split`. */
export function rolloutYaml(o: { steps: string; analysis: string; routing?: 'TrafficSplit' | 'HTTPRoute' }): string {
  return `apiVersion: trellis.io/v1alpha1
kind: Rollout
metadata: {name: recommendation, namespace: demo}
spec:
  service: recommendation
  stable: recommendation-v1
  canary: recommendation-v2
  trafficRef: ${o.routing === 'HTTPRoute' ? '{kind: HTTPRoute, name: recommendation, rule: split}' : '{kind: TrafficSplit, name: recommendation}'}
  steps: ${o.steps}
  analysis: ${o.analysis}
`;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** One request to the frontend application; the recommendation version that answered, or the failing status. */
export function callFrontend(frontend: string): Promise<{ version?: string; status: number }> {
  return new Promise((resolve) => {
    const req = http.request({ host: frontend, port: DEMO_PORTS.app, path: '/', agent, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        try {
          const up = (JSON.parse(text) as { upstream?: { status?: number; version?: string } }).upstream;
          resolve({ status: up?.status ?? 0, ...(up?.version ? { version: up.version } : {}) });
        } catch {
          resolve({ status: 0 });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0 }));
    req.end();
  });
}

/** `n` requests, `concurrency` at a time: how many each version answered and how many failed. */
export async function drive(frontend: string, n: number, concurrency = 4): Promise<{ v1: number; v2: number; failed: number }> {
  const out = { v1: 0, v2: 0, failed: 0 };
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      next++;
      const r = await callFrontend(frontend);
      if (r.status >= 500 || r.status === 0) out.failed++;
      else if (r.version === 'v1') out.v1++;
      else if (r.version === 'v2') out.v2++;
    }
  }));
  return out;
}

export function closeRolloutAgent(): void {
  agent.destroy();
}

/** Ask a demo application to fail this share of its requests with 503. */
export async function setFailRatio(ip: string, ratio: number): Promise<void> {
  const res = await fetch(`http://${ip}:${DEMO_PORTS.app}/control/fail?ratio=${ratio}`);
  if (!res.ok) throw new Error(`fail ratio on ${ip}: HTTP ${res.status}`);
}
