/**
 * Proven identity in a cluster (issue 6), against a real kube-apiserver: the
 * API server issues pod-bound service-account tokens (TokenRequest, standing
 * in for the kubelet's projected volume: no kubelet runs here) and reviews
 * them (TokenReview); Trellis matches the answer to the node id. Trellis asks
 * as its own service account under the RBAC of deploy/kubernetes.
 *
 * Then end to end: `serve --source kubernetes` with a CA, a sidecar stream
 * over TLS presenting `authorization: Bearer <token>` receives the
 * certificate of its pod's service account, and a mismatched one does not.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { WorkloadTokens } from '../../src/ca/token.ts';
import { KubeApiError, KubeRest, type Json } from '../../src/sources/kubernetes/rest.ts';
import { TokenReviewVerifier } from '../../src/identity/token-review.ts';
import { AnyOfVerifiers } from '../../src/identity/any-of.ts';
import { TOKEN_METADATA_KEY } from '../../src/identity/verifier.ts';
import { XdsTestClient } from '../support/ads-client.ts';
import { apply, deployDocs, KubeCluster, yamlObjects } from '../support/kube.ts';
import { identitySecrets, subscribeSds, tempDir, TRUST_BUNDLE_SECRET, uriSans, WORKLOAD_CERTIFICATE_SECRET } from '../security/support.ts';

const TD = 'cluster.local';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let cluster: KubeCluster;
let asTrellis: KubeRest;
let verifier: TokenReviewVerifier;
const uids = new Map<string, string>();

/** A TokenRequest for `sa`, bound to `pod` unless null: what the kubelet writes into a projected volume. */
async function tokenFor(sa: string, pod: string | null, audiences = ['trellis']): Promise<string> {
  const spec: Json = { audiences, expirationSeconds: 600 };
  if (pod) spec.boundObjectRef = { kind: 'Pod', apiVersion: 'v1', name: pod, uid: uids.get(pod) };
  const tr = await cluster.rest.post<Json>(`/api/v1/namespaces/shop/serviceaccounts/${sa}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });
  return String((tr.status as Json).token);
}

const pod = (name: string, sa: string, ip: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app: name.replace(/-\d+$/, '') } },
  spec: { serviceAccountName: sa, containers: [{ name: 'app', image: 'registry.example/app:1' }] },
  status: { podIP: ip },
});

beforeAll(async () => {
  cluster = await KubeCluster.start();
  await apply(cluster.rest, deployDocs().filter((d) => ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(String(d.kind))));
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
  await apply(cluster.rest, [pod('web-1', 'web', '10.0.0.11'), pod('db-1', 'db', '10.0.0.21'), pod('gone-1', 'web', '10.0.0.31')]);
  for (const name of ['web-1', 'db-1', 'gone-1']) uids.set(name, String(((await cluster.rest.get<Json>(`/api/v1/namespaces/shop/pods/${name}`)).metadata as Json).uid));

  // Trellis reviews tokens as its own service account: the ClusterRole must allow it.
  const tr = await cluster.rest.post<Json>('/api/v1/namespaces/trellis-system/serviceaccounts/trellis/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: cluster.server, caFile: path.join(cluster.dir, 'serving.crt') }],
    users: [{ name: 'trellis', token: String((tr.status as Json).token) }],
    contexts: [{ name: 'test', cluster: 'test', user: 'trellis' }],
    currentContext: 'test',
  });
  asTrellis = new KubeRest(kc);
  verifier = new TokenReviewVerifier({ rest: asTrellis, trustDomain: TD });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('TokenReviewVerifier against the API server', () => {
  it('a pod-bound token for audience trellis proves the pod\'s service account', async () => {
    const r = await verifier.verify(bearer(await tokenFor('web', 'web-1')), 'shop/web-1');
    expect(r).toMatchObject({ ok: true, identity: { spiffeId: `spiffe://${TD}/ns/shop/sa/web` } });
  });

  it('a token signed by another key is refused as forged', async () => {
    const real = await tokenFor('web', 'web-1');
    const [header, payload] = real.split('.') as [string, string];
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // Same header (alg ES256, the cluster's kid) and claims, another signer.
    const forged = `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    expect(await verifier.verify(bearer(forged), 'shop/web-1')).toMatchObject({ ok: false, reason: 'forged' });
  });

  it('a token of service account web, presented by a node claiming a pod of db, is a mismatch', async () => {
    const token = await tokenFor('web', 'web-1');
    const r = await verifier.verify(bearer(token), 'shop/db-1');
    expect(r).toMatchObject({ ok: false, reason: 'mismatch' });
    if (!r.ok) expect(r.message).toContain('shop/web-1');
    // Nor can one be minted for web bound to db's pod: the API server refuses.
    await expect(tokenFor('web', 'db-1')).rejects.toBeInstanceOf(KubeApiError);
  });

  it('a pod that the cluster knows with another service account or uid is a mismatch', async () => {
    const token = await tokenFor('web', 'web-1');
    const lying = new TokenReviewVerifier({ rest: asTrellis, trustDomain: TD, pod: () => ({ uid: uids.get('web-1'), serviceAccountName: 'db' }) });
    expect(await lying.verify(bearer(token), 'shop/web-1')).toMatchObject({ ok: false, reason: 'mismatch' });
    const replaced = new TokenReviewVerifier({ rest: asTrellis, trustDomain: TD, pod: () => ({ uid: 'another-uid', serviceAccountName: 'web' }) });
    expect(await replaced.verify(bearer(token), 'shop/web-1')).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('a token for another audience, or not bound to a pod, proves nothing', async () => {
    expect(await verifier.verify(bearer(await tokenFor('web', 'web-1', ['vault'])), 'shop/web-1')).toMatchObject({ ok: false, reason: 'forged' });
    expect(await verifier.verify(bearer(await tokenFor('web', null)), 'shop/web-1')).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('the token of a deleted pod is refused', async () => {
    const token = await tokenFor('web', 'gone-1');
    const fresh = new TokenReviewVerifier({ rest: asTrellis, trustDomain: TD });
    await cluster.rest.request('DELETE', '/api/v1/namespaces/shop/pods/gone-1', { gracePeriodSeconds: 0 });
    // Without a kubelet the pod lingers until its deletion is final; force it.
    await cluster.rest.request('DELETE', '/api/v1/namespaces/shop/pods/gone-1', { gracePeriodSeconds: 0 }).catch(() => {});
    expect(await fresh.verify(bearer(token), 'shop/gone-1')).toMatchObject({ ok: false });
  });

  it('missing, malformed, and a node id that is not ns/pod', async () => {
    expect(await verifier.verify({}, 'shop/web-1')).toMatchObject({ ok: false, reason: 'missing' });
    expect(await verifier.verify({ authorization: 'Basic abc' }, 'shop/web-1')).toMatchObject({ ok: false, reason: 'missing' });
    expect(await verifier.verify(bearer('not-a-jwt'), 'shop/web-1')).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await verifier.verify(bearer(await tokenFor('web', 'web-1')), 'web-1.shop')).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('reviews are cached per token, and an unreachable API server is "unavailable"', async () => {
    const v = new TokenReviewVerifier({ rest: asTrellis, trustDomain: TD });
    const token = await tokenFor('web', 'web-1');
    const results = await Promise.all(Array.from({ length: 5 }, () => v.verify(bearer(token), 'shop/web-1')));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(v.reviews).toBe(1);
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'x', server: 'https://127.0.0.1:1', skipTLSVerify: true }], users: [{ name: 'x', token: 'x' }], contexts: [{ name: 'x', cluster: 'x', user: 'x' }], currentContext: 'x' });
    const down = new TokenReviewVerifier({ rest: new KubeRest(kc, 2000), trustDomain: TD });
    expect(await down.verify(bearer(token), 'shop/web-1')).toMatchObject({ ok: false, reason: 'unavailable' });
  });

  it('composed with Trellis workload tokens, either proves an identity', async () => {
    const tokens = new WorkloadTokens({ signingKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, trustDomain: TD });
    const any = new AnyOfVerifiers(tokens, verifier);
    const trellisToken = tokens.issue({ spiffeId: `spiffe://${TD}/ns/shop/sa/web`, nodeId: 'shop/web-1' });
    expect(await any.verify({ [TOKEN_METADATA_KEY]: trellisToken }, 'shop/web-1')).toMatchObject({ ok: true });
    expect(await any.verify(bearer(await tokenFor('web', 'web-1')), 'shop/web-1')).toMatchObject({ ok: true });
    expect(await any.verify({}, 'shop/web-1')).toMatchObject({ ok: false, reason: 'missing' });
    // A bad credential says more than an absent one.
    expect(await any.verify(bearer(await tokenFor('web', 'web-1')), 'shop/db-1')).toMatchObject({ ok: false, reason: 'mismatch' });
  });
});

