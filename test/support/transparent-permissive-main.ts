/**
 * Helper of test/e2e/transparent-permissive-tcp.test.ts, run by its harness
 * inside a private network namespace (the "node", 10.0.0.1 on br0) with two
 * pod namespaces (pids argv[3], comma-separated), each with the redirect
 * `trellis inject` writes and a transparent-mode Envoy run as the proxy uid:
 *   open-1    10.0.0.2, Permissive (an MTLSPolicy naming the pod), serves
 *             `open` (appProtocol tcp, 5432, ClusterIP 10.96.0.20);
 *   locked-1  10.0.0.3, Strict (the default), serves `locked` (tcp, 6379,
 *             ClusterIP 10.96.0.21).
 * Each pod's application is a TCP echo on its port; each pod is also the
 * other's meshed client, and locked-1 calls its own Service too (its
 * sidecar's connection to its own pod address comes back through `lo` into
 * its inbound listener). The node itself is the client without a sidecar. One line `RESULT <json>` says what each call got and what the
 * sidecars counted; then everything started is stopped.
 *
 * argv: <work dir> <pod pids: open,locked> <envoy binary>
 */
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { iptablesScript } from '../../src/inject/iptables.ts';
import { PROXY_UID } from '../../src/translate/sidecar.ts';
import { HelperProcesses, runHelper, startPlane } from './pod-helper.ts';
import { connect, until } from './edge-e2e.ts';
import { envoyStats } from './envoy-stats.ts';
import { permissivePod } from './mesh-yaml.ts';

const [dir, pids, envoy] = process.argv.slice(2) as [string, string, string];
const XDS = '10.0.0.1:18000';

interface Pod {
  name: 'open' | 'locked';
  pid: string;
  ip: string;
  clusterIp: string;
  port: number;
}
const [openPid, lockedPid] = pids.split(',') as [string, string];
const OPEN: Pod = { name: 'open', pid: openPid, ip: '10.0.0.2', clusterIp: '10.96.0.20', port: 5432 };
const LOCKED: Pod = { name: 'locked', pid: lockedPid, ip: '10.0.0.3', clusterIp: '10.96.0.21', port: 6379 };

