/**
 * Issue 13, "identity that outlives its token": a sidecar whose bootstrap
 * token has expired reconnects after Trellis restarts and proves its identity
 * with the token the kubelet has rotated in, so it gets a fresh certificate
 * (SDS) and the config of the restarted Trellis. Real kube-apiserver
 * (TokenReview), real Envoy, Trellis restarted in between on the same port
 * and state dir.
 *
 * The short-lived token: the API server mints no token shorter than 600 s
 * (TokenRequest's minimum expirationSeconds), and its
 * --service-account-max-token-expiration cannot go below an hour. So the test
 * takes a real pod-bound token from the TokenRequest API and re-signs its
 * claims, with an `exp` 40 s in the past, with the API server's own
 * service-account signing key (the harness made it). For the API server that
 * is a token it issued with a short lifetime: same issuer, audience, pod
 * binding (name and uid) and key. TokenReview accepts it for its 60 s
 * clock-skew leeway past `exp`, so for about 20 s, then refuses it as
 * expired, as it would a 30-day token on day 31. The
 * kubelet's part, rotating the projected token in place, is writing a fresh
 * TokenRequest token over the file.
 *
 * Beside it, two sidecars that must not get a certificate after the restart:
 * one started from a bootstrap that carries its token (the form before this
 * fix: its token is the expired one for ever), and one that reads another
 * pod's token file (a rotated token proves only its own pod).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { clusterBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { findEnvoy } from '../../src/runtime/envoy-bin.ts';
import { envoyBootstrap } from '../../src/translate/bootstrap.ts';
import { apply, freePort, KubeCluster, yamlObjects } from '../support/kube.ts';

// Objects read back from the API server: plain JSON, read loosely.
type Json = Record<string, any>;

const TD = 'cluster.local';
const WEB = `spiffe://${TD}/ns/shop/sa/web`;
/** The short-lived tokens are refused within about 20 s (see the test). */
const EXPIRY_TIMEOUT_MS = 60_000;

