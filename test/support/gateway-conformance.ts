/**
 * The Gateway API conformance suite's gateway base, on loopback (127.0.130.x):
 * conformance/base/manifests.yaml of sigs.k8s.io/gateway-api/conformance,
 * made into what the file source reads by the MESH suite's own translation
 * (test/support/gamma-mesh.ts: each echo-basic Deployment one Pod with a real
 * Envoy sidecar, each Service its EndpointSlice), with its Gateways of class
 * `{GATEWAY_CLASS_NAME}` given Trellis's GatewayClass, and the certificate
 * Secrets the suite creates at set-up (utils/suite/suite.go) made here.
 *
 * Each Gateway of Trellis's class that a case sends requests to gets a real
 * gateway Envoy (`trellis bootstrap --gateway`'s bootstrap), on an address of
 * its own (127.0.130.100 and up) at the Gateway's listener ports, started when
 * first asked for; a case's own Gateways are stopped with the case. The
 * suite's round-tripper sends a request to the Gateway's address with the
 * case's Host (or the address when the case names none); here the same.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { PeerCertificate } from 'node:tls';
import path from 'node:path';
import { gatewayBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { proxiesInSync } from '../../src/server/sync-status.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { tlsPair, tlsSecretYaml, type TlsPair } from '../../src/model/gateway-testing.ts';
import { GammaMesh, getText, until, type MeshResponse, type SuiteManifests } from './gamma-mesh.ts';
import { kill } from '../../src/runtime/child-processes.ts';
import { INFRA_NS, WEB_NS } from './gateway-http-cases.ts';
import { envoyBin } from './venv.ts';

export const GATEWAY_CLASS = 'trellis';
const IP_BASE = '127.0.130.';
const GATEWAY_IP_FIRST = 100;
const GATEWAY_ADMIN_PORT = 15000;

/** The backends the core cases call (the base's other Deployments run other images: TLS, gRPC, TCP, CoreDNS). */
const BACKENDS = new Set(['infra-backend-v1', 'infra-backend-v2', 'infra-backend-v3', 'app-backend-v1', 'app-backend-v2', 'web-backend']);

const BASE: SuiteManifests = {
  file: 'base/manifests.yaml',
  ipBase: IP_BASE,
  keepKinds: ['Gateway'],
  deployment: (_ns, name) => BACKENDS.has(name),
  substitute: { '{GATEWAY_CLASS_NAME}': GATEWAY_CLASS },
  // The sidecars run in explicit mode: their inbound listeners are on the Service
  // ports (8080, 8081 h2c, 8082), so the endpoints name those, and each sends to
  // the echo-basic port the Service's targetPort names (3000 HTTP, 3001 h2c).
  endpointPort: 'service',
  appPorts: (echo) => new Map([[8080, echo.http], [8081, echo.h2c], [8082, echo.http]]),
};

const GATEWAY_CLASS_YAML = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ${GATEWAY_CLASS}}
spec:
  controllerName: trellis.io/gateway-controller
