/**
 * issue 10 (north-south): `trellis bootstrap --gateway ns/name` prints a
 * bootstrap the real Envoy accepts (`envoy --mode validate`), with the
 * gateway's translated listeners, routes and clusters added as static
 * resources so Envoy checks those too; a Gateway Trellis does not program
 * is refused with the reason.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { BASE_MESH } from '../../src/model/testing.ts';
import { tlsPair, tlsSecretYaml, trellisGatewayYaml } from '../../src/model/gateway-testing.ts';
import { proxyContext } from '../../src/translate/proxy.ts';
import { meshWith } from '../../src/translate/testing.ts';
import { Translator } from '../../src/translate/translate.ts';
import { envoyBin } from '../support/venv.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const GATEWAY = `${trellisGatewayYaml({ namespace: 'demo', httpPort: 18080, httpsPort: 18443, hostname: 'web.example.com', secret: 'web-cert' })}${tlsSecretYaml('demo', 'web-cert', tlsPair(['web.example.com']))}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: demo}
spec:
  parentRefs: [{name: edge}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-via, value: edge}]}}]
    backendRefs: [{name: web-v1, port: 8080, weight: 3}, {name: web-v2, port: 8080, weight: 1}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: foreign, namespace: demo}
spec:
  gatewayClassName: other
  listeners: [{name: http, port: 80, protocol: HTTP}]
`;

function trellis(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin/trellis.js'), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trellis-gw-bootstrap-'));
  await writeFile(path.join(dir, 'mesh.yaml'), `${BASE_MESH}\n---\n${GATEWAY}`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('issue 10: trellis bootstrap --gateway', () => {
  it('prints a bootstrap naming the Gateway, with a token for its identity; Envoy validates it with the gateway\'s listeners, routes and clusters', async () => {
    const r = await trellis(['bootstrap', '--gateway', 'demo/edge', '--source', `file:${dir}`, '--state-dir', path.join(dir, 'state'), '--listen-address', '127.0.110.1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(spiffe://cluster.local/ns/demo/sa/edge)');
    const bootstrap = parse(r.stdout) as { node: { id: string; metadata: Record<string, string> }; static_resources: { clusters: unknown[]; listeners?: unknown[] }; dynamic_resources: { ads_config: { grpc_services: { initial_metadata?: { key: string }[] }[] } } };
    expect(bootstrap.node).toMatchObject({ id: 'demo/edge', metadata: { 'trellis.gateway': 'demo/edge', 'trellis.gateway_address': '127.0.110.1' } });
    expect(bootstrap.dynamic_resources.ads_config.grpc_services[0]!.initial_metadata!.map((m) => m.key)).toEqual(['x-trellis-token']);

    const model = meshWith(GATEWAY);
    const out = new Translator().translate(model, proxyContext({ id: 'demo/edge', user_agent_name: 'envoy', metadata: bootstrap.node.metadata }, model));
    expect(out.listeners.length).toBe(2);
    // Routes inline (RDS stays on ADS in a real gateway), certificates as static secrets: Envoy checks every part.
    const inline = out.listeners.map((l) => JSON.parse(JSON.stringify(l).replace(/"rds":\{"route_config_name":"([^"]+)","config_source":\{[^}]*\{\}[^}]*\}\}/g, (_m, name: string) => `"route_config":${JSON.stringify(out.routes.find((x) => x.name === name))}`)) as unknown);
    expect(JSON.stringify(inline)).not.toContain('"rds"');
    // An SDS reference without a config source names a static secret: the gateway's own, and stand-ins for the CA's two.
    const staticSds = (o: unknown) => JSON.parse(JSON.stringify(o).replace(/,"sds_config":\{"ads":\{\},"resource_api_version":"V3"\}/g, '')) as unknown;
    const pair = tlsPair(['web.example.com']);
    const caSecrets = [
      { name: 'workload-certificate', tls_certificate: { certificate_chain: { inline_string: pair.certificatePem }, private_key: { inline_string: pair.privateKeyPem } } },
      { name: 'trellis-trust-bundle', validation_context: { trusted_ca: { inline_string: pair.caPem } } },
    ];
    const file = path.join(dir, 'gateway-bootstrap.yaml');
    await writeFile(file, stringify({ ...bootstrap, static_resources: { clusters: [...bootstrap.static_resources.clusters, ...out.clusters.map(staticSds)], listeners: staticSds(inline), secrets: [...out.secrets, ...caSecrets] } }, { lineWidth: 0 }));
    const v = await promisify(execFile)(envoyBin(), ['--mode', 'validate', '-c', file, '--disable-hot-restart', '--log-level', 'error'], { timeout: 30_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stderr ?? ''}${e.stdout ?? ''}` }));
    expect(v.stdout).toContain('OK');
  });

  it('in a cluster (--token-file): a gateway pod\'s bootstrap names the Gateway and reads its service-account token per stream; Envoy validates it', async () => {
    const token = path.join(dir, 'token');
    const claims = Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:demo:edge' })).toString('base64url');
    await writeFile(token, `eyJhbGciOiJSUzI1NiJ9.${claims}.sig`);
    const ca = path.join(dir, 'ca.pem');
    await writeFile(ca, tlsPair(['web.example.com']).caPem);
    const r = await trellis(['bootstrap', '--token-file', token, '--gateway', 'demo/edge', '--node-id', 'demo/edge-7d9c8b6f5-x2x9q', '--ca-file', ca, '--xds-address', 'trellis.trellis-system:18000']);
    expect(r.code, r.stderr).toBe(0);
    const bootstrap = parse(r.stdout) as { node: { id: string; metadata: Record<string, string> } };
    expect(bootstrap.node).toMatchObject({ id: 'demo/edge-7d9c8b6f5-x2x9q', metadata: { 'trellis.gateway': 'demo/edge' } });
    expect(bootstrap.node.metadata['trellis.workload']).toBeUndefined();
    expect(r.stdout).toContain(token);
    const file = path.join(dir, 'gateway-pod.yaml');
    await writeFile(file, r.stdout);
    const v = await promisify(execFile)(envoyBin(), ['--mode', 'validate', '-c', file, '--disable-hot-restart', '--log-level', 'error'], { timeout: 30_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stderr ?? ''}${e.stdout ?? ''}` }));
    expect(v.stdout).toContain('OK');
  });

  it('gateways speak delta ADS like sidecars (DELTA_GRPC); --xds-api sotw keeps state of the world, on the machine and in a cluster', async () => {
    const apiType = (yaml: string) => (parse(yaml) as { dynamic_resources: { ads_config: { api_type: string } } }).dynamic_resources.ads_config.api_type;
    const machine = ['bootstrap', '--gateway', 'demo/edge', '--source', `file:${dir}`, '--state-dir', path.join(dir, 'state')];
    const token = path.join(dir, 'token-delta');
    await writeFile(token, `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:demo:edge' })).toString('base64url')}.sig`);
    const pod = ['bootstrap', '--token-file', token, '--gateway', 'demo/edge', '--node-id', 'demo/edge-1', '--plaintext'];
    const got: string[] = [];
    for (const args of [machine, [...machine, '--xds-api', 'sotw'], pod, [...pod, '--xds-api', 'sotw']]) {
      const r = await trellis(args);
      expect(r.code, r.stderr).toBe(0);
      got.push(apiType(r.stdout));
    }
    expect(got).toEqual(['DELTA_GRPC', 'GRPC', 'DELTA_GRPC', 'GRPC']);
  });

  it('a Gateway Trellis does not program is refused, naming why', async () => {
    const foreign = await trellis(['bootstrap', '--gateway', 'demo/foreign', '--source', `file:${dir}`, '--state-dir', path.join(dir, 'state')]);
    expect(foreign.code).not.toBe(0);
    expect(foreign.stderr).toContain('Gateway demo/foreign is not programmed by Trellis');
    const missing = await trellis(['bootstrap', '--gateway', 'demo/nothing', '--source', `file:${dir}`, '--state-dir', path.join(dir, 'state')]);
    expect(missing.stderr).toContain('there is no Gateway demo/nothing');
  });
});
