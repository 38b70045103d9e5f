/**
 * Helper of test/e2e/gateway-api-mesh-transparent.test.ts, run by its harness
 * (netns.ts runInPodHarness, subnet 10.77.0) inside a private network
 * namespace (the "node", 10.77.0.1 on br0) with two pod namespaces (pids
 * argv[3], comma-separated): the conformance mesh's echo-v1 (10.77.0.2, the
 * calling pod of both cases) and echo-v2 (10.77.0.3). Each pod runs the
 * suite's echo-basic on 8080 (the Services' targetPort), the redirect
 * `trellis inject` writes and a transparent-mode Envoy as the proxy uid.
 * Trellis serves the suite's mesh manifests (gamma-mesh.ts conformanceMesh:
 * one Pod per Deployment, the controller's EndpointSlices), each Service
 * given a ClusterIP as the apiserver would (10.77.96.x), and the case's own
 * manifest (tests/mesh/mesh-frontend.yaml).
 *
 * The suite's client execs `client http://<host>` in the echo-v1 pod; here
 * curl runs in that pod's namespace as root (so redirected to its sidecar),
 * with the Service name resolved to its ClusterIP as cluster DNS would, and
 * the Host the suite sends. One line `RESULT <json>`: per case and
 * expectation name, the last answers (each request repeated until 3 answer
 * 200 in a row, at most 10 times); the test compares them.
 *
 * argv: <work dir> <pod pids: echo-v1,echo-v2> <envoy binary>
 */
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { iptablesScript } from '../../src/inject/iptables.ts';
import { proxiesInSync } from '../../src/server/sync-status.ts';
import { PROXY_UID } from '../../src/translate/sidecar.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { MESH_CASES, type Expectation } from './gamma-cases.ts';
import { caseManifests, conformanceMesh, MESH_NS, type MeshPod, type MeshResponse } from './gamma-mesh.ts';
import { echoBasicBin } from './gateway-api.ts';
import { until } from './edge-e2e.ts';
import { HelperProcesses, runHelper, startPlane } from './pod-helper.ts';

const [dir, pids, envoy] = process.argv.slice(2) as [string, string, string];
const XDS = '10.77.0.1:18000';
const APP_PORT = 8080;

/** The suite's mesh with only the two pods the cases need, and a ClusterIP per Service. */
function mesh(): { yaml: string; pods: MeshPod[]; clusterIps: Map<string, string> } {
  const m = conformanceMesh({
    file: 'mesh/manifests.yaml',
    ipBase: '10.77.0.',
    deployment: (ns, name) => ns === MESH_NS && (name === 'echo-v1' || name === 'echo-v2'),
    appPorts: () => new Map(),
  });
  const clusterIps = new Map<string, string>();
  const objects = parseAllDocuments(m.yaml).map((d) => d.toJSON() as Record<string, any>);
  for (const o of objects.filter((x) => x.kind === 'Service')) {
    o.spec.clusterIP = `10.77.96.${clusterIps.size + 10}`;
    clusterIps.set(`${o.metadata.namespace}/${o.metadata.name}`, o.spec.clusterIP);
  }
  return { yaml: `${objects.map((o) => JSON.stringify(o)).join('\n---\n')}\n---\n${caseManifests('mesh-frontend.yaml')}`, pods: m.pods, clusterIps };
}

const procs = new HelperProcesses(dir);
const run = procs.run.bind(procs);

/** `curl -i` output → status, lowercased headers, echo-basic's JSON when the body is that. */
function parseCurl(out: string): MeshResponse {
  const at = out.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = out.slice(0, at).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) headers[l.slice(0, l.indexOf(':')).trim().toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  let echo: MeshResponse['echo'];
  try {
    const parsed = JSON.parse(out.slice(at + 4)) as MeshResponse['echo'];
    if (parsed && typeof parsed.pod === 'string') echo = parsed;
  } catch { /* not echo-basic's answer (a 404 from Envoy) */ }
  return { status: Number(statusLine?.split(' ')[1] ?? 0), headers, ...(echo ? { echo } : {}) };
}

