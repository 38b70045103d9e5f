/**
 * Issue 16 bug 6 with the real Envoy: what Trellis's regex validation accepts,
 * Envoy accepts, and what it refuses never reaches a sidecar.
 *   1. Differential: for each pattern of a table (the issue's examples, RE2
 *      syntax JS lacks, program sizes at and past the limit), Trellis's verdict
 *      equals `envoy --mode validate`'s on a route and an RBAC policy carrying
 *      it, in the bootstrap `trellis bootstrap` writes (which pins the limit).
 *   2. Served: a strict mesh whose TrafficTarget uses an HTTPRouteGroup with a
 *      path regex at exactly the limit: a real sidecar ACKs its listeners.
 *      Then the pattern is edited past the limit: validation refuses it (file,
 *      line, field), the sidecar keeps the last good config and never NACKs.
 * Envoy's addresses are on 127.0.16.x so nothing collides with other e2e files.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { regexProblem } from '../../src/model/regex.ts';
import { AT_LIMIT, OVER_LIMIT } from '../../src/model/testing.ts';
import { startControlPlane, type RunningControlPlane } from '../../src/runtime/control-plane.ts';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { allInSync } from '../../src/runtime/demo.ts';
import { envoyBootstrap } from '../../src/translate/bootstrap.ts';
import { TypeUrl } from '../../src/xds/type-urls.ts';
import { writeYaml } from '../support/mesh-harness.ts';
import { envoyBin } from '../support/venv.ts';

const execFileAsync = promisify(execFile);
const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-regex-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TABLE = [
  'a{1001}', String.raw`\u0041`, String.raw`/api\Z`, String.raw`\cA`, String.raw`\p{L}`, OVER_LIMIT, 'a{97}',
  '/(?!admin).*', String.raw`(a)\1`, '/api/(',
  '(?i)abc', '(?P<name>x)', '(?<name>x)', String.raw`\x{41}`, String.raw`\Q.*\E`, '[[:alpha:]]+', String.raw`\pN?`, 'a{96}', AT_LIMIT,
  String.raw`(?i)/(users|orders)/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`,
];

/** Envoy's own verdict: undefined when it accepts a route and an RBAC permission with this regex. */
async function envoyVerdict(pattern: string, i: number): Promise<string | undefined> {
  const bootstrap = envoyBootstrap({
    nodeId: 'demo/web-v1', cluster: 'web', workload: 'demo/web-v1', mode: 'explicit',
    xds: { address: '127.0.0.1', port: 1 }, admin: { address: '127.0.0.1', port: 0 }, outboundAddress: '127.0.16.1:15001',
  }) as unknown as { static_resources: { listeners?: unknown[] } };
  const regex = { safe_regex: { regex: pattern } };
  bootstrap.static_resources.listeners = [{
    name: 'probe',
    address: { socket_address: { address: '127.0.16.1', port_value: 1 } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'probe',
          route_config: { virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: regex, direct_response: { status: 200 } }] }] },
          http_filters: [
            { name: 'envoy.filters.http.rbac', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: { policies: { p: { permissions: [{ url_path: { path: regex } }], principals: [{ any: true }] } } } } },
            { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
          ],
        },
      }],
    }],
  }];
  const file = path.join(tmp, `probe-${i}.yaml`);
  writeFileSync(file, stringify(bootstrap, { lineWidth: 0 }));
  try {
    await execFileAsync(envoyBin(), ['--mode', 'validate', '-c', file, '--disable-hot-restart', '--log-level', 'critical'], { timeout: 30_000 });
    return undefined;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stderr ?? ''}${e.stdout ?? ''}`.trim() || 'rejected';
  }
}

describe('issue 16 bug 6: Trellis accepts exactly the regexes Envoy accepts', () => {
  it('each pattern: Trellis\'s verdict equals envoy --mode validate\'s', { timeout: 120_000 }, async () => {
    const rows: { pattern: string; trellis: string; envoy: string }[] = [];
    for (const [i, pattern] of TABLE.entries()) {
      const envoy = await envoyVerdict(pattern, i);
      rows.push({ pattern, trellis: regexProblem(pattern) === undefined ? 'accepts' : 'refuses', envoy: envoy === undefined ? 'accepts' : 'refuses' });
    }
    expect(rows.filter((r) => r.trellis !== r.envoy)).toEqual([]);
    // The table has both kinds, or it proves nothing.
    expect(new Set(rows.map((r) => r.envoy))).toEqual(new Set(['accepts', 'refuses']));
  });
});

const WEB_IP = '127.0.16.3';

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: demo}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: client, namespace: demo}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-v1, namespace: demo, labels: {app: web}}
spec:
  serviceAccountName: web
  containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: ${WEB_IP}}
---
apiVersion: trellis.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  authorization: {mode: Strict}
`;