const workload = (p: Pod) => `---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${p.name}, namespace: demo}
---
apiVersion: v1
kind: Pod
metadata: {name: ${p.name}-1, namespace: demo, labels: {app: ${p.name}}}
spec: {serviceAccountName: ${p.name}, containers: [{name: app}]}
status: {phase: Running, podIP: ${p.ip}, podIPs: [{ip: ${p.ip}}], conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: ${p.name}, namespace: demo}
spec:
  clusterIP: ${p.clusterIp}
  selector: {app: ${p.name}}
  ports: [{name: main, port: ${p.port}, appProtocol: tcp}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${p.name}-1, namespace: demo, labels: {kubernetes.io/service-name: ${p.name}}}
addressType: IPv4
ports: [{name: main, port: ${p.port}}]
endpoints: [{addresses: [${p.ip}], conditions: {ready: true}, targetRef: {kind: Pod, name: ${p.name}-1}}]
`;

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
${workload(OPEN)}${workload(LOCKED)}${permissivePod('open-1')}`;

/** A pod's application: answers `<name>: <what it got>` and closes (argv: name, port). */
const APP = `
const [name, port] = process.argv.slice(1);
require('node:net').createServer((c) => c.once('data', (d) => c.end(name + ': ' + d))).listen(Number(port), '0.0.0.0');
setTimeout(() => process.exit(0), 120000);
`;

/** A meshed client, run in a pod as root (so redirected to its sidecar): one exchange (argv: host, port, what to send). */
const CLIENT = `
const [host, port, send] = process.argv.slice(1);
const s = require('node:net').connect({ host, port: Number(port) });
let got = '';
const done = (v) => { s.destroy(); process.stdout.write(v); };
s.setTimeout(3000, () => done(got || 'timeout'));
s.on('connect', () => s.write(send));
s.on('data', (d) => (got += d));
s.on('end', () => done(got || 'empty'));
s.on('error', (e) => done(got || e.code || 'error'));
`;

const procs = new HelperProcesses(dir);
const run = procs.run.bind(procs);
const inPod = (p: Pod, args: string[]) => ['-t', p.pid, '-n', ...args];

/** From `from`'s application (through its sidecar) to `to`'s Service address. */
async function meshed(from: Pod, to: Pod, send: string): Promise<string> {
  const { stdout } = await promisify(execFile)('nsenter', inPod(from, [process.execPath, '-e', CLIENT, to.clusterIp, String(to.port), send]), { encoding: 'utf8', timeout: 15_000 });
  return stdout;
}

async function main(): Promise<void> {
  const { server, stateDir } = await startPlane(dir, MESH, XDS);
  try {
    const model = server.mesh!.model!;
    // The pods' Envoys run as the proxy uid, which must read their bootstraps.
    chmodSync(dir, 0o755);
    writeFileSync(path.join(dir, 'init.sh'), iptablesScript({ excludeInboundPorts: [], xdsPort: 18000, excludePorts: [], excludeCidrs: [] }));
    const flags = ['--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'];
    for (const p of [OPEN, LOCKED]) {
      // As `trellis inject` orders them: the application, the redirect, the sidecar.
      run('nsenter', inPod(p, [process.execPath, '-e', APP, p.name, String(p.port)]), `${p.name}-app.log`);
      const init = run('nsenter', inPod(p, ['env', `TMPDIR=${dir}`, `XTABLES_LOCKFILE=${dir}/xtables-${p.name}.lock`, 'sh', path.join(dir, 'init.sh')]), `${p.name}-init.log`);
      await new Promise((r) => init.once('exit', r));
      if (init.exitCode !== 0) throw new Error(`init.sh exited ${init.exitCode} in ${p.name}-1`);
      const yaml = await workloadBootstrapYaml({ model, workloadKey: `demo/${p.name}-1`, stateDir, mode: 'transparent', xdsAddress: XDS, adminAddress: `${p.ip}:15000` });
      writeFileSync(path.join(dir, `${p.name}.yaml`), yaml, { mode: 0o644 });
      run('nsenter', inPod(p, ['setpriv', `--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', envoy, '-c', path.join(dir, `${p.name}.yaml`), ...flags]), `${p.name}-envoy.log`);
    }

    // Meshed, both ways: each arrives on the other's mTLS chain.
    const toOpen = await until('locked-1 → open over the mesh', async (last) => {
      const r = await meshed(LOCKED, OPEN, 'meshed\n');
      last.seen = r;
      return r === 'open: meshed\n' ? r : undefined;
    });
    const toLocked = await until('open-1 → locked over the mesh', async (last) => {
      const r = await meshed(OPEN, LOCKED, 'meshed\n');
      last.seen = r;
      return r === 'locked: meshed\n' ? r : undefined;
    });
    // A pod calling its own Service: through its sidecar, out and back in over mTLS.
    const selfToLocked = await until('locked-1 → its own Service over the mesh', async (last) => {
      const r = await meshed(LOCKED, LOCKED, 'self\n');
      last.seen = r;
      return r === 'locked: self\n' ? r : undefined;
    });
    // Without a sidecar (the node): the pod address, as a caller outside the mesh dials it.
    const plainToOpen = await connect(OPEN.ip, OPEN.port, 'no sidecar\n');
    const plainToLocked = await connect(LOCKED.ip, LOCKED.port, 'no sidecar\n');
    const open = await envoyStats(`${OPEN.ip}:15000`, `inbound_${OPEN.port}|15006`);
    const locked = await envoyStats(`${LOCKED.ip}:15000`, `inbound_${LOCKED.port}|15006`);
    process.stdout.write(`RESULT ${JSON.stringify({ toOpen, toLocked, selfToLocked, plainToOpen, plainToLocked, open, locked })}\n`);
  } finally {
    procs.killAll();
    await server.stop();
  }
}

runHelper(procs, main);
