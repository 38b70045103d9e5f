/**
 * issues 10/11 (north-south) end to end, real Envoys on loopback
 * 127.0.120.x: one Trellis on a folder, one gateway Envoy bootstrapped by
 * `trellis bootstrap --gateway` (its code), one backend pod with its sidecar,
 * strict mesh (a TrafficTarget names the gateway's service account).
 *   - TLS passthrough: a client dials the gateway's TLS listener with SNI
 *     api.example.com and completes a handshake with the backend's own TLS
 *     server, behind two Envoys (gateway → mTLS → sidecar): it sees the
 *     backend's certificate, not one of the gateway's. An SNI name no
 *     TLSRoute takes is refused.
 *   - TCP: bytes echoed through the gateway's TCP listener (its TCPRoute) and
 *     the backend's sidecar.
 * Bounded: a handful of connections; every process is stopped in afterAll.
 */
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tlsPair, TRELLIS_GATEWAY_CLASS_YAML } from '../../src/model/gateway-testing.ts';
import { gatewayBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { connect, EdgeMesh, until } from '../support/edge-e2e.ts';
import { meshConfig, NAMESPACE, pod, serviceAccounts, trafficTarget, tcpService } from '../support/mesh-yaml.ts';
import { envoyBin } from '../support/venv.ts';

const NET = '127.0.120';
const GATEWAY = `${NET}.10`;
const BACKEND = `${NET}.11`;
const LISTEN = { tls: 28443, tcp: 28000 } as const;
/** Service ports of the backend, and its application's ports behind them. */
const PORTS = { api: 29443, echo: 29000 } as const;
const APP = { api: 39443, echo: 39000 } as const;
const HOST = 'api.example.com';
const backendTls = tlsPair([HOST]);

const service = (name: keyof typeof PORTS) => tcpService(name, PORTS[name], [['backend-1', BACKEND]], 'backend');

const MESH = [
  NAMESPACE,
  meshConfig('Strict'),
  serviceAccounts('backend', 'edge'),
  pod('backend-1', 'backend', BACKEND, 'backend'),
  // The gateway calls as its own identity (service account edge, the Gateway's name).
  trafficTarget('edge', 'backend'),
  service('api'),
  service('echo'),
  `---
${TRELLIS_GATEWAY_CLASS_YAML}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: demo}
spec:
  gatewayClassName: trellis
  listeners:
  - {name: tls, port: ${LISTEN.tls}, protocol: TLS, tls: {mode: Passthrough}}
  - {name: tcp, port: ${LISTEN.tcp}, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: api, namespace: demo}
spec:
  parentRefs: [{name: edge, sectionName: tls}]
  hostnames: [${HOST}]
  rules: [{backendRefs: [{name: api, port: ${PORTS.api}}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: echo, namespace: demo}
spec:
  parentRefs: [{name: edge, sectionName: tcp}]
  rules: [{backendRefs: [{name: echo, port: ${PORTS.echo}}]}]
`,
].join('');

let mesh: EdgeMesh;

/** A TLS handshake through the gateway with this SNI: the certificate the client was shown and the server's answer, or how it failed. */
function tlsExchange(servername: string): Promise<{ subject?: string; issuer?: string; answer?: string; error?: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: GATEWAY, port: LISTEN.tls, servername, ca: backendTls.caPem, timeout: 3000 }, () => {
      const cert = s.getPeerCertificate();
      s.write('hello\n');
      s.once('data', (d: Buffer) => {
        resolve({ subject: String(cert.subject?.CN), issuer: String(cert.issuer?.CN), answer: d.toString() });
        s.destroy();
      });
    });
    s.on('timeout', () => (resolve({ error: 'timeout' }), s.destroy()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    s.on('close', () => resolve({ error: 'closed' }));
  });
}

beforeAll(async () => {
  mesh = await EdgeMesh.start({ 'mesh.yaml': MESH }, `${NET}.1`);
  // The backend's applications: a TLS server with its own certificate, and a TCP echo.
  const api = mesh.keep(tls.createServer({ cert: backendTls.certificatePem, key: backendTls.privateKeyPem }, (c) => c.once('data', (d: Buffer) => c.end(`api says ${d.toString()}`))));
  const echo = mesh.keep(net.createServer((c) => c.pipe(c)));
  await new Promise<void>((r) => api.listen(APP.api, BACKEND, r));
  await new Promise<void>((r) => echo.listen(APP.echo, BACKEND, r));
  await mesh.envoy('demo/backend-1', `${BACKEND}:15000`, { appPorts: new Map([[PORTS.api, APP.api], [PORTS.echo, APP.echo]]), appAddress: BACKEND });
  const yaml = await gatewayBootstrapYaml({ model: mesh.plane.mesh!.model!, gatewayKey: 'demo/edge', stateDir: path.join(mesh.dir, 'state'), xdsAddress: mesh.xdsAddress, adminAddress: `${GATEWAY}:15000`, listenAddress: GATEWAY });
  const file = path.join(mesh.dir, 'gateway.yaml');
  writeFileSync(file, yaml, { mode: 0o600 });
  mesh.run(envoyBin(), ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1', '--base-id-path', path.join(mesh.dir, 'gateway.base-id'), '--use-dynamic-base-id'], 'gateway.log');
  await until('a TLS handshake through the gateway', async (last) => ((last.seen = await tlsExchange(HOST)).answer ? true : undefined), 60_000);
}, 90_000);

afterAll(async () => {
  await mesh?.stop();
});

describe('issues 10/11: a Trellis gateway\'s TLS passthrough and TCP listeners', () => {
  it('TLS passthrough by SNI: the client completes its handshake with the backend, sees the backend\'s certificate, and gets its answer', async () => {
    const r = await tlsExchange(HOST);
    expect(r).toEqual({ subject: HOST, issuer: 'trellis test CA', answer: 'api says hello\n' });
  });

  it('an SNI name no TLSRoute takes is refused at the gateway', async () => {
    const r = await tlsExchange('other.example.com');
    expect(r.answer).toBeUndefined();
    expect(r.error).toBeDefined();
  });

  it('TCP: bytes echoed through the gateway\'s TCP listener and the backend\'s sidecar (over mTLS as the gateway)', async () => {
    expect(await connect(GATEWAY, LISTEN.tcp, 'through the edge\n')).toBe('through the edge\n');
    const stats = await (await fetch(`http://${BACKEND}:15000/stats?filter=rbac.allowed`)).text();
    expect(stats).toMatch(new RegExp(`inbound_${PORTS.echo}\\.rbac\\.allowed: [1-9]`));
  });
});