async function main(): Promise<void> {
  const { yaml, pods, clusterIps } = mesh();
  const { server, stateDir } = await startPlane(dir, yaml, XDS);
  try {
    const model = server.mesh!.model!;
    const pidOf = new Map(pods.map((p, i) => [p.name, pids.split(',')[i]!]));
    const inPod = (p: MeshPod, args: string[]) => ['-t', pidOf.get(p.name)!, '-n', ...args];
    // The pods' Envoys run as the proxy uid, which must read their bootstraps.
    chmodSync(dir, 0o755);
    writeFileSync(path.join(dir, 'init.sh'), iptablesScript({ excludeInboundPorts: [], xdsPort: 18000, excludePorts: [], excludeCidrs: [] }));
    const flags = ['--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'];
    for (const p of pods) {
      // As `trellis inject` orders them: the application, the redirect, the sidecar.
      const env = ['env', `HTTP_PORT=${APP_PORT}`, 'H2C_PORT=8081', `POD_NAME=${p.name}`, `NAMESPACE=${p.namespace}`, `SERVICE_NAME=${p.name.replace(/-0$/, '')}`];
      run('nsenter', inPod(p, [...env, echoBasicBin()]), `${p.name}-app.log`);
      const init = run('nsenter', inPod(p, ['env', `TMPDIR=${dir}`, `XTABLES_LOCKFILE=${dir}/xtables-${p.name}.lock`, 'sh', path.join(dir, 'init.sh')]), `${p.name}-init.log`);
      await new Promise((r) => init.once('exit', r));
      if (init.exitCode !== 0) throw new Error(`init.sh exited ${init.exitCode} in ${p.name}`);
      const bootstrap = await workloadBootstrapYaml({ model, workloadKey: `${p.namespace}/${p.name}`, stateDir, mode: 'transparent', xdsAddress: XDS, adminAddress: `${p.ip}:15000` });
      writeFileSync(path.join(dir, `${p.name}.yaml`), bootstrap, { mode: 0o644 });
      run('nsenter', inPod(p, ['setpriv', `--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', envoy, '-c', path.join(dir, `${p.name}.yaml`), ...flags]), `${p.name}-envoy.log`);
    }
    const ids = pods.map((p) => `${p.namespace}/${p.name}`);
    await until('both Envoys in sync', async () => ((await proxiesInSync(server.xds.syncStatus(), ids, [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.Route])) ? true : undefined));

    const client = pods.find((p) => p.labels.version === 'v1')!;
    const podIp = (name: string) => pods.find((p) => p.name === `${name}-0`)!.ip;
    /** The URL the suite's client would call (DNS: a Service name → its ClusterIP; POD_IP:<app>:<port>: the pod's address) and the Host it sends. */
    const target = (e: Expectation) => {
      const host = e.request.host ?? 'echo';
      const pod = /^POD_IP:(.+):(\d+)$/.exec(host);
      if (pod) return { url: `http://${podIp(pod[1]!)}:${pod[2]}/`, host: `${podIp(pod[1]!)}:${pod[2]}` };
      const [name, port] = host.split(':') as [string, string | undefined];
      return { url: `http://${clusterIps.get(`${MESH_NS}/${name}`)}:${port ?? 80}${e.request.path ?? '/'}`, host };
    };
    const request = async (e: Expectation): Promise<MeshResponse> => {
      const t = target(e);
      const headers = { Host: t.host, ...e.request.headers };
      const args = ['-s', '-i', '--max-time', '5', '-X', e.request.method ?? 'GET', ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), t.url];
      const { stdout } = await promisify(execFile)('nsenter', inPod(client, ['curl', ...args]), { encoding: 'utf8', timeout: 10_000 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
      return parseCurl(stdout);
    };

    const result: Record<string, Record<string, MeshResponse[]>> = {};
    for (const c of MESH_CASES.filter((x) => x.transparent)) {
      result[c.name] = {};
      for (const e of c.expectations!) {
        const answers: MeshResponse[] = [];
        for (let i = 0; i < 10 && !(answers.length >= 3 && answers.slice(-3).every((a) => a.status === 200)); i++) {
          answers.push(await request(e));
          if (answers.at(-1)!.status !== 200) await new Promise((r) => setTimeout(r, 200));
        }
        result[c.name]![e.name!] = answers.slice(-3);
      }
    }
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    procs.killAll();
    await server.stop();
  }
}

runHelper(procs, main);
