/**
 * A real Kubernetes API server for tests: Debian's etcd and a kube-apiserver
 * built from the Go module proxy by scripts/kube-apiserver.sh, on loopback,
 * random free ports, temp dirs. No controller-manager, scheduler or kubelet:
 * EndpointSlices and pod status are written by the test, as PEERS.md notes.
 *
 * A missing binary is an error that says how to get it, never a skip.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { KubeApiError, KubeRest, type Json } from '../../src/sources/kubernetes/rest.ts';
import { crdFiles } from '../../src/cli/install-manifests.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where scripts/kube-apiserver.sh keeps the binary (KUBE_APISERVER_BIN overrides). */
export function kubeApiserverPath(): string {
  return execFileSync('bash', [path.join(ROOT, 'scripts/kube-apiserver.sh'), '--path'], { encoding: 'utf8' }).trim();
}

export function etcdPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir || '.', 'etcd');
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Why the cluster cannot start here, or null. Tests fail with this text. */
export function kubeMissingReason(): string | null {
  const problems: string[] = [];
  const marker = path.join(ROOT, '.cache/kube-missing');
  if (existsSync(marker)) problems.push(readFileSync(marker, 'utf8').trim());
  const bin = kubeApiserverPath();
  if (!existsSync(bin)) problems.push(`kube-apiserver is not built at ${bin}: run \`bash scripts/kube-apiserver.sh\` (10-20 minutes the first time; scripts/test.sh runs it)`);
  if (!etcdPath()) problems.push('etcd is not installed: run `bash scripts/setup-kube.sh` (Debian package etcd-server)');
  return problems.length > 0 ? [...new Set(problems)].join('; ') : null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  log: string;
}

function launch(bin: string, args: string[], log: string): Proc {
  const fd = openSync(log, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, log };
}

