/**
 * `trellis serve`: parse flags, start the control plane (src/runtime), run
 * until SIGINT or SIGTERM.
 */
import { hostname } from 'node:os';
import { parseArgs } from './args.ts';
import { useLogFormat } from '../log.ts';
import { UsageError } from '../errors.ts';
import { startControlPlane, type KubernetesSource } from '../runtime/control-plane.ts';
import { DEFAULT_RENEWAL_POLICY } from '../ca/rotation.ts';
import { DEFAULT_TOKEN_AUDIENCE } from '../identity/token-review.ts';
import { DEFAULT_NAMESPACE_SELECTOR } from '../sources/kubernetes/resources.ts';
import { DEFAULT_WEBHOOK_CONFIGURATION, DEFAULT_WEBHOOK_DNS_NAMES, WEBHOOK_PATH, type WebhookOptions } from '../runtime/webhook.ts';
import { DEFAULT_INJECT_OPTIONS, type InjectOptions } from '../inject/options.ts';

const DEFAULTS = {
  'xds-address': '0.0.0.0:18000',
  'admin-address': '127.0.0.1:19000',
  'state-dir': '.trellis',
} as const;

const USAGE = 'usage: trellis serve [--source file:<dir> | --source kubernetes | --resources FILE] [options]; trellis serve --help lists them\n';

const HELP = `usage: trellis serve [--source file:<dir> | --source kubernetes | --resources FILE] [options]
  --source file:<dir>            the mesh from a folder of Kubernetes YAML (default file:. unless --resources)
  --source kubernetes            the mesh from a cluster: --kubeconfig K, else in-cluster, else $KUBECONFIG
    --namespace-selector S       the namespaces in the mesh (default ${DEFAULT_NAMESPACE_SELECTOR}; '' = all)
    --max-delay-ms MS            under steady churn, publish at least every MS ms: the latency floor,
                                 traded against pushes and CPU (docs/kubernetes.md has the default and figures)
    --token-audience A           of the sidecars' service-account tokens (default ${DEFAULT_TOKEN_AUDIENCE})
    --webhook-address H:P        serve the sidecar-injection admission webhook (HTTPS, POST ${WEBHOOK_PATH}; off by default;
                                 deploy/kubernetes uses 0.0.0.0:9443; docs/kubernetes.md)
      --webhook-dns-names N,...  its certificate's names (default ${DEFAULT_WEBHOOK_DNS_NAMES.join(',')})
      --webhook-configuration C  the MutatingWebhookConfiguration whose caBundle Trellis keeps current
                                 (default ${DEFAULT_WEBHOOK_CONFIGURATION}; '' = none)
    --gateway-deployments B      true (default) or false: for each Gateway of Trellis's GatewayClass, keep a
                                 ServiceAccount, Deployment and Service that run its Envoy (docs/gateway-api.md
                                 "In a cluster"); false for operators who run their gateways themselves
    --inject-image I             the Trellis image of injected and gateway pods' init containers (default ${DEFAULT_INJECT_OPTIONS.trellisImage})
    --inject-envoy-image I       the sidecars' and gateways' Envoy image (default ${DEFAULT_INJECT_OPTIONS.envoyImage})
    --inject-xds-address H:P     where sidecars and gateways reach Trellis (default ${DEFAULT_INJECT_OPTIONS.xdsAddress})
  --resources FILE               raw Envoy resources served to every node
  --xds-address H:P              default ${DEFAULTS['xds-address']}; TLS from the mesh CA
  --xds-plaintext-address H:P    opt-in, for proxyless gRPC clients; never carries private keys
  --admin-address H:P            default ${DEFAULTS['admin-address']}
  --state-dir D                  the CA root and the token key (default ${DEFAULTS['state-dir']})
  --new-ca                       create a new root although the state dir had one and its ca/ is lost;
                                 without it Trellis refuses to start (docs/security.md, "Lost CA state")
  --ratelimit-config-dir D       keep the rate limit service's config in D/config/trellis.yaml, from the
                                 TrafficPolicies' global limits (docs/intents.md, "Rate limits")
  --ratelimit-configmap [NS/]NAME  with --source kubernetes: keep it in this ConfigMap instead (key
                                 trellis.yaml; NS defaults to $POD_NAMESPACE), written by the leader;
                                 \`trellis install --rate-limit\` mounts it into the ratelimit Deployment
  --prometheus URL               read golden metrics (trellis stat, TrafficMetrics) from this Prometheus
                                 (e.g. http://prometheus.monitoring:9090); default: from the sidecars directly
  --scrape-targets-file F        keep F listing the connected sidecars' stats endpoints, for a Prometheus
                                 file_sd_configs (docs/telemetry.md)
  --rotation-grace S             after \`trellis ca rotate\`, seconds leaves stay on the old root (default ${DEFAULT_RENEWAL_POLICY.rotationGraceMs / 1000})
Logs go to stdout: JSON lines, or readable lines when stdout is a terminal; TRELLIS_LOG_FORMAT=json|human
overrides, TRELLIS_LOG_LEVEL=debug|info|warn|error sets the level (default info).
`;

