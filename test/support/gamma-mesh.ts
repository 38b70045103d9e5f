/**
 * The Gateway API conformance suite's mesh, on loopback: its own manifests
 * (conformance/mesh/manifests.yaml of sigs.k8s.io/gateway-api/conformance,
 * scripts/setup-gateway-api.sh) translated once, here, into what the file
 * source reads — each Deployment becomes one Pod on a 127.0.70.x address, and
 * each Service gets the EndpointSlice the controller would write — then a
 * real Trellis, a real Envoy sidecar per pod (explicit mode) and a real
 * echo-basic per pod (the suite's echo server, which answers with the request
 * it received as JSON).
 *
 * The suite's mesh client (`echo.MeshPod`) execs into a pod and calls
 * `http://<host><path>`; here the request goes to that pod's sidecar outbound
 * listener with the same Host, which is what the pod's own call would do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { proxiesInSync } from '../../src/server/sync-status.ts';
import { ADMIN_PORT, OUTBOUND_PORT } from '../../src/translate/sidecar.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { conformanceModule, echoBasicBin } from './gateway-api.ts';
import { writeYaml } from './mesh-harness.ts';
import { envoyBin } from './venv.ts';

type Json = Record<string, any>; // manifests: walked freely

export const MESH_NS = 'gateway-conformance-mesh';
export const CONSUMER_NS = 'gateway-conformance-mesh-consumer';
/** This suite's loopback range (each helper's e2e tests have their own). */
const IP_BASE = '127.0.70.';

/**
 * Which of the suite's manifests become the mesh: the MESH profile's
 * (default), or the gateway profile's conformance/base/manifests.yaml
 * (test/support/gateway-conformance.ts) with its Gateways.
 */
export interface SuiteManifests {
  /** Path inside the conformance module. */
  file: string;
  /** Pod addresses are `<ipBase><2, 3, …>`. */
  ipBase: string;
  /** Objects kept as they are, besides Namespaces and Services (Deployments become Pods, the rest is left out). */
  keepKinds?: readonly string[];
  /** Deployments that become a Pod; default every one. */
  deployment?: (namespace: string, name: string) => boolean;
  /** Placeholders of the manifests (`{GATEWAY_CLASS_NAME}`) and their values. */
  substitute?: Readonly<Record<string, string>>;
  /**
   * The port the EndpointSlices name: the targetPort, as the controller writes
   * it (default), or the Service port, where an explicit-mode sidecar's
   * inbound listener is (for Services whose targetPort is no Service port).
   */
  endpointPort?: 'target' | 'service';
  /** The port each echo-basic port answers behind: a sidecar's inbound port → echo's port. */
  appPorts(echo: { http: number; h2c: number; grpc: number }): Map<number, number>;
}

const MESH_MANIFESTS: SuiteManifests = {
  file: 'mesh/manifests.yaml',
  ipBase: IP_BASE,
  // The suite's Services send 80 and 8080 to the echo's HTTP port, 7070 (grpc) to the gRPC echo.
  appPorts: (echo) => new Map([[80, echo.http], [8080, echo.http], [7070, echo.grpc]]),
};

export interface MeshPod {
  namespace: string;
  name: string;
  ip: string;
  labels: Record<string, string>;
}

function docs(text: string): Json[] {
  return parseAllDocuments(text).map((d) => d.toJSON() as Json).filter((o) => o && typeof o === 'object');
}

function toYaml(objects: readonly Json[]): string {
  return objects.map((o) => JSON.stringify(o)).join('\n---\n');
}

/** The suite's base mesh as file-source objects: Namespaces, Services, one Pod per Deployment, EndpointSlices. */
export function conformanceMesh(m: SuiteManifests = MESH_MANIFESTS): { yaml: string; pods: MeshPod[] } {
  let text = readFileSync(path.join(conformanceModule(), m.file), 'utf8');
  for (const [k, v] of Object.entries(m.substitute ?? {})) text = text.replaceAll(k, v);
  const objects = docs(text);
  const out: Json[] = [];
  const pods: MeshPod[] = [];
  for (const o of objects.filter((x) => x.kind === 'Deployment' && (m.deployment?.(x.metadata.namespace, x.metadata.name) ?? true))) {
    const labels = o.spec.template.metadata.labels as Record<string, string>;
    const pod: MeshPod = { namespace: o.metadata.namespace, name: `${o.metadata.name}-0`, ip: `${m.ipBase}${pods.length + 2}`, labels };
    pods.push(pod);
    out.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod.name, namespace: pod.namespace, labels }, spec: { containers: [{ name: 'echo' }] }, status: { podIP: pod.ip } });
  }
  for (const o of objects) {
    if (o.kind === 'Namespace' || m.keepKinds?.includes(o.kind)) out.push(o);
    if (o.kind !== 'Service') continue;
    out.push(o, controllerSlice(o, pods, m.endpointPort));
  }
  return { yaml: toYaml(out), pods };
}