`;

export interface GatewayRequest {
  host?: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  /** HTTPS with SNI = host, trusting the suite's certificate. */
  tls?: boolean;
}

interface RunningGateway {
  key: string;
  ip: string;
  envoy: ChildProcess;
}

export class GatewayConformance {
  private readonly gateways = new Map<string, RunningGateway>();
  private nextIp = GATEWAY_IP_FIRST;

  private constructor(
    readonly mesh: GammaMesh,
    /** The suite's tls-validity-checks-certificate: what an HTTPS request trusts. */
    readonly certificate: TlsPair,
  ) {}

  static async start(): Promise<GatewayConformance> {
    // The suite's set-up: self-signed RSA for ["*", "*.org", "*.wildcard.org"]; here a leaf for those names and its CA.
    const certificate = tlsPair(['*', '*.org', '*.wildcard.org']);
    const web = tlsPair(['*']);
    const mesh = await GammaMesh.start(BASE, {
      'gatewayclass.yaml': GATEWAY_CLASS_YAML,
      'certificates.yaml': tlsSecretYaml(INFRA_NS, 'tls-validity-checks-certificate', certificate) + tlsSecretYaml(WEB_NS, 'certificate', web),
    });
    return new GatewayConformance(mesh, certificate);
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.mesh.server.adminPort}`;
  }

  /** A Gateway's address, its Envoy started (and in sync, LIVE) if it was not. */
  async gateway(key: string): Promise<string> {
    const running = this.gateways.get(key);
    if (running) return running.ip;
    const ip = `${IP_BASE}${this.nextIp++}`;
    const [namespace, name] = key.split('/') as [string, string];
    const logDir = path.join(path.dirname(this.mesh.dir), 'logs');
    mkdirSync(logDir, { recursive: true });
    const bootstrap = await gatewayBootstrapYaml({
      model: this.mesh.server.mesh!.model!,
      gatewayKey: key,
      stateDir: this.mesh.stateDir,
      xdsAddress: `127.0.0.1:${this.mesh.server.xdsPort}`,
      adminAddress: `${ip}:${GATEWAY_ADMIN_PORT}`,
      listenAddress: ip,
    });
    const file = path.join(path.dirname(this.mesh.dir), `gateway-${namespace}-${name}.bootstrap.yaml`);
    writeFileSync(file, bootstrap, { mode: 0o600 });
    const log = openSync(path.join(logDir, `gateway-${namespace}-${name}.log`), 'a');
    const envoy = spawn(envoyBin(), ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'], { stdio: ['ignore', log, log] });
    this.gateways.set(key, { key, ip, envoy });
    await this.synced();
    await until(`gateway ${key}'s Envoy LIVE`, async () => (await getText(ip, GATEWAY_ADMIN_PORT, '/ready').catch(() => '')) === 'LIVE\n', 30_000);
    return ip;
  }

  /** Stops a Gateway's Envoy (a case's own Gateway, after the case). */
  async stopGateway(key: string): Promise<void> {
    const g = this.gateways.get(key);
    if (!g) return;
    this.gateways.delete(key);
    await kill(g.envoy);
  }

  /** Every sidecar and every running gateway has ACKed the current config. */
  async synced(timeoutMs = 30_000): Promise<void> {
    await this.mesh.synced(timeoutMs);
    for (const g of this.gateways.values()) if (g.envoy.exitCode !== null) throw new Error(`gateway ${g.key}'s Envoy exited (code ${g.envoy.exitCode}); logs in ${path.dirname(this.mesh.dir)}/logs`);
    const ids = [...this.gateways.keys()].map(gatewayNodeId);
    await until('every gateway Envoy in sync', () => proxiesInSync(this.mesh.server.xds.syncStatus(), ids, [TypeUrl.Listener]), timeoutMs);
  }

  async apply(name: string, yaml: string): Promise<void> {
    await this.mesh.apply(name, yaml);
    await this.synced();
  }

  async remove(name: string): Promise<void> {
    await this.mesh.remove(name);
    await this.synced();
  }

  /** The request the suite's round-tripper makes to a Gateway's address: Host is the case's, else the address. Redirects are not followed. */
  async request(gateway: string, r: GatewayRequest): Promise<MeshResponse> {
    const ip = await this.gateway(gateway);
    const port = r.tls ? 443 : 80;
    const host = r.host ?? (port === 80 ? ip : `${ip}:${port}`);
    const headers = { host, ...Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])) };
    const options: https.RequestOptions = { host: ip, port, path: r.path ?? '/', method: r.method ?? 'GET', headers, timeout: 5000, agent: false };
    if (r.tls) Object.assign(options, { servername: host.replace(/:\d+$/, ''), ca: this.certificate.caPem, checkServerIdentity: goHostnameCheck });
    return new Promise((resolve, reject) => {
      const req = (r.tls ? https : http).request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let echo: MeshResponse['echo'];
          try {
            const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as MeshResponse['echo'];
            if (parsed && typeof parsed.pod === 'string') echo = parsed;
          } catch { /* not echo-basic's answer (a redirect, a 404 or 500 from Envoy) */ }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, ...(echo ? { echo } : {}) });
        });
      });
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.gateways.values()].map((g) => kill(g.envoy)));
    this.gateways.clear();
    await this.mesh.stop();
  }
}

/**
 * The suite's client is Go's: crypto/x509 matches a wildcard against exactly
 * one left-most label, whatever the suffix, so `*.org` names example.org.
 * Node refuses a wildcard over two labels; the chain is still verified
 * (against the suite certificate's CA), only the name check is Go's.
 */
function goHostnameCheck(host: string, cert: PeerCertificate): Error | undefined {
  const names = (cert.subjectaltname ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4).toLowerCase());
  const want = host.toLowerCase().replace(/\.$/, '').split('.');
  const match = (pattern: string) => {
    const p = pattern.split('.');
    return p.length === want.length && p.every((label, i) => label === want[i] || (i === 0 && label === '*'));
  };
  return names.some(match) ? undefined : new Error(`${host} is not among the certificate's names (${names.join(', ')}), by Go's rule`);
}

/** The node id a gateway's Envoy connects with (gateway-bootstrap.ts). */
export function gatewayNodeId(key: string): string {
  return key;
}

