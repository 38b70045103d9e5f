/**
 * Issue 11, egress, with a real transparent-mode Envoy in a network
 * namespace (as transparent-pod.test.ts runs one; needs root, skipped
 * otherwise). "External" servers outside the mesh — HTTP, HTTPS for
 * api.external.test with its own CA, a raw TCP echo — and a pod whose
 * application's connections the injected redirect sends to its sidecar:
 *   1. Passthrough (the default): undeclared HTTP, TLS and TCP reach them;
 *   2. RegistryOnly: HTTP gets a 502 naming why, TLS and TCP are closed, the
 *      sidecar counts and logs each with its destination;
 *   3. + ExternalServices: HTTP to api.external.test goes out over TLS the
 *      sidecar originates (checked against the CA bundle, DNS-resolved
 *      cluster), TLS is routed by SNI untouched, TCP by address.
 * Nothing touches the machine's own network or /etc/hosts (`unshare -m -n`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/venv.ts';
import { netnsUnavailable } from '../support/netns.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-egress-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const why = netnsUnavailable({ bins: ['setpriv', 'openssl'], mount: true });
if (why) console.warn(`test/e2e/egress.test.ts skipped: ${why}`);

describe.skipIf(why !== null)('issue 11: egress from a transparent-mode pod, real Envoy', () => {
  it('pass-through by default, refused in registry-only mode, reached through declared ExternalServices (TLS origination, SNI, TCP)', () => {
    writeFileSync(path.join(tmp, 'hosts'), '127.0.0.1 localhost\n10.0.0.20 api.external.test\n10.0.0.21 db.external.test\n');
    const helper = path.join(repoRoot, 'test/support/egress-pod-main.ts');
    const harness = `
set -eu
mount --bind ${tmp}/hosts /etc/hosts
ip link set lo up
unshare -n sleep 170 2>/dev/null & POD=$!
while [ "$(readlink /proc/$POD/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do sleep 0.05; done
ip link add v0 type veth peer name v1 netns $POD
for a in 10.0.0.1 10.0.0.20 10.0.0.21; do ip addr add $a/24 dev v0; done
ip link set v0 up
nsenter -t $POD -n sh -c 'ip link set lo up && ip addr add 10.0.0.2/24 dev v1 && ip link set v1 up && ip route add default via 10.0.0.1'
status=0
${process.execPath} --import tsx ${helper} ${tmp} $POD || status=$?
kill $POD 2>/dev/null || true
exit $status
`;
    let out: string;
    try {
      out = execFileSync('unshare', ['-m', '-n', 'bash', '-c', harness], { cwd: repoRoot, encoding: 'utf8', timeout: 160_000, env: { ...process.env, TRELLIS_LOG_LEVEL: 'warn' } });
    } catch (e) {
      throw new Error(`${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
    }
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    expect(line, out).toBeDefined();
    const r = JSON.parse(line!.slice('RESULT '.length));

    // 1. Passthrough: where they were going, as before the sidecar.
    expect(JSON.parse(r.passthrough.httpUndeclared.body)).toMatchObject({ name: 'external-http', host: 'plain.external.test' });
    expect(JSON.parse(r.passthrough.tls.body)).toMatchObject({ name: 'external-https', sni: 'api.external.test' });
    expect(r.passthrough.tcp).toBe('pong:ping');

    // 2. RegistryOnly: refused, counted and logged with the destination.
    expect(r.registryOnly.httpUndeclared.status).toBe(502);
    expect(r.registryOnly.httpUndeclared.body).toContain('registry-only');
    expect(r.registryOnly.tls.error).toBeDefined();
    expect(r.registryOnly.tcp).not.toContain('pong');
    expect(r.counters['tcp.egress_blocked.downstream_cx_total']).toBeGreaterThanOrEqual(2);
    expect(r.counters['http.outbound.rq_direct_response']).toBeGreaterThanOrEqual(1);
    expect(r.log.some((l: string) => l.includes('egress refused') && l.includes('destination=10.0.0.21:9000')), JSON.stringify(r.log)).toBe(true);
    expect(r.log.some((l: string) => l.includes('egress refused') && l.includes('destination=10.0.0.20:443') && l.includes('sni=api.external.test'))).toBe(true);
    expect(r.log.some((l: string) => l.includes('trellis egress 502') && l.includes('authority=plain.external.test') && l.includes('route=egress-blocked'))).toBe(true);

    // 3. Declared: the application spoke plain HTTP to port 80; the sidecar originated TLS to 443 with SNI.
    expect(JSON.parse(r.declared.httpDeclared.body)).toMatchObject({ name: 'external-https', host: 'api.external.test', sni: 'api.external.test' });
    expect(JSON.parse(r.declared.tls.body)).toMatchObject({ name: 'external-https', sni: 'api.external.test' });
    expect(r.declared.tcp).toBe('pong:ping');
    expect(r.declared.httpUndeclared.status).toBe(502); // still registry-only for the rest
    expect(r.externalClusters).toEqual([
      ['external/api.external.test:443', 'LOGICAL_DNS'],
      ['external/api.external.test:80', 'LOGICAL_DNS'],
      ['external/db.external.test:9000', 'LOGICAL_DNS'],
    ]);
  }, 170_000);
});