export async function serveCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    values: {
      ...DEFAULTS,
      source: undefined,
      resources: undefined,
      'xds-plaintext-address': undefined,
      kubeconfig: undefined,
      'namespace-selector': undefined,
      'token-audience': undefined,
      'max-delay-ms': undefined,
      'rotation-grace': undefined,
      'ratelimit-config-dir': undefined,
      'ratelimit-configmap': undefined,
      'webhook-address': undefined,
      'webhook-dns-names': undefined,
      'webhook-configuration': undefined,
      'inject-image': undefined,
      'inject-envoy-image': undefined,
      'inject-xds-address': undefined,
      'gateway-deployments': undefined,
      prometheus: undefined,
      'scrape-targets-file': undefined,
    },
    booleans: ['help', 'new-ca'],
    usage: USAGE,
  });
  if (args.booleans.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // JSON lines for machines; readable lines when a person watches (TRELLIS_LOG_FORMAT overrides).
  useLogFormat('serve');
  // The file source is the default when no cluster (and no raw resources file) is named.
  if (args.values.source === undefined && args.values.resources === undefined) args.values.source = 'file:.';
  const sourceDir = sourceDirOf(args.values.source);
  const grace = args.values['rotation-grace'];
  if (grace !== undefined && !(grace.trim() !== '' && Number(grace) >= 0)) throw new UsageError(`--rotation-grace ${grace}: expected seconds (e.g. 60)`, USAGE);
  const prometheus = args.values.prometheus;
  if (prometheus !== undefined && !/^https?:\/\/[^/\s]+/.test(prometheus)) throw new UsageError(`--prometheus ${prometheus}: expected a URL such as http://prometheus:9090`, USAGE);
  const kubernetes = args.values.source === 'kubernetes' ? kubernetesSource(args.values.kubeconfig, args.values['namespace-selector'], args.values['max-delay-ms']) : undefined;
  const running = await startControlPlane({
    xdsAddress: args.values['xds-address']!,
    adminAddress: args.values['admin-address']!,
    resourcesFile: args.values.resources,
    sourceDir,
    kubernetes,
    stateDir: args.values['state-dir'],
    newCa: args.booleans['new-ca'],
    plaintextXdsAddress: args.values['xds-plaintext-address'],
    tokenAudience: args.values['token-audience'],
    rotationGraceMs: grace !== undefined ? Number(grace) * 1000 : undefined,
    webhook: webhookOptions(args.values),
    ...gatewayDeployments(args.values),
    rateLimitConfigDir: args.values['ratelimit-config-dir'],
    ...(args.values['ratelimit-configmap'] !== undefined ? { rateLimitConfigMap: configMapRef(args.values['ratelimit-configmap'], args.values.source) } : {}),
    metrics: { ...(prometheus ? { prometheusUrl: prometheus } : {}), ...(args.values['scrape-targets-file'] ? { scrapeTargetsFile: args.values['scrape-targets-file'] } : {}) },
  });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await running.stop();
  return 0;
}

/**
 * `--source kubernetes`. In a pod (POD_NAMESPACE set through the downward
 * API, as deploy/kubernetes does) replicas elect one status writer with a
 * Lease in that namespace, named by the pod (POD_NAME).
 */
function kubernetesSource(kubeconfig: string | undefined, namespaceSelector: string | undefined, maxDelayMs: string | undefined): KubernetesSource {
  const ns = process.env.POD_NAMESPACE;
  const maxDelay = maxDelayMs === undefined ? undefined : Number(maxDelayMs);
  if (maxDelay !== undefined && !(Number.isInteger(maxDelay) && maxDelay >= 0)) throw new UsageError(`--max-delay-ms ${maxDelayMs}: expected whole milliseconds`, USAGE);
  return {
    kubeconfig,
    namespaceSelector,
    ...(maxDelay !== undefined ? { maxDelayMs: maxDelay } : {}),
    ...(ns ? { leaderElection: { namespace: ns, identity: process.env.POD_NAME ?? hostname() } } : {}),
  };
}

