/**
 * Transparent mode (what `trellis inject` sets up in Kubernetes) with the
 * real Envoy:
 *   1. the translator's transparent listeners and clusters, in the bootstrap
 *      `trellis bootstrap --mode transparent` writes, pass `envoy --mode validate`;
 *   2. a "pod" in a private network namespace (needs root; skipped otherwise):
 *      the application on 8080 (its Service's port AND targetPort), the
 *      injected redirect, and its Envoy fed by Trellis. The Envoy binds ONE
 *      inbound listener, `inbound` on 0.0.0.0:15006, with a filter chain for
 *      8080; a client's sidecar reaches the application through it over mTLS
 *      (XFCC names the client); plaintext to 8080 meets the mTLS chain, not
 *      the application; another port passes through; 15006 itself is refused.
 * Nothing here touches the machine's own network (`unshare -n`).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
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
import { envoyBin, repoRoot } from '../support/venv.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-transparent-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TARGET = `apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: client-to-web, namespace: demo}
spec:
  destination: {kind: ServiceAccount, name: web, namespace: demo}
  sources: [{kind: ServiceAccount, name: client}]
---
`;

describe('transparent mode: Envoy accepts what Trellis writes', () => {
  it.each([
    { name: 'strict (RBAC per chain)', intents: STRICT + TARGET, pod: 'demo/web-v1' },
    { name: 'permissive', intents: '', pod: 'demo/web-v1' },
    { name: 'a pod that serves nothing (passthrough only)', intents: '', pod: 'demo/client' },
  ])('bootstrap + listeners + clusters pass envoy --mode validate: $name', async ({ intents, pod }) => {
    const model = meshWith(intents);
    const out = new Translator().translate(model, proxyContext({ id: pod, user_agent_name: 'envoy', metadata: { [NODE_METADATA.mode]: 'transparent', [NODE_METADATA.workload]: pod } }, model));
    expect(out.listeners.map((l) => l.name).sort()).toEqual(['inbound', 'outbound']);
    const bootstrap = envoyBootstrap({
      nodeId: pod,
      cluster: 'web',
      workload: pod,
      mode: 'transparent',
      xds: { address: 'trellis.trellis-system.svc', port: 18000 },
      admin: { address: '127.0.0.1', port: 15000 },
      outboundAddress: '0.0.0.0:15001',
    }) as { static_resources: { clusters: unknown[]; listeners?: unknown[] } };
    // What Trellis sends over ADS, as static resources: Envoy checks them in full (SDS and RDS stay on ADS).
    bootstrap.static_resources.clusters.push(...out.clusters);
    bootstrap.static_resources.listeners = out.listeners;
    const file = path.join(tmp, `validate-${pod.replace('/', '-')}-${intents ? 'strict' : 'permissive'}.yaml`);
    writeFileSync(file, stringify(bootstrap, { lineWidth: 0 }));
    const r = await promisify(execFile)(envoyBin(), ['--mode', 'validate', '-c', file, '--disable-hot-restart', '--log-level', 'error'], { timeout: 30_000 }).catch((e: { stdout?: string; stderr?: string }) => {
      throw new Error(`envoy --mode validate rejected the transparent config:\n${e.stderr ?? ''}${e.stdout ?? ''}`);
    });
    expect(r.stdout).toContain('OK');
  });
});

function unavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const bin of ['unshare', 'nsenter', 'ip', 'iptables-restore']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) return `${bin} is not installed`;
  }
  const probe = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link add v0 type veth peer name v1 && iptables -t nat -S >/dev/null'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `cannot make a network namespace with a veth pair and nat rules here: ${probe.stderr.trim()}`;
}
const why = unavailable();
if (why) console.warn(`test/e2e/transparent-pod.test.ts (pod part) skipped: ${why}`);

describe.skipIf(why !== null)('transparent mode: a pod in a network namespace, real Envoys, real traffic', () => {
  it('one `inbound` listener on 15006 serves the application\'s own port (port = targetPort) over mTLS', () => {
    const helper = path.join(repoRoot, 'test/support/transparent-pod-main.ts');
    // This shell's namespace is the "node"; the "pod" is a child namespace joined by a veth pair.
    const harness = `
set -eu
ip link set lo up
unshare -n sleep 150 2>/dev/null & POD=$!
while [ "$(readlink /proc/$POD/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do sleep 0.05; done
ip link add v0 type veth peer name v1 netns $POD
ip addr add 10.0.0.1/24 dev v0 && ip addr add 10.0.0.9/24 dev v0 && ip link set v0 up
nsenter -t $POD -n sh -c 'ip link set lo up && ip addr add 10.0.0.2/24 dev v1 && ip link set v1 up && ip route add default via 10.0.0.1'
status=0
${process.execPath} --import tsx ${helper} ${tmp} $POD ${envoyBin()} || status=$?
kill $POD 2>/dev/null || true
exit $status
`;
    let out: string;
    try {
      out = execFileSync('unshare', ['-n', 'bash', '-c', harness], { cwd: repoRoot, encoding: 'utf8', timeout: 100_000, env: { ...process.env, TRELLIS_LOG_LEVEL: 'warn' } });
    } catch (e) {
      const logs = spawnSync('sh', ['-c', `tail -n 20 ${tmp}/*.log`], { encoding: 'utf8' }).stdout;
      throw new Error(`${(e as { stderr?: string }).stderr ?? (e as Error).message}\n${logs}`);
    }
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    expect(line, out).toBeDefined();
    const r = JSON.parse(line!.slice('RESULT '.length));
    expect(r.listeners).toEqual(
      expect.arrayContaining([
        { name: 'inbound', address: { address: '0.0.0.0', port_value: 15006 } },
        { name: 'outbound', address: { address: '0.0.0.0', port_value: 15001 } },
        // The bootstrap's Prometheus listener (docs/telemetry.md), kept out of the inbound redirect.
        { name: 'trellis_stats', address: { address: '0.0.0.0', port_value: 15090 } },
      ]),
    );
    expect(r.listeners).toHaveLength(3); // no per-port listener: nothing binds the application's 8080
    expect(r.inbound).toEqual({
      listenerFilters: ['envoy.filters.listener.original_dst'],
      chains: [
        ['inbound:8080', 8080, 'tls'],
        ['inbound-direct', 15006, 'plain'],
      ],
      defaultChain: 'passthrough',
    });
    // The application got the request from its sidecar, with the client's verified identity.
    expect(r.viaMesh.status).toBe(200);
    expect(r.viaMesh.from).toBe('127.0.0.1');
    expect(r.viaMesh.xfcc).toContain('URI=spiffe://');
    expect(r.viaMesh.xfcc).toContain('/ns/demo/sa/client');
    // Plaintext to 8080 meets the TLS chain (closed, no HTTP answer); the application is not reachable around the sidecar.
    expect(['empty', 'ECONNRESET']).toContain(r.plaintextToApp);
    expect(r.passthrough).toBe('metrics');
    expect(['empty', 'ECONNRESET']).toContain(r.direct15006);
  }, 110_000);
});
