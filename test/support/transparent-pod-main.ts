/**
 * Helper of test/e2e/transparent-pod.test.ts, run by its harness inside a
 * private network namespace (the "node", 10.0.0.1 and 10.0.0.9 on br0) that
 * has a child namespace (the "pod", 10.0.0.2 on v1, pid argv[3]). It runs:
 *   node: Trellis (xDS on 10.0.0.1:18000), the client's explicit-mode Envoy
 *         (client-1 = 10.0.0.9, outbound 10.0.0.9:15001);
 *   pod:  the application (HTTP on 0.0.0.0:8080 = its Service's port AND
 *         targetPort; plain TCP on 9100, no Service), the redirect script
 *         `trellis inject` writes, and the transparent-mode Envoy of web-1.
 * It prints one line `RESULT <json>` with what the pod's Envoy holds and
 * where connections landed, then stops what it started.
 *
 * argv: <work dir> <pod pid> <envoy binary>
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { iptablesScript } from '../../src/inject/iptables.ts';
import { HelperProcesses, runHelper, startPlane } from './pod-helper.ts';
import { connect as connectFrom, get, until } from './edge-e2e.ts';

const [dir, podPid, envoy] = process.argv.slice(2) as [string, string, string];
const XDS = '10.0.0.1:18000';

const pod = (name: string, sa: string, ip: string, labels: string, ports: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: demo, labels: ${labels}}
spec:
  serviceAccountName: ${sa}
  containers: [{name: app, ports: ${ports}}]
status:
  phase: Running
  podIP: ${ip}
  podIPs: [{ip: ${ip}}]
  conditions: [{type: Ready, status: "True"}]
`;

const MESH = [
  'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n',
  'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: demo}\n',
  'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: client, namespace: demo}\n',
  'apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  authorization: {mode: Strict}\n',
  pod('web-1', 'web', '10.0.0.2', '{app: web}', '[{name: http, containerPort: 8080}]'),
  pod('client-1', 'client', '10.0.0.9', '{app: client}', '[]'),
  // port == targetPort: what used to collide with the application.
  'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: demo}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 8080, targetPort: 8080}]\n',
  // Callers' endpoints name podIP:targetPort: the redirected connection's original destination.
  `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: demo, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.0.0.2], conditions: {ready: true}, targetRef: {kind: Pod, name: web-1}}]
`,
  `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-web, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: demo}
  sources: [{kind: ServiceAccount, name: client}]
`,
].join('---\n');

/** The application: who called (XFCC, set by the sidecar) on 8080; a non-mesh TCP port on 9100. */
const APP = `
const http = require('node:http'), net = require('node:net');
http.createServer((q, s) => s.end(JSON.stringify({ xfcc: q.headers['x-forwarded-client-cert'] ?? null, from: q.socket.remoteAddress }))).listen(8080, '0.0.0.0');
net.createServer((c) => c.end('metrics')).listen(9100, '0.0.0.0', () => console.log('listening'));
setTimeout(() => process.exit(0), 120000);
`;

const procs = new HelperProcesses(dir);
const run = procs.run.bind(procs);
const inPod = (args: string[]) => ['-t', podPid, '-n', ...args];

/** A raw TCP connection from the client's address (the node's 10.0.0.9). */
const connect = (host: string, port: number, send?: string) => connectFrom(host, port, send, '10.0.0.9');

async function main(): Promise<void> {
  const { server, stateDir } = await startPlane(dir, MESH, XDS);
  try {
    const model = server.mesh!.model!;
    // The pod: the application, then the redirect, then its sidecar (as `trellis inject` orders them).
    run('nsenter', inPod([process.execPath, '-e', APP]), 'app.log');
    writeFileSync(path.join(dir, 'init.sh'), iptablesScript({ excludeInboundPorts: [], xdsPort: 18000, excludePorts: [], excludeCidrs: [] }));
    const init = run('nsenter', inPod(['env', `TMPDIR=${dir}`, `XTABLES_LOCKFILE=${dir}/xtables.lock`, 'sh', path.join(dir, 'init.sh')]), 'init.log');
    await new Promise((r) => init.once('exit', r));
    if (init.exitCode !== 0) throw new Error(`init.sh exited ${init.exitCode}`);
    const bootstraps = {
      pod: await workloadBootstrapYaml({ model, workloadKey: 'demo/web-1', stateDir, mode: 'transparent', xdsAddress: XDS, adminAddress: '10.0.0.2:15000' }),
      client: await workloadBootstrapYaml({ model, workloadKey: 'demo/client-1', stateDir, mode: 'explicit', xdsAddress: XDS, adminAddress: '10.0.0.9:15000' }),
    };
    for (const [k, y] of Object.entries(bootstraps)) writeFileSync(path.join(dir, `${k}.yaml`), y, { mode: 0o600 });
    const flags = ['--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'];
    run('nsenter', inPod([envoy, '-c', path.join(dir, 'pod.yaml'), ...flags]), 'pod-envoy.log');
    run(envoy, ['-c', path.join(dir, 'client.yaml'), ...flags], 'client-envoy.log');

    // The pod's Envoy: `inbound` active (its secrets arrived) and bound.
    const listeners = await until('the pod Envoy\'s inbound listener', async () => {
      const r = await get('http://10.0.0.2:15000/listeners?format=json');
      const l = JSON.parse(r.body) as { listener_statuses: Array<{ name: string; local_address: { socket_address: Record<string, unknown> } }> };
      return l.listener_statuses.some((x) => x.name === 'inbound') ? l.listener_statuses : undefined;
    });
    const dump = JSON.parse((await get('http://10.0.0.2:15000/config_dump?resource=dynamic_listeners')).body) as { configs: Array<{ name: string; active_state?: { listener: Record<string, any> } }> };
    const inbound = dump.configs.find((c) => c.name === 'inbound')!.active_state!.listener;

    // Through the mesh: client → its sidecar → mTLS to 10.0.0.2:8080 → redirected to 15006 → chain inbound:8080 → 127.0.0.1:8080.
    const viaMesh = await until('a request through the mesh', async (last) => {
      const r = await get('http://10.0.0.9:15001/', { host: 'web.demo:8080' });
      last.seen = r;
      return r.status === 200 ? r : undefined;
    });
    const result = {
      listeners: listeners.map((l) => ({ name: l.name, address: l.local_address.socket_address })),
      inbound: {
        listenerFilters: (inbound.listener_filters ?? []).map((f: { name: string }) => f.name),
        chains: inbound.filter_chains.map((c: Record<string, any>) => [c.name, c.filter_chain_match?.destination_port ?? null, c.transport_socket ? 'tls' : 'plain']),
        defaultChain: inbound.default_filter_chain?.name ?? null,
      },
      viaMesh: { status: viaMesh.status, ...(JSON.parse(viaMesh.body) as Record<string, unknown>) },
      // Plaintext to the application's port reaches the sidecar's mTLS chain, not the application.
      plaintextToApp: await connect('10.0.0.2', 8080, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      // A port that is no mesh port passes through to the application.
      passthrough: await connect('10.0.0.2', 9100),
      // A connection made to 15006 itself is refused (it would loop).
      direct15006: await connect('10.0.0.2', 15006),
    };
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    procs.killAll();
    await server.stop();
  }
}

runHelper(procs, main);