/** `--webhook-address` and what goes with it, or undefined (no webhook). */
function webhookOptions(v: Record<string, string | undefined>): WebhookOptions | undefined {
  const address = v['webhook-address'];
  const withIt = ['webhook-dns-names', 'webhook-configuration'].filter((k) => v[k] !== undefined);
  if (address === undefined) {
    if (withIt.length > 0) throw new UsageError(`--${withIt[0]} configures the injection webhook: add --webhook-address H:P`, USAGE);
    return undefined;
  }
  if (v.source !== 'kubernetes') throw new UsageError('--webhook-address: the injection webhook needs --source kubernetes', USAGE);
  return {
    address,
    ...(v['webhook-dns-names'] !== undefined ? { dnsNames: v['webhook-dns-names'].split(',').map((n) => n.trim()).filter(Boolean) } : {}),
    ...(v['webhook-configuration'] !== undefined ? { configurationName: v['webhook-configuration'] } : {}),
    inject: injectOverrides(v),
  };
}

/** `--inject-*`: what injected sidecars and gateway pods get, beyond the defaults. */
function injectOverrides(v: Record<string, string | undefined>): Partial<InjectOptions> {
  const given = ['inject-image', 'inject-envoy-image', 'inject-xds-address'].filter((k) => v[k] !== undefined);
  if (given.length > 0 && v.source !== 'kubernetes') throw new UsageError(`--${given[0]} configures the pods Trellis injects or runs in a cluster: it needs --source kubernetes`, USAGE);
  if (v['inject-xds-address'] !== undefined && !/^[^:]+:\d+$/.test(v['inject-xds-address'])) throw new UsageError(`--inject-xds-address ${v['inject-xds-address']}: expected host:port`, USAGE);
  return {
    ...(v['inject-image'] ? { trellisImage: v['inject-image'] } : {}),
    ...(v['inject-envoy-image'] ? { envoyImage: v['inject-envoy-image'] } : {}),
    ...(v['inject-xds-address'] ? { xdsAddress: v['inject-xds-address'] } : {}),
    ...(v['token-audience'] ? { tokenAudience: v['token-audience'] } : {}),
  };
}

/** `--gateway-deployments true|false`: on by default with --source kubernetes. */
function gatewayDeployments(v: Record<string, string | undefined>): { gatewayDeployments?: { inject: Partial<InjectOptions> } } {
  const flag = v['gateway-deployments'];
  const inject = injectOverrides(v);
  if (flag !== undefined && flag !== 'true' && flag !== 'false') throw new UsageError(`--gateway-deployments ${flag}: expected true or false`, USAGE);
  if (v.source !== 'kubernetes') {
    if (flag !== undefined) throw new UsageError('--gateway-deployments: Trellis runs Gateways in a cluster only (--source kubernetes); with a folder, `trellis bootstrap --gateway` writes a gateway\'s bootstrap', USAGE);
    return {};
  }
  return flag === 'false' ? {} : { gatewayDeployments: { inject } };
}

/** `--ratelimit-configmap [ns/]name`: the namespace defaults to the pod's own (the downward API's POD_NAMESPACE). */
function configMapRef(ref: string, source: string | undefined): { namespace: string; name: string } {
  if (source !== 'kubernetes') throw new UsageError('--ratelimit-configmap: a ConfigMap needs --source kubernetes; with a folder, use --ratelimit-config-dir', USAGE);
  const [a, b, ...rest] = ref.split('/');
  const namespace = b === undefined ? process.env.POD_NAMESPACE : a;
  const name = b === undefined ? a : b;
  const dns = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  if (rest.length > 0 || !name || !dns.test(name) || (namespace !== undefined && !dns.test(namespace))) throw new UsageError(`--ratelimit-configmap ${ref}: expected NAME or NAMESPACE/NAME (lower-case DNS labels)`, USAGE);
  if (!namespace) throw new UsageError(`--ratelimit-configmap ${ref}: no namespace: write NAMESPACE/${name}, or run in a pod with POD_NAMESPACE set`, USAGE);
  return { namespace, name };
}

/** `--source file:<dir>`, or `--source kubernetes` (then no folder). */
function sourceDirOf(source: string | undefined): string | undefined {
  if (source === undefined || source === 'kubernetes') return undefined;
  if (source.startsWith('file:')) return source.slice('file:'.length);
  throw new UsageError(`--source ${source}: expected file:<dir> or kubernetes`, USAGE);
}
