/**
 * issue 15 end to end with real Envoy sidecars (loopback 127.0.60.x): request
 * authentication (JWT) with claim rules at the destination, hedging past a
 * slow instance, and an active health check taking out a backend whose
 * health path answers 503. One Trellis, four Envoys, strict authorization:
 *
 *   127.0.60.1  the issuer's key server (JWKS over HTTP, and garbage)
 *   127.0.60.2  client   — only its Envoy: the test calls its outbound listener
 *   127.0.60.3  web      — RequestAuthentications on four ports (URL + rules,
 *                          garbage URL, inline keys, unreachable URL)
 *   127.0.60.4  echo-a   — fast
 *   127.0.60.5  echo-b   — slow on /work; its /healthz can be made to say 503
 *
 * Tokens are signed here with node:crypto (test/support/jwt.ts). Nothing is
 * timed: the hedging case shows the hedge by the order of events (the fast
 * instance got its copy while the slow one still held the first), the health
 * check by which instance answers.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testIssuer, type TestIssuer } from '../support/jwt.ts';
import { meshConfig, NAMESPACE, pod, service, serviceAccounts, trafficTarget } from '../support/mesh-yaml.ts';
import { startSidecarMesh, type SidecarMesh } from '../support/sidecar-mesh.ts';

const NET = '127.0.60';
const KEYS = `${NET}.1`;
const CLIENT = `${NET}.2`;
const WEB = `${NET}.3`;
const ECHO_A = `${NET}.4`;
const ECHO_B = `${NET}.5`;
const APP = 18080;
const ISSUER = 'https://issuer.trellis.test';
const WEB_PORTS = [8080, 8081, 8082, 8083];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------ the applications
function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}

const keyFetches: string[] = [];
let issuer: TestIssuer;
const keyServer = http.createServer((req, res) => {
  keyFetches.push(req.url ?? '');
  if (req.url === '/jwks') res.writeHead(200, { 'content-type': 'application/json' }).end(issuer.jwks);
  else res.writeHead(200, { 'content-type': 'application/json' }).end('<html>this is not a key set</html>');
});

/** web: echoes the headers it got (what the sidecar forwarded: claims, no token). */
const webApp = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ headers: req.headers })));

/** echo-a and echo-b: who answered, and the order of events per request id. */
const echo = {
  health: { a: 200, b: 200 },
  slowB: true,
  /** Request ids echo-b holds open right now. */
  bOpen: new Set<string>(),
  seen: { a: [] as string[], b: [] as string[] },
  /** For each id echo-a received: was echo-b still holding the same request then? */
  aWhileBOpen: new Map<string, boolean>(),
  /** Which instance got each request id first (under load the fast one may be the one hedged from). */
  first: new Map<string, 'a' | 'b'>(),
};
function echoApp(name: 'a' | 'b'): http.Server {
  return http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.writeHead(echo.health[name]).end();
    const id = String(req.headers['x-test-id'] ?? '');
    echo.seen[name].push(`${req.url} ${id}`);
    if (!echo.first.has(id)) echo.first.set(id, name);
    if (name === 'a') echo.aWhileBOpen.set(id, echo.bOpen.has(id));
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ backend: name, id }));
    if (name === 'b' && echo.slowB && req.url === '/work') {
      echo.bOpen.add(id);
      const t = setTimeout(answer, 2000);
      res.on('close', () => {
        clearTimeout(t);
        echo.bOpen.delete(id);
      });
      return;
    }
    answer();
  });
}
const apps = [webApp, echoApp('a'), echoApp('b')];

// ------------------------------------------------------------ the mesh
function meshYaml(keysPort: number): Record<string, string> {
  const authn = (name: string, port: number, rule: string, extra = '') => `---
apiVersion: trellis.io/v1alpha1
kind: RequestAuthentication
metadata: {name: ${name}, namespace: demo}
spec:
  targetRef: {kind: Service, name: web, port: ${port}}
  jwtRules:
  - issuer: ${ISSUER}
    audiences: [web]
${rule}
${extra}`;
  return {
    'mesh.yaml': [
      NAMESPACE,
      meshConfig('Strict'),
      serviceAccounts('client', 'web', 'echo'),
      pod('client', 'client', CLIENT, 'client'),
      pod('web', 'web', WEB, 'web'),
      pod('echo-a', 'echo', ECHO_A, 'echo'),
      pod('echo-b', 'echo', ECHO_B, 'echo'),
      service('web', WEB_PORTS, [['web', WEB]]),
      service('echo', [8080], [['echo-a', ECHO_A], ['echo-b', ECHO_B]]),
      trafficTarget('client', 'web'),
      trafficTarget('client', 'echo'),
    ].join(''),
    'authn.yaml': [
      authn('web-jwt', 8080, `    jwksUri: http://${KEYS}:${keysPort}/jwks\n    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]`, '  rules:\n  - claims: {scope: [orders.read]}\n  - claims: {scope: [orders.admin]}\n    sources: [{kind: ServiceAccount, name: ops}]\n'),
      authn('web-garbage', 8081, `    jwksUri: http://${KEYS}:${keysPort}/garbage`),
      authn('web-inline', 8082, `    jwks: '${issuer.jwks}'`),
      // Port 1 on loopback: nothing listens, the connection is refused.
      authn('web-unreachable', 8083, `    jwksUri: http://${KEYS}:1/jwks`),
    ].join(''),
    'echo-policy.yaml': `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: echo, namespace: demo}
spec:
  targetRef: {kind: Service, name: echo}
  timeouts: {request: 5s, perTry: 150ms}
  retries: {attempts: 2, hedgeOnPerTryTimeout: true}
  healthCheck:
    http: {path: /healthz}
    interval: 300ms
    timeout: 250ms
    unhealthyThreshold: 2
    healthyThreshold: 1
`,
  };
}