let cluster: KubeCluster;
const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-kube-outlived-'));
const envoys: ChildProcess[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Pod as the API server holds it, with an address for its sidecar's inbound listener. */
const pod = (name: string, sa: string, ip: string) => ({
  ...yamlObjects(`apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: shop, labels: {app: ${name}}}
spec:
  serviceAccountName: ${sa}
  containers: [{name: app, image: registry.example/app:1, ports: [{name: http, containerPort: 8080}]}]
`)[0]!,
  status: { podIP: ip },
});

const service = (name: string, app: string, port: number) => yamlObjects(`apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {app: ${app}}
  ports: [{name: http, port: ${port}, targetPort: http}]
`);

async function tokenFor(podName: string, sa: string, expirationSeconds = 3600): Promise<string> {
  const stored = await cluster.rest.get<Json>(`/api/v1/namespaces/shop/pods/${podName}`);
  const tr = await cluster.rest.post<Json>(`/api/v1/namespaces/shop/serviceaccounts/${sa}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { audiences: ['trellis'], expirationSeconds, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: podName, uid: stored.metadata.uid } },
  });
  return String(tr.status.token);
}

/** The same token with `exp` moved to `expSeconds`, signed again with the API server's key (see the file comment). */
function withExpiry(token: string, expSeconds: number): string {
  const [header, payload] = token.split('.') as [string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Json;
  const body = Buffer.from(JSON.stringify({ ...claims, exp: expSeconds })).toString('base64url');
  const key = createPrivateKey(readFileSync(path.join(cluster.dir, 'sa.key')));
  const signature = sign('sha256', Buffer.from(`${header}.${body}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${header}.${body}.${signature}`;
}

async function review(token: string): Promise<Json> {
  const r = await cluster.rest.post<Json>('/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['trellis'] } });
  return r.status as Json;
}

interface Sidecar {
  admin: number;
  log: () => string;
}

async function runEnvoy(bootstrapYaml: string, name: string): Promise<Sidecar> {
  const file = path.join(tmp, `${name}.yaml`);
  writeFileSync(file, bootstrapYaml);
  const admin = Number(/admin:\n\s+address:\n\s+socket_address:\n\s+address: [\d.]+\n\s+port_value: (\d+)/.exec(bootstrapYaml)?.[1]);
  const envoy = spawn(findEnvoy(), ['-c', file, '--disable-hot-restart', '--log-level', 'warn', '--drain-time-s', '1', '--base-id', String(admin)], { stdio: ['ignore', 'ignore', 'pipe'] });
  envoys.push(envoy);
  let log = '';
  envoy.stderr!.on('data', (b) => (log = (log + b).slice(-4000)));
  return { admin, log: () => log };
}

/** Envoy's /certs: the serial of its certificate for `spiffeId`, or undefined. */
async function serialOf(s: Sidecar, spiffeId: string): Promise<string | undefined> {
  const body = await fetch(`http://127.0.0.1:${s.admin}/certs`).then((r) => r.json() as Promise<Json>).catch(() => ({}) as Json);
  for (const c of (body.certificates ?? []) as Json[]) {
    for (const cert of (c.cert_chain ?? []) as Json[]) {
      const uris = ((cert.subject_alt_names ?? []) as Json[]).map((n) => n.uri);
      if (uris.includes(spiffeId)) return String(cert.serial_number);
    }
  }
  return undefined;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, context = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${context()}`);
    await sleep(250);
  }
}

/** The identity states of a node's streams on the running Trellis. */
function identityOf(server: RunningControlPlane, node: string): string[] {
  return server.xds.syncStatus().find((n) => n.node.id === node)?.streams.map((s) => s.identityState) ?? [];
}

/** Every URI SAN of the certificates Envoy holds (/certs). */
async function certUris(s: Sidecar): Promise<string[]> {
  const body = (await fetch(`http://127.0.0.1:${s.admin}/certs`).then((r) => r.json())) as Json;
  return ((body.certificates ?? []) as Json[]).flatMap((c) => ((c.cert_chain ?? []) as Json[]).flatMap((cert) => ((cert.subject_alt_names ?? []) as Json[]).map((n) => String(n.uri))));
}

beforeAll(async () => {
  cluster = await KubeCluster.start();
  await apply(cluster.rest, yamlObjects(`apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {trellis.io/mesh: enabled}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: db, namespace: shop}
`));
}, 120_000);

afterAll(async () => {
  for (const e of envoys) e.kill('SIGKILL');
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('issue 13: identity that outlives its token', () => {
  let server: RunningControlPlane | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it('after its token expired and Trellis restarted, the sidecar reconnects with the rotated token and gets a fresh certificate and config; the old bootstrap form and another pod\'s token get none', async () => {
    const stateDir = path.join(tmp, 'state');
    const xdsPort = await freePort();
    const start = () =>
      startControlPlane({
        xdsAddress: `127.0.0.1:${xdsPort}`,
        adminAddress: '127.0.0.1:0',
        kubernetes: { config: cluster.kc, debounceMs: 30, writeStatus: false },
        stateDir,
        log: pino({ level: process.env.TRELLIS_LOG_LEVEL ?? 'silent' }),
      });
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    await apply(cluster.rest, [pod('web-1', 'web', '127.0.0.21'), pod('web-2', 'web', '127.0.0.22'), pod('db-3', 'db', '127.0.0.23'), ...service('web-1', 'web-1', p1), ...service('web-2', 'web-2', p2), ...service('db-3', 'db-3', p3)]);
    server = await start();
    const caPem = server.security!.ca.trustBundlePem();

    // Tokens that die in about 20 s: TokenReview accepts a token up to 60 s
    // past its exp (the API server's clock-skew leeway), so exp is 40 s ago.
    const exp = Math.floor(Date.now() / 1000) - 40;
    const short1 = withExpiry(await tokenFor('web-1', 'web'), exp);
    const short2 = withExpiry(await tokenFor('web-2', 'web'), exp);
    expect((await review(short1)).authenticated, 'the API server accepts a token within 60 s of its exp').toBe(true);
    const tokenFile1 = path.join(tmp, 'web-1.token');
    writeFileSync(tokenFile1, short1);

    const common = { trustDomain: TD, caPem, mode: 'explicit' as const, xdsAddress: `127.0.0.1:${xdsPort}` };
    // web-1: the bootstrap trellis bootstrap --token-file writes now (it names the file).
    const web1 = await runEnvoy(await clusterBootstrapYaml({ ...common, tokenFile: tokenFile1, nodeId: 'shop/web-1', adminAddress: `127.0.0.1:${await freePort()}`, outboundAddress: `127.0.0.1:${await freePort()}` }), 'web-1');
    // web-2: the form before issue 13, the token itself in the ADS stream's initial metadata.
    const old = envoyBootstrap({
      nodeId: 'shop/web-2', cluster: 'web-2', workload: 'shop/web-2', mode: 'explicit',
      xds: { address: '127.0.0.1', port: xdsPort }, trustedCaPem: caPem, serverSpiffeId: `spiffe://${TD}/ns/trellis-system/sa/trellis`,
      admin: { address: '127.0.0.1', port: await freePort() }, outboundAddress: `127.0.0.1:${await freePort()}`,
    });
    old.dynamic_resources.ads_config.grpc_services![0]!.initial_metadata = [{ key: 'authorization', value: `Bearer ${short2}` }];
    const web2 = await runEnvoy(stringify(old, { lineWidth: 0 }), 'web-2');
    // db-3: pod of service account db, reading web-1's token file.
    const db3 = await runEnvoy(await clusterBootstrapYaml({ ...common, tokenFile: tokenFile1, nodeId: 'shop/db-3', adminAddress: `127.0.0.1:${await freePort()}`, outboundAddress: `127.0.0.1:${await freePort()}` }), 'db-3');

    const before = await until('web-1 gets its certificate', () => serialOf(web1, WEB), 30_000, web1.log);
    await until('web-2 gets its certificate', () => serialOf(web2, WEB), 30_000, web2.log);
    await until('db-3 is refused', async () => identityOf(server!, 'shop/db-3').includes('refused'), 30_000, db3.log);

    // The tokens the sidecars started with expire; their live streams keep their secrets.
    const refused = await until('the short-lived tokens expire', async () => {
      const [a, b] = [await review(short1), await review(short2)];
      return !a.authenticated && !b.authenticated && a;
    }, EXPIRY_TIMEOUT_MS);
    expect(String(refused.error)).toMatch(/expired/);
    expect(await serialOf(web1, WEB)).toBe(before);
    // The kubelet has rotated web-1's projected token in place. Trellis restarts,
    // and while it is away a service appears: only a Trellis that serves web-1
    // again gives it that cluster.
    writeFileSync(tokenFile1, await tokenFor('web-1', 'web'));
    await server.stop();
    server = undefined;
    const pNew = await freePort();
    await apply(cluster.rest, service('db', 'db-3', pNew));
    // A restart restores each workload's still-good certificate from the state dir (issue 14,
    // src/ca/leaf-store.ts; tested by test/security/restart-leaves.test.ts). Dropped here, so the
    // certificate web-1 gets next is one the new process signed, which SDS gives it only once the
    // rotated token has proved its identity.
    rmSync(path.join(stateDir, 'leaves'), { recursive: true, force: true });
    server = await start();
    const after = await until('web-1 gets a fresh certificate from the restarted Trellis', async () => {
      const s = await serialOf(web1, WEB);
      return s !== undefined && s !== before && s;
    }, 60_000, web1.log);
    expect(after).not.toBe(before);
    await until('web-1 gets the restarted Trellis\'s config', async () => (await fetch(`http://127.0.0.1:${web1.admin}/clusters`).then((r) => r.text())).includes(`db.shop:${pNew}`), 30_000, web1.log);
    expect(identityOf(server, 'shop/web-1')).toEqual(['proven']);

    // The old form presents the expired token for ever: refused, no secret.
    await until('web-2 reconnects and is refused', async () => identityOf(server!, 'shop/web-2').includes('refused'), 60_000, web2.log);
    await until('db-3 reconnects and is refused', async () => identityOf(server!, 'shop/db-3').includes('refused'), 60_000, db3.log);
    const metrics = await fetch(`http://127.0.0.1:${server.adminPort}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/trellis_identity_failures_total\{reason="expired"\} [1-9]/);
    expect(metrics).toMatch(/trellis_identity_failures_total\{reason="mismatch"\} [1-9]/);
    // db-3 never held a certificate: not web's (the token's), not db's (the node's).
    expect(await certUris(db3)).toEqual([]);
  }, 300_000);
});