/**
 * The EndpointSlice the endpoint controller writes for a Service with a
 * selector: the selected pods, at the port `endpointPort` says
 * (SuiteManifests.endpointPort).
 */
export function controllerSlice(service: Json, pods: readonly MeshPod[], endpointPort: SuiteManifests['endpointPort']): Json {
  const selector = service.spec.selector as Record<string, string>;
  const selected = pods.filter((p) => p.namespace === service.metadata.namespace && Object.entries(selector).every(([k, v]) => p.labels[k] === v));
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: `${service.metadata.name}-0`, namespace: service.metadata.namespace, labels: { 'kubernetes.io/service-name': service.metadata.name } },
    addressType: 'IPv4',
    ports: (service.spec.ports as Json[]).map((p) => ({ name: p.name, port: endpointPort === 'service' ? p.port : (p.targetPort ?? p.port), protocol: 'TCP' })),
    endpoints: selected.map((p) => ({ addresses: [p.ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: p.name, namespace: p.namespace } })),
  };
}

/** A case's manifests, as the module carries them (tests/mesh/<file>). */
export function caseManifests(file: string): string {
  return readFileSync(path.join(conformanceModule(), 'tests/mesh', file), 'utf8');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function kill(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { p.kill('SIGKILL'); resolve(); }, 3000);
    p.once('exit', () => { clearTimeout(t); resolve(); });
    p.kill('SIGTERM');
  });
}

export interface MeshRequest {
  host: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
}

export interface MeshResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** echo-basic's JSON (the request it received), when the body is that. */
  echo?: { path: string; host: string; method: string; headers: Record<string, string[]>; pod: string; namespace: string };
}

export class GammaMesh {
  private constructor(
    readonly dir: string,
    readonly stateDir: string,
    readonly server: RunningControlPlane,
    readonly pods: readonly MeshPod[],
    private readonly procs: ChildProcess[],
  ) {}

