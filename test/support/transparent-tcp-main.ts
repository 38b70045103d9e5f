/**
 * Helper of test/e2e/transparent-tcp.test.ts, run by its harness inside a
 * private network namespace (the "node", 10.0.0.1 and 10.0.0.9 on br0) that
 * has a child namespace (the "pod", 10.0.0.2 on v1, pid argv[3]). It runs:
 *   node: Trellis (xDS on 10.0.0.1:18000); the TCP echo application of
 *         db-1 (10.0.0.9:15432) and db-1's explicit-mode sidecar (inbound
 *         10.0.0.9:5432, mTLS + network RBAC);
 *   pod:  client-1's redirect (`trellis inject`'s script) and its
 *         transparent-mode Envoy, run as the proxy uid (1337) as in a pod,
 *         so its own upstream connections are not redirected back to it.
 * A TCP client in the pod dials the db Service's ClusterIP (10.96.0.10:5432,
 * an address nothing owns: only the mesh can carry it) and then db-1's own
 * address, and prints one line `RESULT <json>` with what came back and what
 * the sidecars counted; then stops what it started.
 *
 * argv: <work dir> <pod pid> <envoy binary>
 */
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { iptablesScript } from '../../src/inject/iptables.ts';
import { PROXY_UID } from '../../src/translate/sidecar.ts';
import { HelperProcesses, runHelper, startPlane } from './pod-helper.ts';
import { envoyStats } from './envoy-stats.ts';

const [dir, podPid, envoy] = process.argv.slice(2) as [string, string, string];
const XDS = '10.0.0.1:18000';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pod = (name: string, sa: string, ip: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: demo, labels: {app: ${name.replace(/-\d+$/, '')}}}
spec: {serviceAccountName: ${sa}, containers: [{name: app}]}
status: {phase: Running, podIP: ${ip}, podIPs: [{ip: ${ip}}], conditions: [{type: Ready, status: "True"}]}
`;

const MESH = [
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n',
  'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  authorization: {mode: Strict}\n',
  'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: db, namespace: demo}\n',
  'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: client, namespace: demo}\n',
  pod('db-1', 'db', '10.0.0.9'),
  pod('client-1', 'client', '10.0.0.2'),
  'apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: demo}\nspec:\n  clusterIP: 10.96.0.10\n  selector: {app: db}\n  ports: [{name: pg, port: 5432, appProtocol: tcp}]\n',
  `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-1, namespace: demo, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{name: pg, port: 5432}]
endpoints: [{addresses: [10.0.0.9], conditions: {ready: true}, targetRef: {kind: Pod, name: db-1}}]
`,
  // Undeclared (no appProtocol, a name that names no protocol): detected per connection.
  'apiVersion: v1\nkind: Service\nmetadata: {name: mixed, namespace: demo}\nspec:\n  clusterIP: 10.96.0.11\n  selector: {app: db}\n  ports: [{name: main, port: 7000}]\n',
  `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: mixed-1, namespace: demo, labels: {kubernetes.io/service-name: mixed}}
addressType: IPv4
ports: [{name: main, port: 7000}]
endpoints: [{addresses: [10.0.0.9], conditions: {ready: true}, targetRef: {kind: Pod, name: db-1}}]
`,
  'apiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\nmetadata: {name: pg, namespace: demo}\nspec:\n  matches: {ports: [5432, 7000]}\n',
  `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-db, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: db}
  sources: [{kind: ServiceAccount, name: client}]
  rules: [{kind: TCPRoute, name: pg}, {kind: HTTPRouteGroup, name: all}]
`,
  'apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: all, namespace: demo}\nspec:\n  matches: [{name: all, pathRegex: "/.*"}]\n',
].join('---\n');

/** The TCP client, run in the pod: one exchange per address, printed as JSON. */
const CLIENT = `
const net = require('node:net');
const exchange = (host, port, send) => new Promise((resolve) => {
  let got = '';
  const s = net.connect({ host, port });
  const done = (v) => { s.destroy(); resolve(v); };
  s.setTimeout(3000, () => done(got || 'timeout'));
  s.on('connect', () => s.write(send));
  s.on('data', (d) => { got += d; if (got.length >= send.length) done(got); });
  s.on('end', () => done(got || 'closed'));
  s.on('error', (e) => done(got || e.code || 'error'));
});
(async () => {
  const out = {
    clusterIp: await exchange('10.96.0.10', 5432, 'via the ClusterIP\\n'),
    endpoint: await exchange('10.0.0.9', 5432, 'via the pod address\\n'),
    undeclaredHttp: await exchange('10.96.0.11', 7000, 'GET / HTTP/1.1\\r\\nhost: mixed.demo:7000\\r\\nconnection: close\\r\\n\\r\\n'),
    undeclaredTcp: await exchange('10.96.0.11', 7000, 'opaque bytes\\n'),
  };
  process.stdout.write(JSON.stringify(out));
})();
`;

const procs = new HelperProcesses(dir);
const run = procs.run.bind(procs);
const inPod = (args: string[]) => ['-t', podPid, '-n', ...args];

const stats = envoyStats;

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 40_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const v = await f().catch((e: Error) => void (last = e.message));
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last saw: ${String(last)}`);
    await sleep(250);
  }
}

