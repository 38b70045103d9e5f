/**
 * The redirect `trellis inject` adds, run for real: the init container's
 * script executes in a fresh network namespace (a "pod") joined by a veth
 * pair to another one (a "node"), both private to this test (`unshare -n`;
 * the machine's own network is never touched), and TCP connections show
 * where they land:
 *   the application's outbound → the sidecar's outbound port (15001);
 *   the sidecar's own outbound (uid 1337), loopback, DNS and the xDS port → not redirected;
 *   inbound to any port → the sidecar's one inbound listener (15006), which
 *   the application's own port does not collide with (port = targetPort is fine);
 *   inbound to the sidecar's own ports and excluded ports → not redirected;
 *   inbound from the node's address (kubelet probes) → the application directly.
 * Needs root with CAP_SYS_ADMIN and NET_ADMIN (unshare, nsenter, veth) and
 * iptables; where they are missing the suite is skipped and says why.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { iptablesScript } from '../../src/inject/iptables.ts';
import { netnsUnavailable } from '../support/netns.ts';

const PROBE = path.resolve(import.meta.dirname, '../support/netns-probe.mjs');


const why = netnsUnavailable({ bins: ['setpriv'] });
if (why) console.warn(`test/cli/inject-iptables.test.ts skipped: ${why}`);
const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-netns-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(why !== null)('the injected iptables redirect, in a network namespace', () => {
  it('sends outbound to 15001 and inbound to 15006, except the sidecar, loopback, DNS, xDS, excluded ports and the node', () => {
    const script = iptablesScript({ excludeInboundPorts: [9100], xdsPort: 18000, excludePorts: [5432], excludeCidrs: [] });
    writeFileSync(path.join(tmp, 'init.sh'), script);
    const node = process.execPath;
    // Runs inside `unshare -n`: this shell's namespace is the "node"; the "pod" is a child namespace.
    const harness = `
set -eu
cd ${tmp}
ip link set lo up
unshare -n sleep 60 2>/dev/null & POD=$!
while [ "$(readlink /proc/$POD/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do sleep 0.05; done
ip link add v0 type veth peer name v1 netns $POD
ip addr add 10.0.0.1/24 dev v0 && ip addr add 10.0.0.9/24 dev v0 && ip link set v0 up
nsenter -t $POD -n sh -c 'ip link set lo up && ip addr add 10.0.0.2/24 dev v1 && ip link set v1 up && ip route add default via 10.0.0.1'
# The init container, twice (a restarted init container finds its rules in place).
nsenter -t $POD -n env HOST_IP=10.0.0.1 TMPDIR=${tmp} XTABLES_LOCKFILE=${tmp}/xtables.lock sh init.sh > init.out
nsenter -t $POD -n env HOST_IP=10.0.0.1 TMPDIR=${tmp} XTABLES_LOCKFILE=${tmp}/xtables.lock sh init.sh > init2.out
# Listeners: the remote side on the node; the sidecar's ports and the application in the pod.
${node} ${PROBE} serve remote=10.0.0.1:9999 xds=10.0.0.1:18000 dns=10.0.0.1:53 db=10.0.0.1:5432 > node.ready 2>&1 & NODE_SERVE=$!
nsenter -t $POD -n ${node} ${PROBE} serve outbound=0.0.0.0:15001 inbound=0.0.0.0:15006 app=0.0.0.0:8080 metrics=0.0.0.0:9100 > pod.ready 2>&1 & POD_SERVE=$!
until grep -q listening node.ready 2>/dev/null && grep -q listening pod.ready 2>/dev/null; do sleep 0.05; done
echo "== app"
nsenter -t $POD -n ${node} ${PROBE} connect 10.0.0.1:9999 10.0.0.1:18000 10.0.0.1:53 10.0.0.1:5432 127.0.0.1:8080
echo "== sidecar"
nsenter -t $POD -n setpriv --reuid 1337 --regid 1337 --clear-groups ${node} ${PROBE} connect 10.0.0.1:9999
echo "== node"
${node} ${PROBE} connect 10.0.0.2:8080@10.0.0.9 10.0.0.2:8080@10.0.0.1 10.0.0.2:7777@10.0.0.9 10.0.0.2:9100@10.0.0.9 10.0.0.2:15001@10.0.0.9 10.0.0.2:15006@10.0.0.9
echo "== rules"
cat init.out
echo "== again"
cat init2.out
kill $NODE_SERVE $POD_SERVE $POD 2>/dev/null || true
`;
    const out = execFileSync('unshare', ['-n', 'bash', '-c', harness], { encoding: 'utf8', timeout: 45_000 });
    const section = (name: string) => out.split(`== ${name}\n`)[1]!.split('\n== ')[0]!;
    expect(section('app').trim().split('\n')).toEqual([
      '10.0.0.1:9999 -> outbound', // the application's call goes to the sidecar
      '10.0.0.1:18000 -> xds', // the xDS port is not redirected
      '10.0.0.1:53 -> dns', // nor DNS over TCP
      '10.0.0.1:5432 -> db', // nor an excluded port
      '127.0.0.1:8080 -> app', // nor loopback
    ]);
    expect(section('sidecar').trim()).toBe('10.0.0.1:9999 -> remote'); // uid 1337 goes out as it is
    expect(section('node').trim().split('\n')).toEqual([
      '10.0.0.2:8080@10.0.0.9 -> inbound', // another pod calling the targetPort reaches the sidecar's inbound listener
      '10.0.0.2:8080@10.0.0.1 -> app', // the node (kubelet probes) reaches the application
      '10.0.0.2:7777@10.0.0.9 -> inbound', // any port: the listener's passthrough chain handles what is no mesh port
      '10.0.0.2:9100@10.0.0.9 -> metrics', // an excluded port reaches the application
      '10.0.0.2:15001@10.0.0.9 -> outbound', // the sidecar's own ports are not redirected
      '10.0.0.2:15006@10.0.0.9 -> inbound',
    ]);
    expect(section('rules')).toContain('-A TRELLIS_INBOUND -p tcp -j REDIRECT --to-ports 15006');
    expect(section('rules')).toContain('-A TRELLIS_INBOUND -s 10.0.0.1/32 -j RETURN');
    expect(section('again')).toContain('redirect already installed');
  }, 50_000);
});
