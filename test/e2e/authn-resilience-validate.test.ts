/**
 * issue 15: every variant the e2e test does not run, checked by the real
 * Envoy (`envoy --mode validate`): a JWKS over https (TLS to the key host,
 * verified against the system bundle), keys inline, claim rules under strict
 * mode; hedging with Retry-After on the routes; http, grpc and tcp active
 * health checks beside outlier detection. The translator's output for the
 * destination and for a caller goes into a bootstrap as static resources.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { envoyBootstrap } from '../../src/translate/bootstrap.ts';
import { proxyContext } from '../../src/translate/proxy.ts';
import { NODE_METADATA } from '../../src/translate/sidecar.ts';
import { meshWith, STRICT } from '../../src/translate/testing.ts';
import { Translator } from '../../src/translate/translate.ts';
import { envoyBin } from '../support/venv.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-issue15-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
const INTENTS = `${STRICT}apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-web, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web}
  sources: [{kind: ServiceAccount, name: client}]
---
apiVersion: trellis.io/v1alpha1
kind: RequestAuthentication
metadata: {name: web-jwt, namespace: demo}
spec:
  targetRef: {kind: Service, name: web}
  jwtRules:
  - issuer: https://auth.example.com
    audiences: [web]
    jwksUri: https://auth.example.com/.well-known/jwks.json
    fromParams: [access_token]
    outputClaimToHeaders: [{header: x-jwt-groups, claim: realm.groups}]
  - issuer: batch
    jwks: '{"keys": [${JSON.stringify(jwk)}]}'
    forwardOriginalToken: true
  rules:
  - claims: {scope: [web.read], realm.groups: [admins]}
    sources: [{kind: ServiceAccount, name: client}]
  - {}
---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web, namespace: demo}
spec:
  targetRef: {kind: Service, name: web}
  timeouts: {request: 3s, perTry: 100ms}
  retries: {attempts: 2, hedgeOnPerTryTimeout: true, retriableStatusCodes: [429, 503], retryAfter: {maxInterval: 2s}, budget: {percent: 20}}
  outlierDetection: {consecutive5xx: 3}
  healthCheck: {http: {path: /healthz, expectedStatuses: [200, "204-204"]}, interval: 2s}
---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web-grpc, namespace: demo}
spec:
  targetRef: {kind: Service, name: web, port: grpc}
  healthCheck: {grpc: {service: web}, interval: 2s}
---
apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata: {name: api, namespace: demo}
spec:
  targetRef: {kind: Service, name: api}
  healthCheck: {tcp: {}}
`;

/** The translation of `pod`, as static resources of its bootstrap. */
function bootstrapFor(pod: string) {
  const model = meshWith(INTENTS);
  const out = new Translator().translate(model, proxyContext({ id: pod, user_agent_name: 'envoy', metadata: { [NODE_METADATA.workload]: pod } }, model));
  const bootstrap = envoyBootstrap({
    nodeId: pod, cluster: 'web', workload: pod, mode: 'explicit',
    xds: { address: '127.0.0.1', port: 18000 }, admin: { address: '127.0.0.1', port: 15000 }, outboundAddress: '127.0.0.1:15001',
  }) as { static_resources: { clusters: unknown[]; listeners?: unknown[] } };
  bootstrap.static_resources.clusters.push(...out.clusters);
  bootstrap.static_resources.listeners = [...out.listeners];
  return { out, bootstrap };
}

async function validate(name: string, bootstrap: object): Promise<void> {
  const file = path.join(tmp, `${name.replace('/', '-')}.yaml`);
  writeFileSync(file, stringify(bootstrap, { lineWidth: 0 }));
  const r = await promisify(execFile)(envoyBin(), ['--mode', 'validate', '-c', file, '--disable-hot-restart', '--log-level', 'error'], { timeout: 30_000 }).catch((e: { stdout?: string; stderr?: string }) => {
    throw new Error(`envoy --mode validate rejected ${name}:\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  });
  expect(r.stdout).toContain('OK');
}

describe('issue 15: Envoy accepts what Trellis writes for JWT, hedging and health checks', () => {
  it.each(['demo/web-v1', 'demo/client'])('%s: bootstrap + listeners + clusters pass envoy --mode validate', async (pod) => {
    const { out, bootstrap } = bootstrapFor(pod);
    if (pod === 'demo/web-v1') expect(JSON.stringify(out.listeners)).toContain('jwt_authn');
    else expect(JSON.stringify(out.clusters)).toContain('grpc_health_check');
    await validate(pod, bootstrap);
  });

  it('the outbound routes with hedging and Retry-After pass too (inline in a listener: RDS stays on ADS)', async () => {
    const { out, bootstrap } = bootstrapFor('demo/client');
    const routes = out.routes[0]!;
    expect(JSON.stringify(routes)).toContain('hedge_on_per_try_timeout');
    expect(JSON.stringify(routes)).toContain('rate_limited_retry_back_off');
    bootstrap.static_resources.listeners!.push({
      name: 'check-routes',
      address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'check', route_config: routes, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      } }] }],
    });
    await validate('routes', bootstrap);
  });
});