async function terminate(p: Proc | undefined, graceMs = 5000): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const done = await Promise.race([p.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** Polls `check` until it returns true; fails early if `proc` exits. */
async function waitFor(what: string, proc: Proc, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${what}: the process exited (code ${proc.child.exitCode}); last lines of ${proc.log}:\n${tail(proc.log)}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs} ms; last lines of ${proc.log}:\n${tail(proc.log)}`);
    await sleep(150);
  }
}

function httpsGet(url: string, opts: { ca: string; token: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(url), { ca: opts.ca, headers: { Authorization: `Bearer ${opts.token}` }, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

export interface KubeClusterOptions {
  /** How long to wait for /readyz (the first start on a loaded machine can be slow). Default 90 s. */
  readyTimeoutMs?: number;
  /** Default RBAC (the admin token is in system:masters), so service accounts' roles are enforced. */
  authorizationMode?: 'RBAC' | 'AlwaysAllow';
}

/**
 * One etcd and one or more API servers on it. `apiserver` is the one the code
 * under test talks to; `extraApiserver()` starts another on the same etcd, so
 * a test can change objects while the first one is down.
 */
export class KubeCluster {
  readonly token = 'trellis-test-admin-token';
  readonly kubeconfigPath: string;
  readonly kc: KubeConfig;
  /** A raw client on the primary API server, for test writes. */
  readonly rest: KubeRest;
  private etcd?: Proc;
  private apiservers = new Map<number, Proc>();

  private constructor(
    readonly dir: string,
    readonly etcdUrl: string,
    readonly port: number,
    private readonly bin: string,
    private readonly opts: KubeClusterOptions,
  ) {
    this.kubeconfigPath = this.writeKubeconfig(port);
    this.kc = new KubeConfig();
    this.kc.loadFromFile(this.kubeconfigPath);
    this.rest = new KubeRest(this.kc);
  }

  get server(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  static async start(opts: KubeClusterOptions = {}): Promise<KubeCluster> {
    const missing = kubeMissingReason();
    if (missing) throw new Error(`no Kubernetes API server for this test: ${missing}`);
    const dir = mkdtempSync(path.join(tmpdir(), 'trellis-kube-'));
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    makeCredentials(dir);
    const cluster = new KubeCluster(dir, etcdUrl, apiPort, kubeApiserverPath(), opts);
    try {
      await cluster.startEtcd(peerPort);
      await cluster.startApiserver();
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  private async startEtcd(peerPort: number): Promise<void> {
    const peer = `http://127.0.0.1:${peerPort}`;
    mkdirSync(path.join(this.dir, 'etcd'), { mode: 0o700 });
    this.etcd = launch(etcdPath()!, [
      '--name', 'trellis-test',
      '--data-dir', path.join(this.dir, 'etcd'),
      '--listen-client-urls', this.etcdUrl, '--advertise-client-urls', this.etcdUrl,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `trellis-test=${peer}`,
      '--log-level', 'warn',
    ], path.join(this.dir, 'etcd.log'));
    await waitFor('etcd', this.etcd, async () => (await fetch(`${this.etcdUrl}/health`)).ok, 30_000);
  }

  /** Starts (or restarts) the API server on `port` (default: the primary) and waits for /readyz. */
  async startApiserver(port = this.port): Promise<void> {
    if (this.apiservers.has(port)) throw new Error(`an API server already runs on ${port}`);
    const d = this.dir;
    const proc = launch(this.bin, [
      `--etcd-servers=${this.etcdUrl}`,
      '--bind-address=127.0.0.1', `--secure-port=${port}`,
      `--tls-cert-file=${d}/serving.crt`, `--tls-private-key-file=${d}/serving.key`,
      `--cert-dir=${d}/certs`,
      `--token-auth-file=${d}/tokens.csv`,
      `--authorization-mode=${this.opts.authorizationMode ?? 'RBAC'}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${d}/sa.pub`, `--service-account-signing-key-file=${d}/sa.key`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--disable-admission-plugins=ServiceAccount',
      '--endpoint-reconciler-type=none',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
    ], path.join(d, `apiserver-${port}.log`));
    this.apiservers.set(port, proc);
    const ca = readFileSync(path.join(d, 'serving.crt'), 'utf8');
    try {
      await waitFor(`kube-apiserver on ${port}`, proc, async () => (await httpsGet(`https://127.0.0.1:${port}/readyz`, { ca, token: this.token })).status === 200, this.opts.readyTimeoutMs ?? 90_000);
    } catch (e) {
      await terminate(proc);
      this.apiservers.delete(port);
      throw e;
    }
  }

  /** Stops the API server on `port` (default: the primary); etcd keeps the data. */
  async stopApiserver(port = this.port): Promise<void> {
    await terminate(this.apiservers.get(port));
    this.apiservers.delete(port);
  }

  /** Another API server on the same etcd, and a raw client for it. */
  async extraApiserver(): Promise<{ port: number; rest: KubeRest }> {
    const port = await freePort();
    await this.startApiserver(port);
    const kc = new KubeConfig();
    kc.loadFromFile(this.writeKubeconfig(port));
    return { port, rest: new KubeRest(kc) };
  }

  /** Compacts etcd's history up to now, so a watch resuming from an older resourceVersion gets 410 Gone. */
  async compactEtcd(): Promise<number> {
    const head = (await (await fetch(`${this.etcdUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('\0').toString('base64') }) })).json()) as { header: { revision: string } };
    const revision = Number(head.header.revision);
    const res = await fetch(`${this.etcdUrl}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
    if (!res.ok) throw new Error(`etcd compaction: HTTP ${res.status} ${await res.text()}`);
    return revision;
  }

  async stop(): Promise<void> {
    for (const port of [...this.apiservers.keys()]) await this.stopApiserver(port);
    await terminate(this.etcd);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A kubeconfig that authenticates as the trellis service account of deploy/kubernetes (applied first). */
  async serviceAccountConfig(): Promise<KubeConfig> {
    const tr = await this.rest.post<Json>('/api/v1/namespaces/trellis-system/serviceaccounts/trellis/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: this.server, caFile: path.join(this.dir, 'serving.crt') }],
      users: [{ name: 'trellis', token: String((tr.status as Json).token) }],
      contexts: [{ name: 'test', cluster: 'test', user: 'trellis' }],
      currentContext: 'test',
    });
    return kc;
  }

  logOf(port = this.port): string {
    return tail(path.join(this.dir, `apiserver-${port}.log`), 40);
  }

  private writeKubeconfig(port: number): string {
    const file = path.join(this.dir, `kubeconfig-${port}.yaml`);
    writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:${port}
    certificate-authority: ${path.join(this.dir, 'serving.crt')}
users:
- name: admin
  user:
    token: ${this.token}
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
`);
    return file;
  }
}

/** Serving cert (self-signed, SAN 127.0.0.1), service-account keys, the admin token. */
function makeCredentials(dir: string): void {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, 'serving.key'), '-out', path.join(dir, 'serving.crt'), '-days', '2',
    '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', path.join(dir, 'sa.key'));
  ossl('pkey', '-in', path.join(dir, 'sa.key'), '-pubout', '-out', path.join(dir, 'sa.pub'));
  writeFileSync(path.join(dir, 'tokens.csv'), 'trellis-test-admin-token,admin,admin-uid,system:masters\n');
  mkdirSync(path.join(dir, 'certs'));
}

// --- writing objects the way an operator would --------------------------------

/** The REST path of an object's collection (or of the object itself with a name). */
export function resourcePath(obj: Json, plural: string, name?: string): string {
  const apiVersion = String(obj.apiVersion);
  const meta = (obj.metadata ?? {}) as Json;
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = typeof meta.namespace === 'string' && !CLUSTER_SCOPED.has(String(obj.kind)) ? `/namespaces/${meta.namespace}` : '';
  return `${base}${ns}/${plural}${name ? `/${name}` : ''}`;
}

const CLUSTER_SCOPED = new Set(['Namespace', 'MeshConfig', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'GatewayClass']);
const PLURALS: Record<string, string> = {
  Namespace: 'namespaces', Service: 'services', Pod: 'pods', ServiceAccount: 'serviceaccounts', EndpointSlice: 'endpointslices',
  TrafficSplit: 'trafficsplits', HTTPRouteGroup: 'httproutegroups', TrafficTarget: 'traffictargets', TrafficPolicy: 'trafficpolicies', RequestAuthentication: 'requestauthentications',
  MeshConfig: 'meshconfigs', CustomResourceDefinition: 'customresourcedefinitions', HTTPRoute: 'httproutes', GRPCRoute: 'grpcroutes', TCPRoute: 'tcproutes', Rollout: 'rollouts',
  Deployment: 'deployments', ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings', Role: 'roles', RoleBinding: 'rolebindings',
  Secret: 'secrets', ConfigMap: 'configmaps', Lease: 'leases', MutatingWebhookConfiguration: 'mutatingwebhookconfigurations',
  GatewayClass: 'gatewayclasses', Gateway: 'gateways',
};

export function pathOf(obj: Json, withName = true): string {
  const plural = PLURALS[String(obj.kind)];
  if (!plural) throw new Error(`test helper: no plural for ${String(obj.kind)}`);
  return resourcePath(obj, plural, withName ? String((obj.metadata as Json).name) : undefined);
}

/** Every object of deploy/kubernetes, in file order. */
export function deployDocs(): Json[] {
  const dir = path.join(ROOT, 'deploy/kubernetes');
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().flatMap((f) => yamlObjects(readFileSync(path.join(dir, f), 'utf8')));
}

export function yamlObjects(text: string): Json[] {
  return parseAllDocuments(text).map((d) => d.toJSON() as Json).filter((o) => o && typeof o === 'object');
}

/**
 * Creates or replaces each object. A Pod's `status` (ignored on create) is then
 * written through the status subresource, standing in for the kubelet.
 */
export async function apply(rest: KubeRest, objects: readonly Json[]): Promise<void> {
  for (const obj of objects) {
    const { status, ...spec } = obj;
    try {
      await rest.post<Json>(pathOf(obj, false), spec);
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 409)) throw e;
      const current = await rest.get<Json>(pathOf(obj));
      const rv = (current.metadata as Json).resourceVersion;
      await rest.put<Json>(pathOf(obj), { ...spec, metadata: { ...(spec.metadata as Json), resourceVersion: rv } });
    }
    if (obj.kind === 'Pod' && status) {
      const s = status as Json;
      const ip = s.podIP as string | undefined;
      await rest.patch(`${pathOf(obj)}/status`, { status: { phase: 'Running', ...(ip ? { podIPs: [{ ip }] } : {}), ...s } }, 'merge');
    }
  }
}

export async function remove(rest: KubeRest, obj: Json): Promise<void> {
  await rest.delete(pathOf(obj)).catch((e: unknown) => {
    if (!(e instanceof KubeApiError && e.status === 404)) throw e;
  });
}

/** Installs the CRDs in deploy/crds and waits until each is Established. */
export async function installCrds(rest: KubeRest): Promise<string[]> {
  const names: string[] = [];
  for (const f of crdFiles()) {
    for (const crd of yamlObjects(readFileSync(f, 'utf8'))) {
      await apply(rest, [crd]);
      names.push(String((crd.metadata as Json).name));
    }
  }
  const deadline = Date.now() + 30_000;
  for (const name of names) {
    for (;;) {
      const crd = await rest.get<Json>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const conds = (((crd.status as Json | undefined)?.conditions ?? []) as Json[]);
      if (conds.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established: ${JSON.stringify(conds)}`);
      await sleep(100);
    }
  }
  return names;
}

/**
 * `bin/trellis.js ARGS` as an operator runs it, with $KUBECONFIG cleared (the
 * test's --kubeconfig is the only cluster it may reach): exit code and output.
 */
export function trellisCli(args: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', [path.join(ROOT, 'bin/trellis.js'), ...args], { timeout: timeoutMs, maxBuffer: 64 << 20, env: { ...process.env, KUBECONFIG: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