  /** `extra`: more files for the folder, written before Trellis starts. */
  static async start(m: SuiteManifests = MESH_MANIFESTS, extra: Readonly<Record<string, string>> = {}): Promise<GammaMesh> {
    const dir = mkdtempSync(path.join(tmpdir(), 'trellis-gamma-'));
    const stateDir = path.join(dir, '.state');
    const meshDir = path.join(dir, 'mesh');
    const logDir = path.join(dir, 'logs');
    mkdirSync(meshDir);
    mkdirSync(logDir);
    const { yaml, pods } = conformanceMesh(m);
    writeYaml(meshDir, 'base.yaml', yaml);
    for (const [name, text] of Object.entries(extra)) writeYaml(meshDir, name, text);
    const echo = echoBasicBin();
    const envoy = envoyBin();
    const server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: meshDir, stateDir, reloadDebounceMs: 20 });
    const procs: ChildProcess[] = [];
    const mesh = new GammaMesh(meshDir, stateDir, server, pods, procs);
    try {
      for (const pod of pods) {
        const [httpPort, h2cPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
        const log = openSync(path.join(logDir, `${pod.namespace}-${pod.name}.log`), 'a');
        const context = { POD_NAME: pod.name, NAMESPACE: pod.namespace, SERVICE_NAME: pod.name.replace(/-0$/, '') };
        procs.push(spawn(echo, [], { env: { HTTP_PORT: String(httpPort), H2C_PORT: String(h2cPort), ...context }, stdio: ['ignore', log, log] }));
        // The same binary as the suite's gRPC echo server (GrpcEcho), for the grpc port.
        procs.push(spawn(echo, [], { env: { GRPC_ECHO_SERVER: '1', HTTP_PORT: String(grpcPort), ...context }, stdio: ['ignore', log, log] }));
        const key = `${pod.namespace}/${pod.name}`;
        const bootstrap = await workloadBootstrapYaml({
          model: server.mesh!.model!,
          workloadKey: key,
          stateDir,
          mode: 'explicit',
          xdsAddress: `127.0.0.1:${server.xdsPort}`,
          adminAddress: `${pod.ip}:${ADMIN_PORT}`,
          outboundAddress: `${pod.ip}:${OUTBOUND_PORT}`,
          appPorts: m.appPorts({ http: httpPort, h2c: h2cPort, grpc: grpcPort }),
          appAddress: '127.0.0.1',
        });
        const file = path.join(dir, `${pod.namespace}-${pod.name}.bootstrap.yaml`);
        writeFileSync(file, bootstrap, { mode: 0o600 });
        procs.push(spawn(envoy, ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'], { stdio: ['ignore', log, log] }));
      }
      await mesh.synced();
      for (const pod of pods) {
        await until(`${pod.name}'s Envoy LIVE`, async () => (await getText(pod.ip, ADMIN_PORT, '/ready').catch(() => '')) === 'LIVE\n', 30_000);
      }
      return mesh;
    } catch (e) {
      await mesh.stop();
      throw e;
    }
  }

  /** Every Envoy has ACKed the current clusters, listeners and routes. */
  async synced(timeoutMs = 30_000): Promise<void> {
    const ids = this.pods.map((p) => `${p.namespace}/${p.name}`);
    for (const p of this.procs) if (p.exitCode !== null) throw new Error(`a process of the mesh exited (code ${p.exitCode}); logs in ${path.dirname(this.dir)}/logs`);
    await until('every Envoy in sync', () => proxiesInSync(this.server.xds.syncStatus(), ids, [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.Route]), timeoutMs);
  }

  /** Writes a file into the watched folder, applies it, waits until every Envoy ACKed the result. */
  async apply(name: string, yaml: string): Promise<void> {
    writeYaml(this.dir, name, yaml);
    await this.server.mesh!.flush();
    await this.synced();
  }

  async remove(name: string): Promise<void> {
    rmSync(path.join(this.dir, name), { force: true });
    await this.server.mesh!.flush();
    await this.synced();
  }

  pod(namespace: string, labels: string): MeshPod {
    const want = Object.fromEntries(labels.split(',').map((kv) => kv.split('=') as [string, string]));
    const p = this.pods.find((x) => x.namespace === namespace && Object.entries(want).every(([k, v]) => x.labels[k] === v));
    if (!p) throw new Error(`no pod ${labels} in ${namespace}`);
    return p;
  }

  /**
   * The request a pod's application makes to http://<host><path>: through its
   * sidecar's outbound listener. A Host in `headers` is sent instead (as the
   * suite's client does with -H Host:...). Redirects are not followed.
   */
  request(from: MeshPod, r: MeshRequest): Promise<MeshResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: from.ip, port: OUTBOUND_PORT, path: r.path ?? '/', method: r.method ?? 'GET', headers: { host: r.host, ...Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])) }, timeout: 5000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let echo: MeshResponse['echo'];
          try {
            const parsed = JSON.parse(text) as MeshResponse['echo'];
            if (parsed && typeof parsed.pod === 'string') echo = parsed;
          } catch { /* not echo-basic's answer (a redirect, a 404 from Envoy) */ }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, ...(echo ? { echo } : {}) });
        });
      });
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  /**
   * A gRPC call of GrpcEcho/Echo (conformance/echo-basic/grpcecho.proto) that a
   * pod's application makes to `authority` (e.g. echo:7070) through its
   * sidecar; the answering pod's name.
   */
  async grpcEcho(from: MeshPod, authority: string): Promise<string> {
    const client = (this.grpcClients[`${from.ip} ${authority}`] ??= new (grpcEchoService())(`${from.ip}:${OUTBOUND_PORT}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority }) as unknown as EchoClient);
    return new Promise((resolve, reject) => {
      client.Echo({}, { deadline: Date.now() + 5000 }, (err, res) => {
        if (err) reject(err);
        else resolve(res?.assertions?.context?.pod ?? '');
      });
    });
  }

  private readonly grpcClients: Record<string, EchoClient> = {};

  async stop(): Promise<void> {
    for (const c of Object.values(this.grpcClients)) c.close();
    await Promise.all(this.procs.map(kill));
    await this.server.stop();
    rmSync(path.dirname(this.dir), { recursive: true, force: true });
  }
}

type EchoReply = { assertions?: { context?: { pod?: string } } };
type EchoClient = grpc.Client & { Echo(req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: EchoReply) => void): void };
let echoService: grpc.ServiceClientConstructor | undefined;

/** The suite's GrpcEcho service, loaded from the module's proto. */
function grpcEchoService(): grpc.ServiceClientConstructor {
  if (!echoService) {
    const def = protoLoader.loadSync(path.join(conformanceModule(), 'echo-basic/grpcecho.proto'), { keepCase: false });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { gateway_api_conformance: { echo_basic: { grpcecho: { GrpcEcho: grpc.ServiceClientConstructor } } } };
    echoService = pkg.gateway_api_conformance.echo_basic.grpcecho.GrpcEcho;
  }
  return echoService;
}

/** An admin page's text (Envoy's /ready). */
export function getText(host: string, port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
