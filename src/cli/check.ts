/**
 * `trellis check [--pre]`: named checks in a row, each ✔ or × with the fact
 * found and, when it fails, what to do (in the manner of `linkerd check`).
 * Exit 0 when every check passes, 1 otherwise. An API server that cannot be
 * reached is a failed check of its own; the checks that need it are not run.
 */
import { errorMessage, UsageError } from '../errors.ts';
import type { KubeRest } from '../sources/kubernetes/rest.ts';
import { parseArgs } from './args.ts';
import { proxiesInSync, replicasAgree, replicasFromUrls, replicasInCluster, type Replica } from './check-replicas.ts';
import { webhookReachable } from './check-webhook.ts';
import { clusterChecks, preInstallChecks, type Check, type Outcome } from './check-cluster.ts';
import { DEFAULT_NAMESPACE } from './install-manifests.ts';
import { apiProblem, kubeClient } from './install.ts';

const USAGE = `usage: trellis check [--pre] [--kubeconfig K] [--namespace NS] [--admin URL]...
  --pre    before install: API server reachable, permission to create what install makes, no conflicting CRDs
  --admin  a Trellis replica's admin API (http://host:port), once per replica: that they agree on versions and
           every proxy is in sync. Without it, the running Trellis pods of NS, through the API server's pod proxy
`;

/** Clock skew beyond this makes certificates look not-yet-valid or expired to peers. */
const MAX_SKEW_MS = 30_000;

async function reachable(rest: KubeRest, now: () => number): Promise<{ outcome: Outcome; skewMs?: number }> {
  try {
    const before = now();
    const { body, headers } = await rest.getWithHeaders<{ gitVersion?: string }>('/version');
    const date = Date.parse(headers.date ?? '');
    // The Date header has second resolution and is stamped while the request is in flight.
    const skewMs = Number.isNaN(date) ? undefined : date - (before + now()) / 2;
    return { outcome: { ok: true, fact: `${rest.server} answers (Kubernetes ${body.gitVersion ?? 'version unknown'})` }, ...(skewMs !== undefined ? { skewMs } : {}) };
  } catch (e) {
    return { outcome: { ok: false, fact: `cannot reach ${apiProblem(rest, e)}`, fix: 'check the kubeconfig (--kubeconfig K, $KUBECONFIG, its current context) and that the API server is up' } };
  }
}

export function clockSkew(skewMs: number | undefined): Outcome {
  if (skewMs === undefined) return { ok: false, fact: 'the API server sent no Date header', fix: 'compare this machine\'s clock with the cluster\'s by hand (NTP)' };
  const s = Math.round(Math.abs(skewMs) / 1000);
  const dir = skewMs > 0 ? 'behind' : 'ahead of';
  if (Math.abs(skewMs) <= MAX_SKEW_MS) return { ok: true, fact: `within ${Math.max(s, 1)} s of the API server's clock` };
  return { ok: false, fact: `this machine's clock is ${s} s ${dir} the API server's`, fix: 'synchronize the clocks (NTP): skewed clocks make certificates look not yet valid or expired' };
}

/** The --admin URLs, else the running Trellis pods; and, when there are none, why. */
async function findReplicas(rest: KubeRest, namespace: string, urls: readonly string[]): Promise<{ replicas: Replica[]; why: string }> {
  if (urls.length > 0) return { replicas: replicasFromUrls(urls, USAGE), why: '' };
  try {
    const { replicas, notRunning } = await replicasInCluster(rest, namespace);
    return { replicas, why: `no running Trellis pod in namespace ${namespace}${notRunning.length > 0 ? ` (${notRunning.join(', ')})` : ''} and no --admin URL given` };
  } catch (e) {
    return { replicas: [], why: `the Trellis pods cannot be listed (${apiProblem(rest, e)}) and no --admin URL given` };
  }
}

function line(name: string, o: Outcome): string {
  const mark = o.skipped ? '-' : o.ok ? '✔' : '×';
  return `${mark} ${name}: ${o.fact}${!o.ok && o.fix ? `\n    ${o.fix}` : ''}\n`;
}

export async function checkCommand(argv: string[], now: () => number = Date.now): Promise<number> {
  const args = parseArgs(argv, { values: { kubeconfig: undefined, namespace: DEFAULT_NAMESPACE }, repeatable: ['admin'], booleans: ['pre', 'help'], usage: USAGE });
  if (args.booleans.help) return void process.stdout.write(USAGE), 0;
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, USAGE);
  const namespace = args.values.namespace!;
  let failed = 0;
  const report = (name: string, o: Outcome) => {
    if (!o.ok) failed++;
    process.stdout.write(line(name, o));
  };
  let rest: KubeRest;
  try {
    rest = kubeClient(args.values.kubeconfig);
  } catch (e) {
    report('Kubernetes API reachable', { ok: false, fact: errorMessage(e), fix: 'give a kubeconfig: --kubeconfig K or $KUBECONFIG' });
    return 1;
  }
  const api = await reachable(rest, now);
  report('Kubernetes API reachable', api.outcome);
  if (!api.outcome.ok) {
    process.stdout.write('  (the other checks need the API server: not run)\n');
    return 1;
  }
  report('clock skew', clockSkew(api.skewMs));
  const checks: Check[] = args.booleans.pre
    ? preInstallChecks(rest, namespace)
    : [...clusterChecks(rest, namespace, now), { name: 'webhook reachable', run: () => webhookReachable(rest) }];
  for (const c of checks) {
    let o: Outcome;
    try {
      o = await c.run();
    } catch (e) {
      o = { ok: false, fact: apiProblem(rest, e), fix: 'the API server refused a read this check needs: check the kubeconfig user\'s permissions' };
    }
    report(c.name, o);
  }
  if (!args.booleans.pre) {
    const { replicas, why } = await findReplicas(rest, namespace, args.lists.admin!);
    report('replicas agree on versions', await replicasAgree(replicas, why));
    report('proxies in sync', await proxiesInSync(replicas, why));
  }
  process.stdout.write(failed === 0 ? '\nall checks passed\n' : `\n${failed} ${failed === 1 ? 'check' : 'checks'} failed\n`);
  return failed === 0 ? 0 : 1;
}