describe('serve --source kubernetes: SDS for a TokenReview-proven sidecar', () => {
  let server: RunningControlPlane;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = tempDir('kube-state');
    server = await startControlPlane({
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      kubernetes: { config: cluster.kc, debounceMs: 30, writeStatus: false },
      stateDir,
      log: pino({ level: process.env.TRELLIS_LOG_LEVEL ?? 'silent' }),
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const ASK = [WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET];
  const stream = (token: string) => {
    const creds = grpc.credentials.createSsl(Buffer.from(server.security!.ca.trustBundlePem()));
    const c = new XdsTestClient(`127.0.0.1:${server.xdsPort}`, { 'grpc.ssl_target_name_override': 'localhost', 'grpc.use_local_subchannel_pool': 1 }, creds);
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    return { c, s: c.sotw(md) };
  };

  it("the sidecar of shop/web-1 presenting its pod's token gets web's certificate; presenting it as db-1 gets none", async () => {
    const token = await tokenFor('web', 'web-1');
    const ok = stream(token);
    const mismatch = stream(token);
    try {
      const r = await subscribeSds(ok.s, { id: 'shop/web-1', cluster: 'web', user_agent_name: 'envoy' }, ASK, 10_000);
      const [secret] = identitySecrets(r);
      expect(secret && uriSans(secret.cert)).toEqual([`spiffe://${TD}/ns/shop/sa/web`]);
      const m = await subscribeSds(mismatch.s, { id: 'shop/db-1', cluster: 'db', user_agent_name: 'envoy' }, ASK, 10_000);
      expect(identitySecrets(m)).toEqual([]);
      expect(m.names).toEqual([TRUST_BUNDLE_SECRET]);
    } finally {
      ok.c.close();
      mismatch.c.close();
    }
  });

  it('issue 16 bug 13: a token the API server refuses (an answer that comes after the first flush) still gets the trust bundle', async () => {
    // A fresh forged token: no cached review, so the refusal needs a round trip
    // to the API server and arrives after the stream's first flush, which
    // skipped SDS while the identity was pending. Before the fix nothing
    // flushed SDS again and the stream never got an SDS response.
    const real = await tokenFor('web', 'web-1');
    const [header, payload] = real.split('.') as [string, string];
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    const refused = stream(forged);
    try {
      const r = await subscribeSds(refused.s, { id: 'shop/web-1', cluster: 'web', user_agent_name: 'envoy' }, ASK, 10_000);
      expect(identitySecrets(r)).toEqual([]);
      expect(r.names).toEqual([TRUST_BUNDLE_SECRET]);
    } finally {
      refused.c.close();
    }
  });
});