// ------------------------------------------------------------ requests through the client's sidecar
interface Reply {
  status: number;
  body: string;
  json: any; // the applications' JSON: tests read it freely
}
function call(host: string, urlPath: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: CLIENT, port: 15001, path: urlPath, headers: { host, ...headers }, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          /* not JSON: an Envoy-made reply */
        }
        resolve({ status: res.statusCode ?? 0, body, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let mesh: SidecarMesh;
beforeAll(async () => {
  issuer = testIssuer(ISSUER);
  const keysPort = await listen(keyServer, KEYS, 0);
  await listen(webApp, WEB, APP);
  await listen(apps[1]!, ECHO_A, APP);
  await listen(apps[2]!, ECHO_B, APP);
  const appPorts = (ports: number[]) => new Map(ports.map((p) => [p, APP] as [number, number]));
  mesh = await startSidecarMesh(meshYaml(keysPort), [
    { workload: 'demo/client', ip: CLIENT },
    { workload: 'demo/web', ip: WEB, appPorts: appPorts(WEB_PORTS) },
    { workload: 'demo/echo-a', ip: ECHO_A, appPorts: appPorts([8080]) },
    { workload: 'demo/echo-b', ip: ECHO_B, appPorts: appPorts([8080]) },
  ]);
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await Promise.all([keyServer, ...apps].map((s) => new Promise((r) => s.close(r))));
});

/** Until `probe` holds (Envoy fetches keys and runs checks on its own clock); bounded. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

describe('issue 15: request authentication with real Envoy sidecars', () => {
  it('a JWT is accepted: keys fetched from the URL (and cached), the claim reaches the app as a header, the token does not', async () => {
    const token = issuer.sign({ sub: 'alice', aud: 'web', scope: 'orders.read orders.write' });
    const r = await eventually('a valid token accepted', async () => {
      const x = await call('web.demo:8080', '/', bearer(token));
      return x.status === 200 ? x : undefined;
    });
    expect(r.json.headers['x-jwt-sub']).toBe('alice');
    expect(r.json.headers.authorization).toBeUndefined();
    for (let i = 0; i < 5; i++) expect((await call('web.demo:8080', '/', bearer(token))).status).toBe(200);
    // Fetched by Envoy, cached: not once per request.
    const fetched = keyFetches.filter((u) => u === '/jwks').length;
    expect(fetched).toBeGreaterThanOrEqual(1);
    expect(fetched).toBeLessThan(6);
  }, 60_000);

  it('refused with 403: a wrong audience (Envoy: the token is genuine, but not meant for this service)', async () => {
    const r = await call('web.demo:8080', '/', bearer(issuer.sign({ sub: 'alice', aud: 'other', scope: 'orders.read' })));
    expect([r.status, r.body]).toEqual([403, 'Audiences in Jwt are not allowed']);
  });

  it.each([
    { name: 'expired', token: () => issuer.sign({ sub: 'alice', aud: 'web', scope: 'orders.read', iat: 1_600_000_000, exp: 1_600_003_600 }) },
    { name: 'unsigned (alg none)', token: () => issuer.unsigned({ sub: 'alice', aud: 'web', scope: 'orders.read' }) },
    { name: 'signed by another key', token: () => testIssuer(ISSUER).sign({ sub: 'mallory', aud: 'web', scope: 'orders.read' }) },
  ])('refused with 401: $name', async ({ token }) => {
    const r = await call('web.demo:8080', '/', bearer(token()));
    expect(r.status).toBe(401);
    console.log(`[e2e] ${r.status} "${r.body}"`);
  });

  it('claim rules: 401 without a token, 403 without the scope (or from the wrong caller), 200 with it', async () => {
    expect((await call('web.demo:8080', '/')).status).toBe(401);
    expect((await call('web.demo:8080', '/', bearer(issuer.sign({ sub: 'bob', aud: 'web', scope: 'orders.write' })))).status).toBe(403);
    expect((await call('web.demo:8080', '/', bearer(issuer.sign({ sub: 'bob', aud: 'web', scope: ['orders.read'] })))).status).toBe(200);
    // A rule's sources AND its claims: orders.admin is only for callers running as "ops", and this one is "client".
    expect((await call('web.demo:8080', '/', bearer(issuer.sign({ sub: 'bob', aud: 'web', scope: 'orders.admin' })))).status).toBe(403);
    // The claim RBAC keeps its own stats beside the TrafficTarget RBAC's (docs/names.md).
    expect(await mesh.admin(WEB, '/stats?filter=rbac.claims')).toMatch(/http\.inbound_8080\.rbac\.claims\.denied: [1-9]/);
  });

  it('inline keys, no rules: a token is optional but checked when present', async () => {
    expect((await call('web.demo:8082', '/')).status).toBe(200);
    expect((await call('web.demo:8082', '/', bearer(issuer.sign({ aud: 'web' })))).status).toBe(200);
    expect((await call('web.demo:8082', '/', bearer(issuer.unsigned({ aud: 'web' })))).status).toBe(401);
  });

  it('a JWKS URL returning garbage or unreachable: config accepted, tokens refused with 401, requests without one still served', async () => {
    const intents = await (await fetch(`http://127.0.0.1:${mesh.server.adminPort}/api/v1/intents`)).json() as { intents: Array<{ name: string; conditions: Array<{ type: string; status: string }> }> };
    for (const name of ['web-garbage', 'web-unreachable']) {
      expect(intents.intents.find((i) => i.name === name)?.conditions.find((c) => c.type === 'Accepted')?.status).toBe('True');
    }
    const token = issuer.sign({ sub: 'alice', aud: 'web' });
    for (const port of [8081, 8083]) {
      const r = await call(`web.demo:${port}`, '/', bearer(token));
      expect(r.status, `port ${port}: ${r.body}`).toBe(401);
      console.log(`[e2e] JWKS on port ${port} cannot be used: HTTP ${r.status} "${r.body}"`);
      expect((await call(`web.demo:${port}`, '/')).status).toBe(200);
    }
    expect(keyFetches).toContain('/garbage');
    const stats = await mesh.admin(WEB, '/stats?filter=jwks_fetch');
    console.log(`[e2e] web sidecar JWKS stats:\n${stats}`);
  });
});

describe('issue 15: hedging and active health checks with real Envoy sidecars', () => {
  const flags = (ip: string) => `echo.demo:8080::${ip}:8080::health_flags::`;
  /** Both echo instances have passed their first active check (until then the client uses only the one that has). */
  const bothHealthy = () => eventually('both echo instances healthy', async () => {
    const clusters = await mesh.admin(CLIENT, '/clusters');
    return clusters.includes(`${flags(ECHO_A)}healthy`) && clusters.includes(`${flags(ECHO_B)}healthy`) ? true : undefined;
  });

  it('a hedged request beats the slow instance: the fast one gets a copy while the slow one still holds the first, and answers', async () => {
    await bothHealthy();
    // The admin page shows a health change before every worker's balancer has it (about a
    // second): a request sent in between can have only the slow instance to hedge to.
    await sleep(1500);
    // Until round robin has sent a few first attempts to the slow one (a worker picks up a
    // health change within about a second of the admin page showing it); bounded.
    const replies: Reply[] = [];
    const firstOnB = () => echo.seen.b.filter((s) => s.startsWith('/work ')).map((s) => s.split(' ')[1]!).filter((id) => echo.first.get(id) === 'b');
    const until = Date.now() + 10_000;
    for (let i = 0; i < 200 && firstOnB().length < 3 && Date.now() < until; i++) {
      replies.push(await call('echo.demo:8080', '/work', { 'x-test-id': `hedge-${i}` }));
      await sleep(20);
    }
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    expect(replies.filter((r) => r.json.backend !== 'a').map((r) => r.json.id), 'answered by the slow instance').toEqual([]);
    expect(firstOnB().length).toBeGreaterThanOrEqual(3);
    for (const id of firstOnB()) expect(echo.aWhileBOpen.get(id), id).toBe(true);
  }, 60_000);

  it('an active health check removes a backend that answers 503 on its health path, and brings it back', async () => {
    await bothHealthy();
    echo.health.b = 503;
    await eventually('echo-b marked failed by the active check', async () => ((await mesh.admin(CLIENT, '/clusters')).includes(`${flags(ECHO_B)}/failed_active_hc`) ? true : undefined));
    // Then the worker's balancer follows (within about a second): 8 requests in a row all
    // answered by echo-a, and none reaching echo-b. Bounded: at most 40 requests.
    let inARow = 0;
    let before = echo.seen.b.length;
    for (let i = 0; i < 40 && inARow < 8; i++) {
      const r = await call('echo.demo:8080', '/fast', { 'x-test-id': `hc-${i}` });
      if (r.json?.backend === 'a' && echo.seen.b.length === before) inARow++;
      else [inARow, before] = [0, echo.seen.b.length];
      if (inARow === 0) await sleep(100);
    }
    expect(inARow).toBe(8);
    echo.health.b = 200;
    await eventually('echo-b healthy again', async () => ((await mesh.admin(CLIENT, '/clusters')).includes(`${flags(ECHO_B)}healthy`) ? true : undefined));
  }, 60_000);
});
