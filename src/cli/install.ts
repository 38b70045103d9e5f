/**
 * `trellis install`: renders (YAML on stdout) or, with --apply, applies
 * through the API server everything a cluster needs: the CRDs, then
 * deploy/kubernetes with --namespace/--replicas/--image applied, and with
 * --apply the CA Secret trellis-ca, created once when missing and never
 * overwritten. `trellis uninstall` removes what install made; the namespace
 * and its CA Secret only with --delete-ca, the CRDs (and so every intent
 * stored in them) only with --delete-crds.
 */
import { stringify } from 'yaml';
import { UsageError, OperatorError, errorMessage } from '../errors.ts';
import { loadKubeConfig } from '../runtime/kube-mesh.ts';
import { KubeApiError, KubeRest } from '../sources/kubernetes/rest.ts';
import { parseArgs, type ParsedArgs } from './args.ts';
import { newCaSecret } from './ca-secret.ts';
import { apiPath, CA_SECRET, clusterManifests, crdManifests, DEFAULT_NAMESPACE, describe, installManifests, type InstallOptions, type Json } from './install-manifests.ts';

const INSTALL_USAGE = `usage: trellis install [--apply] [--kubeconfig K] [--namespace NS] [--replicas N] [--image IMAGE] [--trust-domain D] [--rate-limit] [--no-gateway-deployments]
  without --apply: the manifests as YAML on stdout (kubectl apply -f -); the CA Secret is not rendered
  --no-gateway-deployments: Trellis does not run a Deployment and Service per Gateway of its class
           (serve --gateway-deployments=false), and may not write Deployments, Services or ServiceAccounts
  --rate-limit: also the global rate limit service (envoyproxy/ratelimit, Redis) and the ConfigMap
           Trellis keeps its config in (deploy/kubernetes/ratelimit; docs/intents.md "Rate limits")
  --apply: server-side apply through the API server (kubeconfig as serve --source kubernetes),
           and the Secret ${CA_SECRET} made once if missing (never overwritten)
`;
const UNINSTALL_USAGE = `usage: trellis uninstall [--kubeconfig K] [--namespace NS] [--delete-ca] [--delete-crds]
  removes the Deployments, Services, RBAC, ConfigMap and webhook configuration install made;
  --delete-ca also the namespace and its Secret ${CA_SECRET} (the mesh root: every sidecar's trust)
  --delete-crds also the CRDs, which deletes every intent stored in them
`;

const say = (line: string) => process.stderr.write(`${line}\n`);

export function installOptions(args: ParsedArgs, usage: string): InstallOptions {
  const namespace = args.values.namespace!;
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) throw new UsageError(`--namespace ${namespace}: not a namespace name (lower case letters, digits, '-')`, usage);
  const r = args.values.replicas;
  if (r !== undefined && !/^\d{1,3}$/.test(r)) throw new UsageError(`--replicas ${r}: expected a whole number`, usage);
  const image = args.values.image;
  if (image !== undefined && (image === '' || /\s/.test(image))) throw new UsageError(`--image ${JSON.stringify(image)}: expected an image reference`, usage);
  return { namespace, ...(r !== undefined ? { replicas: Number(r) } : {}), ...(image ? { image } : {}) };
}

/** A client on the kubeconfig serve uses; every failure to reach it becomes one operator line. */
export function kubeClient(kubeconfig: string | undefined): KubeRest {
  const rest = new KubeRest(loadKubeConfig(kubeconfig), 10_000);
  try {
    void rest.server;
  } catch (e) {
    throw new OperatorError(`no Kubernetes API server: ${errorMessage(e)}; --kubeconfig K or $KUBECONFIG`);
  }
  return rest;
}

/** Any error of a call to the API server, as one line (a refused connection is not a stack trace). */
export function apiProblem(rest: KubeRest, e: unknown): string {
  if (e instanceof KubeApiError) return e.message;
  const cause = e instanceof Error ? (e.cause as { code?: string; message?: string } | undefined) : undefined;
  return `${rest.server}: ${cause?.code ?? cause?.message ?? errorMessage(e)}`;
}

async function serverSideApply(rest: KubeRest, obj: Json): Promise<void> {
  await rest.patch(apiPath(obj), obj, 'apply', { fieldManager: 'trellis-install', force: 'true' });
}

