/**
 * Helper of test/e2e/egress.test.ts, run by its harness inside private
 * network and mount namespaces (the "node": 10.0.0.1, .20, .21 on v0; its
 * /etc/hosts names api.external.test 10.0.0.20) with a child network
 * namespace (the "pod": 10.0.0.2, pid argv[3]). It runs Trellis (xDS on
 * 10.0.0.1), "external" servers outside the mesh on the node (plain HTTP on
 * 10.0.0.20:80, HTTPS for api.external.test on 10.0.0.20:443 with a CA of its
 * own, a TCP echo on 10.0.0.21:9000), and in the pod the redirect `trellis
 * inject` writes and the client's transparent-mode Envoy as the proxy uid.
 * The application's calls (as root in the pod: redirected) go out in three
 * phases — Passthrough, RegistryOnly, RegistryOnly with an ExternalService —
 * and one line `RESULT <json>` says what each got, then everything stops.
 *
 * argv: <work dir> <pod pid>
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { iptablesScript } from '../../src/inject/iptables.ts';
import { PROXY_UID } from '../../src/translate/sidecar.ts';
import { EdgeMesh, get, until } from './edge-e2e.ts';
import { externalPki } from './openssl-certs.ts';

const [dir, podPid] = process.argv.slice(2) as [string, string];
const HOST = 'api.external.test';
const pki = externalPki(HOST);
const indent = (pem: string) => pem.trim().split('\n').map((l) => `      ${l}`).join('\n');

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: client, namespace: demo}
---
apiVersion: v1
kind: Pod
metadata: {name: client-1, namespace: demo, labels: {app: client}}
spec:
  serviceAccountName: client
  containers: [{name: app}]
status: {podIP: 10.0.0.2, phase: Running}
`;
const meshConfig = (mode: string) => `apiVersion: trellis.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  egress: {mode: ${mode}}\n`;
const EXTERNAL = `apiVersion: trellis.io/v1alpha1
kind: ExternalService
metadata: {name: api, namespace: demo}
spec:
  hosts: [${HOST}]
  ports:
  - {port: 80, protocol: HTTP, targetPort: 443}
  - {port: 443, protocol: TLS}
  tls:
    caBundle: |
${indent(pki.caPem)}
  sources: [{kind: ServiceAccount, name: client}]
---
apiVersion: trellis.io/v1alpha1
kind: ExternalService
metadata: {name: db, namespace: demo}
spec:
  hosts: [db.external.test]
  ports: [{port: 9000, protocol: TCP}]
  addresses: [10.0.0.21]
`;

/** What the application in the pod gets (run there as root, so its connections are redirected). */
const PROBES = `
const http = require('node:http'), https = require('node:https'), net = require('node:net');
const ca = ${JSON.stringify(pki.caPem)};
const wrap = (p) => p.then((v) => v, (e) => ({ error: e.code || e.message }));
const req = (mod, o) => wrap(new Promise((res, rej) => {
  const r = mod.get({ ...o, timeout: 4000, agent: false }, (s) => { let b = ''; s.on('data', (d) => (b += d)); s.on('end', () => res({ status: s.statusCode, body: b })); });
  r.on('timeout', () => r.destroy(new Error('timeout'))); r.on('error', rej);
}));
const tcp = () => new Promise((res) => {
  let got = ''; const s = net.connect({ host: '10.0.0.21', port: 9000 });
  s.setTimeout(4000, () => { s.destroy(); res(got || 'timeout'); });
  s.on('connect', () => s.write('ping')); s.on('data', (d) => { got += d; if (got.includes('pong')) { s.end(); } });
  s.on('end', () => res(got || 'empty')); s.on('close', () => res(got || 'closed')); s.on('error', (e) => res(got || e.code));
});
(async () => {
  const out = {
    httpUndeclared: await req(http, { host: '10.0.0.20', port: 80, headers: { host: 'plain.external.test' } }),
    httpDeclared: await req(http, { host: '10.0.0.20', port: 80, headers: { host: '${HOST}' } }),
    tls: await req(https, { host: '10.0.0.20', port: 443, servername: '${HOST}', ca, headers: { host: '${HOST}' } }),
    tcp: await tcp(),
  };
  process.stdout.write(JSON.stringify(out));
})();
`;

