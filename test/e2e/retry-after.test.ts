/**
 * Issue 15, retry on 429 honouring Retry-After, with a real Envoy sidecar
 * (explicit mode, loopback 127.0.160.12-13): client-1's sidecar calls a
 * backend without a sidecar (plaintext, `trellis.io/inject: "false"`) that
 * answers each new request id with 429 and `Retry-After: 1`, then 200.
 *   paced  (port 8080): a TrafficPolicy retries 429 with `retryAfter`, so the
 *          sidecar waits as the backend asked (Envoy's rate-limited back-off,
 *          counted in `upstream_rq_retry_backoff_ratelimited`, not the
 *          exponential one) and the client sees 200;
 *   plain  (port 8081): no policy, so the client sees the 429 itself.
 * How long the wait took is not asserted (timing belongs in benchmarks): the
 * counters say which back-off Envoy used.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyStats } from '../support/envoy-stats.ts';
import { EdgeMesh, get, until } from '../support/edge-e2e.ts';

const NET = '127.0.160';
const CLIENT = `${NET}.12`;
const BACKEND = `${NET}.13`;

const service = (name: string, port: number) => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: demo}
spec:
  selector: {app: backend}
  ports: [{name: http, port: ${port}, appProtocol: http}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: demo, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: http, port: ${port}}]
endpoints: [{addresses: [${BACKEND}], conditions: {ready: true}, targetRef: {kind: Pod, name: backend-1}}]
`;

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: client, namespace: demo}
---
apiVersion: v1
kind: Pod
metadata: {name: client-1, namespace: demo, labels: {app: client}}
spec: {serviceAccountName: client, containers: [{name: app}]}
status: {podIP: ${CLIENT}, phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: backend-1, namespace: demo, labels: {app: backend}, annotations: {trellis.io/inject: "false"}}
spec: {containers: [{name: app}]}
status: {podIP: ${BACKEND}, phase: Running}
${service('paced', 8080)}${service('plain', 8081)}---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: paced, namespace: demo}
spec:
  targetRef: {kind: Service, name: paced}
  retries: {attempts: 1, retriableStatusCodes: [429], retryAfter: {maxInterval: 5s}}
`;

/** Requests seen per id: the first of each id is told to come back in a second. */
const seen = new Map<string, number>();
function backend(port: number): Promise<http.Server> {
  const server = http.createServer((q, s) => {
    const id = q.url ?? '/';
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    if (n === 1) {
      s.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' });
      return void s.end('slow down\n');
    }
    s.end(`ok after ${n - 1} refusal(s)\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, BACKEND, () => resolve(server));
  });
}

/** client-1's application calling through its sidecar's outbound listener. */
const call = (host: string, path: string) => get(`http://${CLIENT}:15001${path}`, { host });

/** A retry counter of the client sidecar's cluster for `service` (stats carry the destination's labels, translate/stats.ts). */
async function retries(service: string): Promise<{ ratelimited: number; exponential: number }> {
  const s = await envoyStats(`${CLIENT}:15000`, 'upstream_rq_retry_backoff');
  const sum = (suffix: string) => Object.entries(s).filter(([k]) => k.includes(`|${service}|`) && k.endsWith(suffix)).reduce((a, [, v]) => a + v, 0);
  return { ratelimited: sum('.upstream_rq_retry_backoff_ratelimited'), exponential: sum('.upstream_rq_retry_backoff_exponential') };
}

let mesh: EdgeMesh;

beforeAll(async () => {
  mesh = await EdgeMesh.start({ 'mesh.yaml': MESH }, `${NET}.11`);
  mesh.keep(await backend(8080));
  mesh.keep(await backend(8081));
  await mesh.envoy('demo/client-1', `${CLIENT}:15000`);
  // Ready when the sidecar routes both services (an unknown Host gets 404 from the sidecar itself).
  for (const [host, port] of [['paced.demo', 8080], ['plain.demo', 8081]] as const) {
    await until(`${host} routed`, async (last) => {
      const r = await call(`${host}:${port}`, `/warm-up-${Date.now()}`);
      last.seen = r;
      return r.status === 200 || r.status === 429 ? true : undefined;
    });
  }
}, 60_000);
afterAll(() => mesh?.stop());

describe('issue 15: retry on 429 honouring Retry-After, real Envoy sidecar', () => {
  it('with retryAfter: the sidecar waits as the 429 asked (rate-limited back-off) and the client sees 200', async () => {
    const before = await retries('paced');
    const r = await call('paced.demo:8080', '/ask/paced');
    expect(r).toEqual({ status: 200, body: 'ok after 1 refusal(s)\n' });
    expect(seen.get('/ask/paced')).toBe(2);
    const after = await retries('paced');
    expect(after.ratelimited - before.ratelimited).toBe(1);
    expect(after.exponential - before.exponential).toBe(0);
  });

  it('without a policy: the client sees the 429 itself, and the backend saw one request', async () => {
    const r = await call('plain.demo:8081', '/ask/plain');
    expect(r).toEqual({ status: 429, body: 'slow down\n' });
    expect(seen.get('/ask/plain')).toBe(1);
  });
});