/** pathRegex is on line 7. */
const routes = (pattern: string) => `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: api, namespace: demo}
spec:
  matches:
  - name: by-id
    pathRegex: '${pattern}'
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-web, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: demo}
  sources: [{kind: ServiceAccount, name: client, namespace: demo}]
  rules: [{kind: HTTPRouteGroup, name: api, matches: [by-id]}]
`;

describe('issue 16 bug 6: a real sidecar ACKs the regex at the limit and never sees one past it', () => {
  let server: RunningControlPlane;
  let envoy: ChildProcess;
  const dir = path.join(tmp, 'mesh');
  const stateDir = path.join(tmp, 'state');
  const admin = `http://${WEB_IP}:15000`;

  beforeAll(async () => {
    mkdirSync(dir);
    writeYaml(dir, 'mesh.yaml', MESH);
    writeYaml(dir, 'routes.yaml', routes(AT_LIMIT));
    server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', sourceDir: dir, stateDir, reloadDebounceMs: 30 });
    const yaml = await workloadBootstrapYaml({
      model: server.mesh!.model!, workloadKey: 'demo/web-v1', stateDir, mode: 'explicit',
      xdsAddress: `127.0.0.1:${server.xdsPort}`, adminAddress: `${WEB_IP}:15000`,
    });
    const file = path.join(tmp, 'web-v1.yaml');
    writeFileSync(file, yaml, { mode: 0o600 });
    envoy = spawn(envoyBin(), ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn', '--base-id-path', path.join(tmp, 'base-id'), '--use-dynamic-base-id'], { stdio: 'ignore' });
  }, 60_000);

  afterAll(async () => {
    envoy?.kill();
    await server?.stop();
  });

  const listenerNack = () => server.xds.syncStatus().flatMap((n) => n.streams).flatMap((s) => s.types).find((t) => t.typeUrl === TypeUrl.Listener)?.lastNack ?? null;

  async function inSync(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!allInSync(server, ['demo/web-v1'])) {
      if (envoy.exitCode !== null) throw new Error(`Envoy exited with code ${envoy.exitCode}`);
      const nack = listenerNack();
      if (nack) throw new Error(`the sidecar NACKed its listeners: ${nack.message}`);
      if (Date.now() > deadline) throw new Error(`demo/web-v1 not in sync within 30 s: ${JSON.stringify(server.xds.syncStatus())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const dumpHolds = async (pattern: string) => (await (await fetch(`${admin}/config_dump`)).text()).includes(JSON.stringify(pattern).slice(1, -1));

  it('the pattern at program size 100 is ACKed and in the sidecar\'s config', { timeout: 60_000 }, async () => {
    await inSync();
    expect(listenerNack()).toBeNull();
    expect(await dumpHolds(AT_LIMIT)).toBe(true);
  });

  it('an edit past the limit is refused at its line; the sidecar keeps the last good config, no NACK', { timeout: 60_000 }, async () => {
    writeYaml(dir, 'routes.yaml', routes(OVER_LIMIT));
    await server.mesh!.flush();
    // (The TrafficTarget also reports its route group as not found: the group is refused whole.)
    const problems = server.mesh!.statuses.flatMap((s) => s.problems).filter((p) => p.reason === 'InvalidRegex');
    expect(problems.map((p) => ({ reason: p.reason, file: path.basename(p.file ?? ''), line: p.line, field: p.field }))).toEqual([
      { reason: 'InvalidRegex', file: 'routes.yaml', line: 7, field: 'spec.matches[0].pathRegex' },
    ]);
    expect(problems[0]!.message).toContain('RE2 program size 105 exceeds Envoy\'s limit of 100');
    await inSync();
    expect(listenerNack()).toBeNull();
    expect(await dumpHolds(AT_LIMIT)).toBe(true);
    expect(await dumpHolds(OVER_LIMIT)).toBe(false);
  });
});