/** Not spawnSync: the echo application and Trellis live in this process's event loop. */
async function clientInPod(): Promise<{ clusterIp: string; endpoint: string; undeclaredHttp: string; undeclaredTcp: string }> {
  const { stdout } = await promisify(execFile)('nsenter', inPod([process.execPath, '-e', CLIENT]), { encoding: 'utf8', timeout: 15_000 });
  return JSON.parse(stdout || '{}') as { clusterIp: string; endpoint: string; undeclaredHttp: string; undeclaredTcp: string };
}

async function main(): Promise<void> {
  const { server, stateDir } = await startPlane(dir, MESH, XDS);
  try {
    const model = server.mesh!.model!;
    const echo = net.createServer((c) => c.pipe(c));
    await new Promise<void>((r) => echo.listen(15432, '10.0.0.9', r));
    // The undeclared port's application: HTTP/1.1 to HTTP clients (saying whether the server sidecar set XFCC), an echo to anything else.
    const mixed = net.createServer((c) =>
      c.once('data', (d: Buffer) => {
        const text = d.toString();
        if (!text.startsWith('GET ')) return void (c.write(d), c.pipe(c));
        const body = /x-forwarded-client-cert: [^\r]*sa\/client/i.test(text) ? 'http with the client identity' : 'http without identity';
        c.end(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
      }),
    );
    await new Promise<void>((r) => mixed.listen(17000, '10.0.0.9', r));
    writeFileSync(path.join(dir, 'init.sh'), iptablesScript({ excludeInboundPorts: [], xdsPort: 18000, excludePorts: [], excludeCidrs: [] }));
    const init = run('nsenter', inPod(['env', `TMPDIR=${dir}`, `XTABLES_LOCKFILE=${dir}/xtables.lock`, 'sh', path.join(dir, 'init.sh')]), 'init.log');
    await new Promise((r) => init.once('exit', r));
    if (init.exitCode !== 0) throw new Error(`init.sh exited ${init.exitCode}`);
    const bootstraps = {
      client: await workloadBootstrapYaml({ model, workloadKey: 'demo/client-1', stateDir, mode: 'transparent', xdsAddress: XDS, adminAddress: '10.0.0.2:15000' }),
      db: await workloadBootstrapYaml({ model, workloadKey: 'demo/db-1', stateDir, mode: 'explicit', xdsAddress: XDS, adminAddress: '10.0.0.9:15000', appPorts: new Map([[5432, 15432], [7000, 17000]]), appAddress: '10.0.0.9' }),
    };
    // The pod's Envoy runs as the proxy uid, which must read its bootstrap.
    chmodSync(dir, 0o755);
    for (const [k, y] of Object.entries(bootstraps)) writeFileSync(path.join(dir, `${k}.yaml`), y, { mode: k === 'client' ? 0o644 : 0o600 });
    const flags = ['--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'];
    run('nsenter', inPod(['setpriv', `--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', envoy, '-c', path.join(dir, 'client.yaml'), ...flags]), 'client-envoy.log');
    run(envoy, ['-c', path.join(dir, 'db.yaml'), ...flags], 'db-envoy.log');

    let seen: unknown;
    const result = await until('the echo through the mesh', async () => {
      const r = await clientInPod();
      seen = r;
      return r.clusterIp === 'via the ClusterIP\n' && r.endpoint === 'via the pod address\n' && r.undeclaredTcp === 'opaque bytes\n' ? r : undefined;
    }).catch(async (e: Error) => {
      const chains = await fetch('http://10.0.0.2:15000/config_dump?resource=dynamic_listeners').then((r) => r.text()).catch((x: Error) => x.message);
      const counters = await fetch('http://10.0.0.9:15000/listeners').then((r) => r.text()).catch((x: Error) => x.message);
      throw new Error(`${e.message}; the client saw ${JSON.stringify(seen)}\nclient listeners: ${chains.slice(0, 6000)}\ndb listeners: ${counters.slice(0, 4000)}`);
    });
    const client = await stats('10.0.0.2:15000', 'tcp_db|tcp_mixed|http.outbound.downstream_rq_total');
    const db = await stats('10.0.0.9:15000', 'inbound_5432.');
    const dump = await (await fetch('http://10.0.0.2:15000/config_dump?resource=dynamic_listeners', { signal: AbortSignal.timeout(3000) })).json() as { configs: Array<{ name: string; active_state?: { listener: { filter_chains: Array<{ name?: string }> } } }> };
    const outbound = dump.configs.find((c) => c.name === 'outbound')?.active_state?.listener;
    process.stdout.write(`RESULT ${JSON.stringify({
      ...result,
      chains: (outbound?.filter_chains ?? []).map((c) => c.name ?? ''),
      clientTcpProxy: {
        clusterIp: client['tcp.tcp_db.demo_5432.downstream_cx_total'] ?? 0,
        endpoint: client['tcp.tcp_db.demo_5432_endpoints_5432.downstream_cx_total'] ?? 0,
      },
      dbRbacAllowed: db['inbound_5432.rbac.allowed'] ?? 0,
      undeclaredChains: {
        clientHttp: client['http.outbound.downstream_rq_total'] ?? 0,
        clientTcp: client['tcp.tcp_mixed.demo_7000.downstream_cx_total'] ?? 0,
      },
    })}\n`);
    echo.close();
    mixed.close();
  } finally {
    procs.killAll();
    await server.stop();
  }
}

runHelper(procs, main);