/** Creates the CA Secret unless it exists; true if it made one. */
async function createCaOnce(rest: KubeRest, namespace: string, trustDomain: string): Promise<boolean> {
  const secret = newCaSecret(namespace, trustDomain);
  try {
    await rest.post(apiPath(secret, false), secret);
    say(`created Secret ${namespace}/${CA_SECRET} (a new mesh root for trust domain ${trustDomain})`);
    return true;
  } catch (e) {
    if (!(e instanceof KubeApiError && e.status === 409)) throw e;
    say(`kept Secret ${namespace}/${CA_SECRET} (it exists; never overwritten)`);
    return false;
  }
}

export async function applyInstall(rest: KubeRest, opts: InstallOptions & { trustDomain: string }): Promise<{ caCreated: boolean }> {
  let caCreated = false;
  try {
    for (const obj of installManifests(opts)) {
      await serverSideApply(rest, obj);
      say(`applied ${describe(obj)}`);
      // The Secret right after its namespace, before the Deployment that mounts it.
      if (obj.kind === 'Namespace') caCreated = await createCaOnce(rest, opts.namespace, opts.trustDomain);
    }
  } catch (e) {
    throw new OperatorError(`install: ${apiProblem(rest, e)}`);
  }
  return { caCreated };
}

export async function installCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: { kubeconfig: undefined, namespace: DEFAULT_NAMESPACE, replicas: undefined, image: undefined, 'trust-domain': 'cluster.local' },
    booleans: ['apply', 'help', 'rate-limit', 'no-gateway-deployments'],
    usage: INSTALL_USAGE,
  });
  if (args.booleans.help) return void process.stdout.write(INSTALL_USAGE), 0;
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, INSTALL_USAGE);
  const opts = {
    ...installOptions(args, INSTALL_USAGE),
    ...(args.booleans['rate-limit'] ? { rateLimit: true } : {}),
    ...(args.booleans['no-gateway-deployments'] ? { gatewayDeployments: false } : {}),
  };
  if (!args.booleans.apply) {
    process.stdout.write(installManifests(opts).map((o) => `---\n${stringify(o)}`).join(''));
    say(`rendered; the Secret ${opts.namespace}/${CA_SECRET} is not included: \`trellis install --apply\` makes it once, or see docs/kubernetes.md`);
    return 0;
  }
  const rest = kubeClient(args.values.kubeconfig);
  await applyInstall(rest, { ...opts, trustDomain: args.values['trust-domain']! });
  say(`installed in namespace ${opts.namespace}; \`trellis check\` to see it come up`);
  return 0;
}

export async function uninstall(rest: KubeRest, opts: { namespace: string; deleteCa: boolean; deleteCrds: boolean }): Promise<void> {
  // The rate limit service's objects too, whether or not install made them (absent ones are said so).
  const workload = clusterManifests({ namespace: opts.namespace, rateLimit: true }).filter((o) => o.kind !== 'Namespace');
  const targets = [...workload.reverse()];
  if (opts.deleteCa) {
    say(`warning: deleting Secret ${opts.namespace}/${CA_SECRET}: the mesh root goes with it; a new install makes a new root that no running sidecar trusts`);
    targets.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: CA_SECRET, namespace: opts.namespace } });
    targets.push(...clusterManifests({ namespace: opts.namespace }).filter((o) => o.kind === 'Namespace'));
  }
  if (opts.deleteCrds) targets.push(...crdManifests());
  try {
    for (const obj of targets) {
      try {
        await rest.delete(apiPath(obj));
        say(`deleted ${describe(obj)}`);
      } catch (e) {
        if (!(e instanceof KubeApiError && e.status === 404)) throw e;
        say(`absent ${describe(obj)}`);
      }
    }
  } catch (e) {
    throw new OperatorError(`uninstall: ${apiProblem(rest, e)}`);
  }
  if (!opts.deleteCa) say(`kept namespace ${opts.namespace} and its Secret ${CA_SECRET} (the mesh root); --delete-ca to remove them`);
  if (!opts.deleteCrds) say('kept the CRDs and the intents stored in them; --delete-crds to remove them');
}

export async function uninstallCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: { kubeconfig: undefined, namespace: DEFAULT_NAMESPACE }, booleans: ['delete-ca', 'delete-crds', 'help'], usage: UNINSTALL_USAGE });
  if (args.booleans.help) return void process.stdout.write(UNINSTALL_USAGE), 0;
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`, UNINSTALL_USAGE);
  const { namespace } = installOptions(args, UNINSTALL_USAGE);
  await uninstall(kubeClient(args.values.kubeconfig), { namespace, deleteCa: args.booleans['delete-ca']!, deleteCrds: args.booleans['delete-crds']! });
  return 0;
}
