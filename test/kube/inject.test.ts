/**
 * `trellis inject` against a real kube-apiserver (issue 6): the injected
 * workloads pass a server-side dry run with strict field validation (native
 * sidecar, projected token volume, security contexts, sysctls are all what
 * the API accepts); and the injected pod, created for real, runs its
 * sidecar's parts on this machine — no kubelet here, so the test plays it:
 * a TokenRequest bound to the pod stands in for the projected volume, the
 * injected `trellis-bootstrap` init container's command runs with its
 * environment, and the real Envoy runs with the injected sidecar's arguments,
 * connects to `serve --source kubernetes` over TLS, proves the pod's identity
 * with a TokenReview and receives the pod's certificate over SDS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { findEnvoy } from '../../src/runtime/envoy-bin.ts';
import { injectManifest } from '../../src/inject/manifest.ts';
import { DEFAULT_INJECT_OPTIONS, NAMES, type InjectOptions } from '../../src/inject/options.ts';
// Objects read back from the API server: plain JSON, read loosely.
type Json = Record<string, any>;
import { apply, freePort, KubeCluster, pathOf, yamlObjects } from '../support/kube.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const TD = 'cluster.local';
const POD_IP = '127.0.0.7'; // the pod's address: loopback, so its sidecar's inbound listener can bind it here

let cluster: KubeCluster;
const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-kube-inject-'));

const template = (extra = '') => `
    metadata:
      labels: {app: web}
    spec:
      serviceAccountName: web${extra}
      containers:
      - name: app
        image: registry.example/web:1
        ports: [{name: http, containerPort: 8080}]`;
const SERVICE = (port: number) => `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.7.7
  selector: {app: web}
  ports: [{name: http, port: ${port}, targetPort: http}]
`;
const WORKLOADS = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:${template()}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: shop}
spec:
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:${template()}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:${template()}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: web, namespace: shop}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:${template('\n      restartPolicy: Never').replace(/\n/g, '\n    ')}
`;

const PLURALS: Record<string, string> = { StatefulSet: 'statefulsets', DaemonSet: 'daemonsets', CronJob: 'cronjobs' };
const collection = (o: Json) => {
  const api = String(o.apiVersion);
  const plural = PLURALS[String(o.kind)];
  return plural ? `/apis/${api}/namespaces/shop/${plural}` : pathOf(o, false);
};

beforeAll(async () => {
  cluster = await KubeCluster.start();
  await apply(cluster.rest, yamlObjects(`apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {trellis.io/mesh: enabled}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
`));
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const opts = (o: Partial<InjectOptions> = {}): InjectOptions => ({ ...DEFAULT_INJECT_OPTIONS, caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', ...o });

describe('server-side dry run of injected workloads', () => {
  it.each([
    { sidecar: 'native', o: {} },
    { sidecar: 'classic', o: { nativeSidecar: false } },
  ])('Deployment, StatefulSet, DaemonSet and CronJob with the $sidecar sidecar are accepted, strictly', async ({ o }) => {
    const r = injectManifest(`${WORKLOADS}---\n${SERVICE(80)}`, opts(o));
    expect(r.injected).toHaveLength(4);
    const objects = parseAllDocuments(r.yaml).map((d) => d.toJS() as Json).filter((x) => x.kind !== 'Service');
    for (const obj of objects) {
      const created = await cluster.rest.post<Json>(collection(obj), obj, { dryRun: 'All', fieldValidation: 'Strict' });
      const podSpec = (obj.kind === 'CronJob' ? created.spec.jobTemplate.spec.template.spec : created.spec.template.spec) as Json;
      // What the API server stored is what inject wrote (defaults aside).
      expect(podSpec.initContainers.map((c: Json) => c.name)).toEqual(o.nativeSidecar === false ? [NAMES.iptables, NAMES.bootstrap] : [NAMES.iptables, NAMES.bootstrap, NAMES.proxy]);
      expect(podSpec.volumes.find((v: Json) => v.name === NAMES.tokenVolume).projected.sources[0].serviceAccountToken).toEqual({ audience: 'trellis', expirationSeconds: 2592000, path: 'token' });
    }
    // A dry run stores nothing.
    await expect(cluster.rest.get('/apis/apps/v1/namespaces/shop/deployments/web')).rejects.toMatchObject({ status: 404 });
  });
});

describe('the injected pod, its parts run here', () => {
  let server: RunningControlPlane;
  let stateDir: string;
  let envoy: ChildProcess | undefined;
  let envoyLog = '';
  beforeAll(async () => {
    stateDir = path.join(tmp, 'state');
    server = await startControlPlane({
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      kubernetes: { config: cluster.kc, debounceMs: 30, writeStatus: false },
      stateDir,
      log: pino({ level: process.env.TRELLIS_LOG_LEVEL ?? 'silent' }),
    });
  }, 60_000);
  afterAll(async () => {
    envoy?.kill('SIGKILL');
    await server?.stop();
  });

  it('bootstrap from the projected token, Envoy over TLS, TokenReview, and the pod\'s certificate over SDS', async () => {
    const servicePort = await freePort();
    const pod = `apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec:
  serviceAccountName: web
  containers:
  - name: app
    image: registry.example/web:1
    ports: [{name: http, containerPort: 8080}]
`;
    const r = injectManifest(`${pod}---\n${SERVICE(servicePort)}`, opts({ caPem: server.security!.ca.trustBundlePem(), xdsAddress: `127.0.0.1:${server.xdsPort}` }));
    const [injected, service] = parseAllDocuments(r.yaml).map((d) => d.toJS() as Json);
    // The injected pod and its service, for real (what a kubelet would then run).
    await apply(cluster.rest, [{ ...injected!, status: { podIP: POD_IP } }, service!]);
    // No EndpointSlice: the API server refuses loopback endpoints; the Service selects the pod, which is what gives its sidecar the inbound listener.
    const stored = await cluster.rest.get<Json>('/api/v1/namespaces/shop/pods/web-1');
    const initContainers = stored.spec.initContainers as Json[];
    const tokenVolume = (stored.spec.volumes as Json[]).find((v) => v.name === NAMES.tokenVolume)!.projected.sources[0].serviceAccountToken;

    // The kubelet's part: the projected token (audience, bound to this pod).
    const tr = await cluster.rest.post<Json>('/api/v1/namespaces/shop/serviceaccounts/web/token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: [tokenVolume.audience], expirationSeconds: tokenVolume.expirationSeconds, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web-1', uid: stored.metadata.uid } },
    });
    const tokenDir = mkdtempSync(path.join(tmp, 'token-'));
    const bootstrapDir = mkdtempSync(path.join(tmp, 'bootstrap-'));
    const tokenFile = path.join(tokenDir, 'token');
    writeFileSync(tokenFile, String(tr.status.token));

    // The init container trellis-bootstrap: its arguments and environment, with the pod's paths mapped here.
    const boot = initContainers.find((c) => c.name === NAMES.bootstrap)!;
    const ports = { admin: await freePort(), outbound: await freePort() };
    const args = (boot.args as string[]).map((a) => a.replace('/var/run/secrets/trellis/token', tokenFile).replace('/etc/trellis/envoy.yaml', path.join(bootstrapDir, 'envoy.yaml')).replace('127.0.0.1:15000', `127.0.0.1:${ports.admin}`));
    // Here the pod shares the machine's network: explicit mode, so the sidecar binds the pod address rather than 0.0.0.0:15001.
    args[args.indexOf('--mode') + 1] = 'explicit';
    args.push('--outbound-address', `127.0.0.1:${ports.outbound}`);
    const env: Record<string, string> = { POD_NAME: stored.metadata.name, POD_NAMESPACE: stored.metadata.namespace };
    for (const e of boot.env as Json[]) if (e.value !== undefined) env[e.name] = e.value;
    const code = await new Promise<number | null>((resolve) => {
      const c = spawn(process.execPath, [path.join(REPO, 'bin/trellis.js'), ...args], { env: { ...process.env, ...env }, stdio: 'inherit' });
      c.on('close', resolve);
    });
    expect(code).toBe(0);
    const bootstrap = readFileSync(path.join(bootstrapDir, 'envoy.yaml'), 'utf8');
    // Issue 13: the bootstrap names the token's file (Envoy reads it on every stream), not the token.
    expect(bootstrap).toContain(`filename: ${tokenFile}`);
    expect(bootstrap).not.toContain(String(tr.status.token));

    // The sidecar: the real Envoy with the injected arguments.
    const proxy = initContainers.find((c) => c.name === NAMES.proxy)!;
    const envoyArgs = (proxy.args as string[]).map((a) => a.replace('/etc/trellis/envoy.yaml', path.join(bootstrapDir, 'envoy.yaml')));
    envoy = spawn(findEnvoy(), [...envoyArgs, '--base-id', String(ports.admin)], { stdio: ['ignore', 'pipe', 'pipe'] });
    envoy.stderr!.on('data', (b) => (envoyLog = (envoyLog + b).slice(-4000)));
    const spiffeId = `spiffe://${TD}/ns/shop/sa/web`;
    const deadline = Date.now() + 25_000;
    let certs = '';
    while (Date.now() < deadline && !certs.includes(spiffeId)) {
      await new Promise((res) => setTimeout(res, 250));
      certs = await fetch(`http://127.0.0.1:${ports.admin}/certs`).then((x) => x.text()).catch(() => '');
    }
    expect(certs, `Envoy's /certs never showed ${spiffeId}; Envoy said:\n${envoyLog}`).toContain(spiffeId);
    // Its inbound listener (mTLS with that certificate) is up on the pod address.
    const listeners = await fetch(`http://127.0.0.1:${ports.admin}/listeners`).then((x) => x.text());
    expect(listeners).toContain(`${POD_IP}:${servicePort}`);
  }, 50_000);
});