async function probe(): Promise<Record<string, any>> {
  const r = await promisify(execFile)('nsenter', ['-t', podPid, '-n', process.execPath, '-e', PROBES], { timeout: 30_000 });
  return JSON.parse(r.stdout) as Record<string, any>;
}

function listen(server: http.Server | net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

async function main(): Promise<void> {
  const mesh = await EdgeMesh.start({ 'mesh.yaml': MESH, 'mesh-config.yaml': meshConfig('Passthrough') }, '10.0.0.1');
  try {
    const who = (name: string) => (q: http.IncomingMessage, s: http.ServerResponse) =>
      s.end(JSON.stringify({ name, host: q.headers.host, sni: (q.socket as { servername?: string }).servername ?? null }));
    await listen(mesh.keep(http.createServer(who('external-http'))), '10.0.0.20', 80);
    await listen(mesh.keep(https.createServer({ key: pki.keyPem, cert: pki.leafPem }, who('external-https'))), '10.0.0.20', 443);
    await listen(mesh.keep(net.createServer((c) => c.on('data', (d) => c.end(`pong:${String(d)}`)))), '10.0.0.21', 9000);

    const script = path.join(mesh.dir, 'init.sh');
    writeFileSync(script, iptablesScript({ excludeInboundPorts: [], xdsPort: mesh.plane.xdsPort, excludePorts: [], excludeCidrs: [] }));
    const init = mesh.run('nsenter', ['-t', podPid, '-n', 'env', `TMPDIR=${mesh.dir}`, `XTABLES_LOCKFILE=${mesh.dir}/xtables.lock`, 'sh', script], 'init.log');
    await new Promise((r) => init.once('exit', r));
    if (init.exitCode !== 0) throw new Error(`init.sh exited ${init.exitCode}: ${mesh.log('init.log')}`);
    await mesh.envoy('demo/client-1', '10.0.0.2:15000', {
      mode: 'transparent',
      wrap: ['nsenter', '-t', podPid, '-n', 'setpriv', `--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups'],
    });
    const stats = async () => (await get('http://10.0.0.2:15000/stats')).body;

    const passthrough = await until('pass-through of undeclared HTTP, TLS and TCP', async (last) => {
      const r = await probe();
      last.seen = r;
      return r.httpUndeclared.status === 200 && r.tls.status === 200 && r.tcp === 'pong:ping' ? r : undefined;
    });

    await mesh.write('mesh-config.yaml', meshConfig('RegistryOnly'));
    const registryOnly = await until('registry-only refusals', async (last) => {
      const r = await probe();
      last.seen = r;
      return r.httpUndeclared.status === 502 && r.tcp !== 'pong:ping' && r.tls.status === undefined ? r : undefined;
    });
    const refusedStats = await stats();
    // Envoy writes access logs out every 10 s (--file-flush-interval-msec): wait for the refused connection's line.
    await until('the refusal in the sidecar log', async () => (mesh.log('demo-client-1.log').includes('destination=10.0.0.21:9000') ? true : undefined), 20_000);

    await mesh.write('external.yaml', EXTERNAL);
    const declared = await until('declared external services', async (last) => {
      const r = await probe();
      last.seen = r;
      return r.httpDeclared.status === 200 && r.tls.status === 200 && r.tcp === 'pong:ping' ? r : undefined;
    });
    const dump = JSON.parse((await get('http://10.0.0.2:15000/config_dump?resource=dynamic_active_clusters')).body) as { configs: Array<{ cluster: { name: string; type?: string } }> };

    const result = {
      passthrough,
      registryOnly,
      declared,
      counters: Object.fromEntries(
        ['tcp.egress_blocked.downstream_cx_total', 'http.outbound.rq_direct_response'].map((k) => [k, Number(new RegExp(`^${k.replaceAll('.', '\\.')}: (\\d+)$`, 'm').exec(refusedStats)?.[1] ?? -1)]),
      ),
      log: mesh.log('demo-client-1.log').split('\n').filter((l) => l.includes('trellis egress')),
      externalClusters: dump.configs.map((c) => [c.cluster.name, c.cluster.type ?? '']).filter(([n]) => n!.startsWith('external/')).sort(),
    };
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } catch (e) {
    process.stderr.write(`sidecar log (tail):\n${mesh.log('demo-client-1.log').split('\n').slice(-30).join('\n')}\n`);
    throw e;
  } finally {
    await mesh.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
