/**
 * The demo's ingress gateway (issue 10; examples/demo/ingress.yaml): the
 * Gateway demo/ingress, served by a gateway Envoy that Trellis programs like
 * any other (`trellis bootstrap --gateway`), on the demo's ingress host.
 *
 * Its HTTPS listener presents the Secret demo/ingress-tls. No key is ever
 * committed: at every start the demo has the mesh CA issue a server
 * certificate for localhost and the ingress host, writes it as a
 * kubernetes.io/tls Secret to <mesh>/local/ingress-tls.yaml (local/ holds
 * what only a loopback demo uses; git ignores this file; mode 0600), and the
 * trust bundle that verifies it to <state>/ingress-ca.pem, for
 * `curl --cacert`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SourceObject } from '../model/object.ts';
import type { MeshModel } from '../model/types.ts';
import { gatewayBootstrapYaml } from './bootstrap.ts';
import { issueTlsSecret } from './tls-secret.ts';
import type { RunningControlPlane } from './control-plane.ts';

export const INGRESS_GATEWAY = 'demo/ingress';
const INGRESS_SECRET = { namespace: 'demo', name: 'ingress-tls' };
/** The gateway Envoy's admin page, on the ingress host (the pods use 15000 on theirs). */
export const INGRESS_ADMIN_PORT = 15000;

export interface DemoIngress {
  /** The Gateway's key, also its gateway Envoy's node id (gatewayBootstrapYaml's default). */
  key: string;
  host: string;
  /** The Gateway's HTTP and HTTPS listener ports, where it has them. */
  httpPort?: number;
  httpsPort?: number;
  /** The trust bundle that verifies the HTTPS certificate. */
  caFile: string;
}

/**
 * The ingress the mesh folder declares (the Gateway demo/ingress, of
 * Trellis's class), if any: what `startDemoIngress` will serve. The ports are
 * the Gateway's as written: before the demo writes its certificate Secret,
 * the HTTPS listener is not programmed yet, and its port must be free too.
 */
export function plannedIngress(model: MeshModel, objects: readonly SourceObject[], host: string, stateDir: string): DemoIngress | undefined {
  if (!model.gateways.has(INGRESS_GATEWAY)) return undefined;
  const written = objects.find((o) => o.kind === 'Gateway' && `${o.metadata.namespace}/${o.metadata.name}` === INGRESS_GATEWAY);
  const listeners = ((written?.raw.spec as { listeners?: unknown } | undefined)?.listeners ?? []) as Array<{ protocol?: unknown; port?: unknown }>;
  const port = (protocol: string) => listeners.find((l) => l.protocol === protocol && typeof l.port === 'number')?.port as number | undefined;
  const httpPort = port('HTTP');
  const httpsPort = port('HTTPS');
  return { key: INGRESS_GATEWAY, host, ...(httpPort ? { httpPort } : {}), ...(httpsPort ? { httpsPort } : {}), caFile: path.join(stateDir, 'ingress-ca.pem') };
}

/** The ports the ingress will take on its host: [port, what], for the demo's check that they are free. */
export function ingressPorts(i: DemoIngress): Array<[number, string]> {
  return [
    ...(i.httpPort ? [[i.httpPort, 'ingress gateway HTTP'] as [number, string]] : []),
    ...(i.httpsPort ? [[i.httpsPort, 'ingress gateway HTTPS'] as [number, string]] : []),
    [INGRESS_ADMIN_PORT, 'ingress gateway admin'],
  ];
}

/**
 * Issues the HTTPS certificate and writes its Secret into the mesh folder
 * (the running Trellis reads it like any edit), then starts the gateway
 * Envoy. The caller waits for it to be in sync and LIVE.
 */
export async function startDemoIngress(o: {
  ingress: DemoIngress;
  server: RunningControlPlane;
  meshDir: string;
  stateDir: string;
  xdsAddress: string;
  envoy: string;
  logDir: string;
}): Promise<ChildProcess> {
  const security = o.server.security;
  if (!security) throw new Error('the demo ingress needs the mesh CA (a state dir)');
  const local = path.join(o.meshDir, 'local');
  mkdirSync(local, { recursive: true });
  const secret = issueTlsSecret(security.ca, { ...INGRESS_SECRET, ipAddresses: [o.ingress.host], writtenBy: 'trellis demo at start' });
  writeFileSync(path.join(local, 'ingress-tls.yaml'), secret, { mode: 0o600 });
  writeFileSync(o.ingress.caFile, security.ca.trustBundlePem());
  await o.server.mesh!.flush();

  const bootstrap = await gatewayBootstrapYaml({
    model: o.server.mesh!.model!,
    gatewayKey: INGRESS_GATEWAY,
    stateDir: o.stateDir,
    xdsAddress: o.xdsAddress,
    adminAddress: `${o.ingress.host}:${INGRESS_ADMIN_PORT}`,
    listenAddress: o.ingress.host,
  });
  const file = path.join(o.stateDir, 'bootstrap', 'demo-ingress-gateway.yaml');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bootstrap, { mode: 0o600 });
  const log = openSync(path.join(o.logDir, 'ingress.envoy.log'), 'a');
  return spawn(o.envoy, ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--drain-time-s', '1'], { stdio: ['ignore', log, log] });
}
