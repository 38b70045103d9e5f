/**
 * Network namespaces for the transparent-mode e2e tests: whether this
 * machine can make them (root, the tools, veth pairs and nat rules), and the
 * harness that runs a helper in a private "node" namespace with child "pod"
 * namespaces joined to it by veth pairs on a bridge (node 10.0.0.1 and
 * 10.0.0.9 on br0, pod i 10.0.0.(2+i) on v1, default route via the node).
 * Nothing here touches the machine's own network (`unshare -n`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { envoyBin, repoRoot } from './venv.ts';

/**
 * Why the namespaces cannot be made here, or null when they can. `bins`: more
 * tools the caller runs; `mount`: a private mount namespace too (bind mounts).
 */
export function netnsUnavailable(options: { bins?: readonly string[]; mount?: boolean } = {}): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const bin of ['unshare', 'nsenter', 'ip', 'iptables-restore', ...(options.bins ?? []), ...(options.mount ? ['mount'] : [])]) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) return `${bin} is not installed (apt-get install iptables iproute2 util-linux)`;
  }
  const check = `ip link add br0 type bridge && ip link add v0 type veth peer name v1 && iptables -t nat -S >/dev/null${options.mount ? ' && mount --bind /dev/null /etc/hostname' : ''}`;
  const probe = spawnSync('unshare', [...(options.mount ? ['-m'] : []), '-n', 'sh', '-c', check], { encoding: 'utf8' });
  const what = options.mount ? 'mount and network namespaces' : 'a network namespace';
  return probe.status === 0 ? null : `cannot make ${what} with a veth pair and nat rules here: ${probe.stderr.trim()}`;
}

/**
 * Runs `node --import tsx <helper> <workDir> <pod pids> <envoy>` in the node
 * namespace and returns the JSON of its `RESULT ` line; on failure, the
 * error carries the helper's stderr and the tails of the logs in workDir.
 * `pods` (default 1) pod namespaces hang off the node's bridge `br0`
 * (10.0.0.1 and 10.0.0.9): pod i is 10.0.0.(2+i) on its `v1`, default route
 * via the node; their pids reach the helper comma-separated, in that order.
 * `subnet` replaces 10.0.0 (a test's own range, as its brief names it).
 */
export function runInPodHarness(helper: string, workDir: string, timeoutMs: number, pods = 1, subnet = '10.0.0'): Record<string, any> {
  const harness = `
set -eu
ip link set lo up
ip link add br0 type bridge
ip addr add ${subnet}.1/24 dev br0 && ip addr add ${subnet}.9/24 dev br0 && ip link set br0 up
PODS=""
for i in $(seq 0 ${pods - 1}); do
  unshare -n sleep ${Math.ceil(timeoutMs / 1000) + 30} 2>/dev/null & POD=$!
  while [ "$(readlink /proc/$POD/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do sleep 0.05; done
  ip link add v0-$i type veth peer name v1 netns $POD
  ip link set v0-$i master br0 && ip link set v0-$i up
  nsenter -t $POD -n sh -c "ip link set lo up && ip addr add ${subnet}.$((i + 2))/24 dev v1 && ip link set v1 up && ip route add default via ${subnet}.1"
  PODS="$PODS\${PODS:+,}$POD"
done
status=0
${process.execPath} --import tsx ${helper} ${workDir} $PODS ${envoyBin()} || status=$?
kill $(echo $PODS | tr , ' ') 2>/dev/null || true
exit $status
`;
  let out: string;
  try {
    out = execFileSync('unshare', ['-n', 'bash', '-c', harness], { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, TRELLIS_LOG_LEVEL: 'warn' } });
  } catch (e) {
    const logs = spawnSync('sh', ['-c', `tail -n 20 ${workDir}/*.log`], { encoding: 'utf8' }).stdout;
    throw new Error(`${(e as { stderr?: string }).stderr ?? (e as Error).message}\n${logs}`);
  }
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`the helper printed no RESULT line:\n${out}`);
  return JSON.parse(line.slice('RESULT '.length)) as Record<string, any>;
}
