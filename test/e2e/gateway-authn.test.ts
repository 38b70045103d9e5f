/**
 * Issue 15, "the ingress gateway uses the same" request authentication, end
 * to end on loopback 127.0.160.41-42: one Trellis on a folder, one gateway
 * Envoy bootstrapped as `trellis bootstrap --gateway` does, a backend
 * without a sidecar (plaintext). A RequestAuthentication targeting the
 * Gateway with an inline JWKS and a claim rule: the gateway itself refuses a
 * bad token (401) and a good token without the scope (403), and passes a
 * good one with it, its claim forwarded as a header; without the
 * RequestAuthentication the same requests all pass.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { gatewayBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { ADMIN_PORT } from '../../src/translate/sidecar.ts';
import { get, until } from '../support/edge-e2e.ts';
import { testIssuer } from '../support/jwt.ts';
import { writeYaml } from '../support/mesh-harness.ts';
import { envoyBin } from '../support/venv.ts';
import { TRELLIS_GATEWAY_CLASS_YAML } from '../../src/model/gateway-testing.ts';

const GW_IP = '127.0.160.41';
const APP_IP = '127.0.160.42';
const HTTP_PORT = 18080;
const HOST = 'shop.example.com';
const idp = testIssuer('https://idp.example.com');
const other = testIssuer('https://idp.example.com');

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: demo}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 8080, appProtocol: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: shop-1, namespace: demo, labels: {app: shop}, annotations: {trellis.io/inject: "false"}}
spec: {containers: [{name: app}]}
status: {podIP: ${APP_IP}, phase: Running}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: shop-1, namespace: demo, labels: {kubernetes.io/service-name: shop}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [${APP_IP}], conditions: {ready: true}, targetRef: {kind: Pod, name: shop-1}}]
---
${TRELLIS_GATEWAY_CLASS_YAML}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: demo}
spec:
  gatewayClassName: trellis
  listeners: [{name: http, port: ${HTTP_PORT}, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: demo}
spec:
  parentRefs: [{name: edge}]
  hostnames: [${HOST}]
  rules: [{backendRefs: [{name: shop, port: 8080}]}]
`;

const AUTHN = `apiVersion: trellis.io/v1alpha1
kind: RequestAuthentication
metadata: {name: edge-tokens, namespace: demo}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: edge}
  jwtRules:
  - issuer: ${idp.issuer}
    audiences: [shop]
    jwks: '${idp.jwks}'
    outputClaimToHeaders: [{header: x-user, claim: sub}]
  rules:
  - claims: {scope: [shop.buy]}
`;

let root: string;
let dir: string;
let server: RunningControlPlane;
let app: http.Server;
let envoy: ChildProcess | undefined;
const NODE = 'edge-gateway-authn';

const call = (token?: string) => get(`http://${GW_IP}:${HTTP_PORT}/cart`, { host: HOST, ...(token ? { authorization: `Bearer ${token}` } : {}) });
const good = (claims: Record<string, unknown> = {}) => idp.sign({ sub: 'alice', aud: 'shop', scope: 'shop.buy', ...claims });

async function write(name: string, text: string | undefined): Promise<void> {
  if (text === undefined) rmSync(path.join(dir, name));
  else writeYaml(dir, name, text);
  await server.mesh!.flush();
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'trellis-gw-authn-'));
  dir = path.join(root, 'mesh');
  mkdirSync(dir);
  writeYaml(dir, 'mesh.yaml', MESH);
  writeYaml(dir, 'authn.yaml', AUTHN);
  const stateDir = path.join(root, 'state');
  server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir, stateDir, reloadDebounceMs: 30 });
  app = http.createServer((q, s) => s.end(JSON.stringify({ user: q.headers['x-user'] ?? null, token: q.headers.authorization ? 'forwarded' : null })));
  await new Promise<void>((resolve, reject) => app.once('error', reject).listen(8080, APP_IP, resolve));
  const yaml = await gatewayBootstrapYaml({ model: server.mesh!.model!, gatewayKey: 'demo/edge', nodeId: NODE, stateDir, xdsAddress: `127.0.0.1:${server.xdsPort}`, adminAddress: `${GW_IP}:${ADMIN_PORT}`, listenAddress: GW_IP });
  const file = path.join(root, 'gateway.yaml');
  writeFileSync(file, yaml, { mode: 0o600 });
  const log = path.join(root, 'gateway.log');
  envoy = spawn(envoyBin(), ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1', '--base-id-path', path.join(root, 'base-id'), '--use-dynamic-base-id'], { stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')] });
  await until('the gateway serves', async (last) => {
    if (envoy!.exitCode !== null) throw new Error(`Envoy exited:\n${readFileSync(log, 'utf8').slice(-3000)}`);
    const r = await call(good());
    last.seen = r;
    return r.status === 200 ? true : undefined;
  }, 40_000);
}, 90_000);

afterAll(async () => {
  if (envoy && envoy.exitCode === null) envoy.kill('SIGKILL');
  await new Promise((r) => app?.close(r));
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('issue 15: a RequestAuthentication on the Gateway, real gateway Envoy', () => {
  it('a valid token with the scope passes, its claim forwarded as a header', async () => {
    const r = await call(good());
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ user: 'alice' });
  });

  it.each([
    { name: 'no token (the claim rule needs one: as at a sidecar)', token: undefined, status: 401 },
    { name: 'a token signed by another key', token: other.sign({ sub: 'mallory', aud: 'shop', scope: 'shop.buy' }), status: 401 },
    { name: 'an unsigned token (alg: none)', token: idp.unsigned({ sub: 'mallory', aud: 'shop', scope: 'shop.buy' }), status: 401 },
    { name: 'an expired token', token: good({ exp: Math.floor(Date.now() / 1000) - 600 }), status: 401 },
    { name: 'the wrong audience', token: good({ aud: 'billing' }), status: 403 },
    { name: 'a valid token without the scope', token: good({ scope: 'shop.browse' }), status: 403 },
  ])('the gateway refuses $name with $status', async ({ token, status }) => {
    expect((await call(token)).status).toBe(status);
  });

  it('without the RequestAuthentication the gateway checks nothing: the same requests pass', async () => {
    await write('authn.yaml', undefined);
    await until('a request without a token passes', async (last) => {
      const r = await call();
      last.seen = { r, log: readFileSync(path.join(root, 'gateway.log'), 'utf8').slice(-1500) };
      return r.status === 200 ? r : undefined;
    });
    expect((await call(other.sign({ sub: 'mallory' }))).status).toBe(200);
  });
});
