/**
 * The running control plane as a library: one call composes the cache, the
 * xDS server, the admin API, the mesh (a folder or a cluster) or a raw
 * resources file, and with a state dir the CA, SDS and renewal. `trellis
 * serve`, the demo, the tests and the benchmarks all start it here.
 */
import client from 'prom-client';
import { componentLogger, type Logger } from '../log.ts';
import { errorMessage, OperatorError } from '../errors.ts';
import { SnapshotCache } from '../cache/snapshot-cache.ts';
import { AdminServer, DEGRADED_CONDITIONS, type DegradedState } from '../admin/http.ts';
import { registerCertificateRoutes } from '../admin/certificates.ts';
import { mountDashboard } from '../admin/dashboard/routes.ts';
import { workloadLabel } from '../translate/telemetry.ts';
import { registerMeshRoutes } from '../admin/intents.ts';
import { registerServedVersionsRoute } from './served-versions.ts';
import { XdsServer } from '../server/xds-server.ts';
import { XdsMetrics } from '../server/metrics.ts';
import type { IdentityVerifier } from '../identity/verifier.ts';
import { envoyRoot } from '../xds/protos.ts';
import { setServingHeapGrowth } from './heap-growth.ts';
import { requireRe2 } from '../model/re2.ts';
import { keepRateLimitConfig } from './ratelimit-config.ts';
import { FileMesh } from './file-mesh.ts';
import type { KubeMesh, KubeMeshOptions } from './kube-mesh.ts';
import type { RunningMesh } from './mesh.ts';
import { openMeshSecurity, type MeshSecurity } from './security.ts';
import { programmedSummary } from './programmed.ts';
import { startRenewal } from './renewal.ts';
import { ResourcesFileSource, SHARED_KEY } from './resources-source.ts';
import type { RunningWebhook, WebhookOptions } from './webhook.ts';
import type { GatewayDeployments } from './gateway-deployments.ts';
import { goldenMetricsReader, scrapeTargets, type GoldenMetricsOptions } from './golden-metrics.ts';
import { keepScrapeTargets } from './prometheus.ts';
import { mountGoldenMetrics } from '../admin/golden/routes.ts';
import type { GoldenMetricsReader } from '../admin/golden/reader.ts';
import { registerRolloutRoutes } from '../admin/rollouts.ts';
import { startRollouts, type RolloutOptions, type RunningRollouts } from './rollout/start.ts';
import { DEFAULT_INJECT_OPTIONS, type InjectOptions } from '../inject/options.ts';

export { SHARED_KEY };

export interface ControlPlaneOptions {
  xdsAddress: string;
  adminAddress: string;
  /** a file of raw Envoy resources to serve to every node */
  resourcesFile?: string;
  /** a folder of Kubernetes-shaped YAML: the mesh (services, workloads, intents) */
  sourceDir?: string;
  /** a cluster: the mesh from its API server (`--source kubernetes`); in-cluster config unless a kubeconfig is named */
  kubernetes?: KubernetesSource;
  /** CA root, token key: with one, the xDS port serves TLS and SDS */
  stateDir?: string;
  /** Create a new root although the state dir had one whose ca/ is lost (`--new-ca`; docs/security.md). */
  newCa?: boolean;
  /** opt-in plaintext xDS listener (no secrets on it) */
  plaintextXdsAddress?: string;
  /** close streams that do not prove an identity (default: serve them config without secrets) */
  requireIdentity?: boolean;
  renewalCheckMs?: number;
  /**
   * After `trellis ca rotate`, how long leaves stay on the old root while the
   * two-root trust bundle reaches every proxy (default 60 s); then workloads
   * move to the new root spread over `rotationSpreadMs` (default 60 s).
   */
  rotationGraceMs?: number;
  rotationSpreadMs?: number;
  log?: Logger;
  /** debounce for file reloads */
  reloadDebounceMs?: number;
  maxConnectionAgeMs?: number;
  maxConnectionAgeGraceMs?: number;
  /** How streams prove an identity (XDS_RULES 23); without one no stream receives owned secrets. */
  verifier?: IdentityVerifier;
  /**
   * With `kubernetes`: the audience of the projected service-account tokens
   * sidecars present (`authorization: Bearer`), checked with a TokenReview
   * (default `trellis`). Either that or a Trellis workload token proves an identity.
   */
  tokenAudience?: string;
  /**
   * With `kubernetes` and `stateDir`: serve the sidecar-injection admission
   * webhook on its own HTTPS listener (runtime/webhook.ts).
   */
  webhook?: WebhookOptions;
  /**
   * Where to keep the rate limit service's config (runtime/ratelimit-config.ts):
   * `<dir>/config/trellis.yaml`, from the TrafficPolicies' global limits.
   */
  rateLimitConfigDir?: string;
  /**
   * With `kubernetes`: keep the rate limit service's config in this ConfigMap
   * (runtime/ratelimit-configmap.ts; the leader writes it), which the
   * ratelimit Deployment mounts.
   */
  rateLimitConfigMap?: { namespace: string; name: string };
  /**
   * With `kubernetes`: run each Gateway of Trellis's GatewayClass, a
   * ServiceAccount, Deployment and Service per Gateway (runtime/gateway-deployments.ts;
   * the leader writes them). `inject`: images and xDS address of the gateway pods.
   */
  gatewayDeployments?: { inject?: Partial<InjectOptions>; resyncMs?: number };
  /** Tests only: see XdsServerOptions.allowSecretsOverPlaintext. Default false. */
  allowSecretsOverPlaintext?: boolean;
  /** Where golden metrics are read (runtime/golden-metrics.ts): a Prometheus, else the sidecars. */
  metrics?: GoldenMetricsOptions;
  /** The Rollout controller (runtime/rollout/): on with a mesh unless `enabled: false`. */
  rollouts?: RolloutOptions;
}

export interface RunningControlPlane {
  xdsPort: number;
  adminPort: number;
  cache: SnapshotCache;
  xds: XdsServer;
  admin: AdminServer;
  /** CA, tokens and TLS, when a state dir was given */
  security?: MeshSecurity;
  plaintextPort?: number;
  mesh?: RunningMesh;
  /** the same object as `mesh` when the source is a cluster */
  kube?: KubeMesh;
  /** the injection webhook, when asked for */
  webhook?: RunningWebhook;
  /** What the admin's golden-metrics endpoints read (`trellis stat`, TrafficMetrics). */
  goldenMetrics: GoldenMetricsReader;
  /** The Rollout controller, with a mesh. */
  rollouts?: RunningRollouts;
  /** What runs Trellis's Gateways in a cluster, when asked for (runtime/gateway-deployments.ts). */
  gatewayDeployments?: GatewayDeployments;
  /** Reload the resources file now if it changed; false when what is on disk is not served (or there is no file). */
  reload(): Promise<boolean>;
  stop(): Promise<void>;
}

export type KubernetesSource = Omit<KubeMeshOptions, 'cache' | 'log' | 'config'> & { kubeconfig?: string; config?: KubeMeshOptions['config'] };

export async function startControlPlane(opts: ControlPlaneOptions): Promise<RunningControlPlane> {
  const log = opts.log ?? componentLogger('serve');
  // Load the Envoy protos before anything listens: a reconnect storm after a
  // restart must not wait for it.
  envoyRoot();
  // Headroom for the garbage of a push to many streams (heap-growth.ts).
  setServingHeapGrowth();
  // A mesh's regexes are checked with RE2 (a native addon): without it, refuse
  // to start rather than serve what Envoy may NACK (issue 16 bug 6).
  if (opts.sourceDir || opts.kubernetes) requireRe2();
  const xdsMetrics = new XdsMetrics();
  // A mesh gives every proxy its own view; raw resources are the same for all.
  const cache = new SnapshotCache(opts.sourceDir || opts.kubernetes ? (node) => node.id : () => SHARED_KEY);
  // What has started, stopped in reverse order: by stop(), or when a later
  // step fails (a CA that refuses to open, a port in use), so that a failed
  // start leaves no watcher or listener keeping the process alive.
  const started: Array<() => unknown> = [];
  const stopAll = async () => {
    for (const stop of started.splice(0).reverse()) await stop();
  };
  try {
    // Loaded only when asked for: @kubernetes/client-node is large.
    const kube = opts.kubernetes ? (await import('./kube-mesh.ts')).openKubeMesh(opts.kubernetes, cache, log) : undefined;
    const mesh: RunningMesh | undefined = kube ?? (opts.sourceDir ? new FileMesh({ dir: opts.sourceDir, cache, log, debounceMs: opts.reloadDebounceMs, stateDir: opts.stateDir }) : undefined);
    if (mesh) started.push(() => mesh.close());
    // Before the first build: a restart mid-rollout serves the weights the running one served.
    const rollouts = mesh && opts.rollouts?.enabled !== false ? await startRollouts({ ...opts.rollouts, mesh, kube, stateDir: opts.stateDir, log }) : undefined;
    if (rollouts) started.push(() => rollouts.stop());
    await mesh?.start();
    // With a state dir the mesh gets its CA: SDS secrets, TLS on the xDS port,
    // and workload tokens to prove identities. The trust domain is the mesh's.
    const trustDomain = mesh?.model?.mesh.trustDomain ?? 'trellis.local';
    const security = opts.stateDir
      ? await openMeshSecurity({
          stateDir: opts.stateDir,
          newCa: opts.newCa,
          trustDomain,
          leafLifetimeMs: mesh?.model?.mesh.certificateLifetimeMs,
          rotationGraceMs: opts.rotationGraceMs,
          rotationSpreadMs: opts.rotationSpreadMs,
          log,
          registry: xdsMetrics.registry,
        })
      : undefined;
    if (security) started.push(() => security.close());
    if (security && mesh) {
      // The CA's identities are in this trust domain from now on: a MeshConfig naming another is refused until a restart.
      mesh.holdTrustDomain(trustDomain);
      mesh.publisher.setSecretSource(security.secrets);
    }
    if (mesh && opts.rateLimitConfigDir) keepRateLimitConfig({ mesh, dir: opts.rateLimitConfigDir, log });
    if (opts.rateLimitConfigMap) {
      if (!kube) throw new OperatorError('the rate limit ConfigMap (--ratelimit-configmap) needs --source kubernetes; with a folder, use --ratelimit-config-dir');
      const { RateLimitConfigMapWriter } = await import('./ratelimit-configmap.ts');
      const writer = new RateLimitConfigMapWriter({ ...opts.rateLimitConfigMap, kube, rest: kube.source.rest, log: log.child({ component: 'ratelimit-config' }) });
      writer.start();
      started.push(() => writer.close());
    }
    let gatewayDeployments: GatewayDeployments | undefined;
    if (opts.gatewayDeployments && kube) {
      const { GatewayDeployments } = await import('./gateway-deployments.ts');
      const gd = opts.gatewayDeployments;
      const gateways = (gatewayDeployments = new GatewayDeployments({
        kube,
        rest: kube.source.rest,
        log: log.child({ component: 'gateway-deployments' }),
        ...(gd.resyncMs !== undefined ? { resyncMs: gd.resyncMs } : {}),
        // The mesh roots at each pass: a `trellis ca rotate` rolls the gateway pods onto the new bundle.
        inject: () => ({ ...DEFAULT_INJECT_OPTIONS, ...gd.inject, caPem: security?.ca.trustBundlePem(), trustDomain: security?.ca.trustDomain ?? kube.model?.mesh.trustDomain ?? DEFAULT_INJECT_OPTIONS.trustDomain }),
      }));
      gateways.start();
      started.push(() => gateways.close());
    }
    // Before the port opens: a restart's reconnect storm then finds every sidecar's config built.
    if (mesh) mesh.publisher.prewarm();
    const verifier = opts.verifier ?? (kube ? await (await import('./kube-verifier.ts')).kubeVerifier(kube, security, opts.tokenAudience) : security?.tokens);
    const xds = new XdsServer({
      metrics: xdsMetrics,
      cache,
      log: log.child({ component: 'xds' }),
      maxConnectionAgeMs: opts.maxConnectionAgeMs,
      maxConnectionAgeGraceMs: opts.maxConnectionAgeGraceMs,
      verifier,
      requireIdentity: opts.requireIdentity,
      allowSecretsOverPlaintext: opts.allowSecretsOverPlaintext ?? false,
      onTlsClientError: security ? (err) => security.untrustedRoot.observe(err) : undefined,
    });
    started.push(() => xds.close());
    kube?.setProgrammedSource(() => programmedSummary(xds));

    const resources = opts.resourcesFile
      ? new ResourcesFileSource({ file: opts.resourcesFile, cache, metrics: xdsMetrics, log, debounceMs: opts.reloadDebounceMs })
      : undefined;
    if (resources) started.push(() => resources.close());
    await resources?.reload();
    const xdsPort = await listening('xDS', opts.xdsAddress, () => xds.listen(opts.xdsAddress, security?.credentials()));
    // Plaintext is opt-in and never carries private keys (proxyless gRPC
    // clients speak only plaintext or Google credentials to their xDS server).
    const plaintextAddress = opts.plaintextXdsAddress;
    const plaintextPort = plaintextAddress ? await listening('plaintext xDS', plaintextAddress, () => xds.listen(plaintextAddress)) : undefined;
    const stopRenewal = security
      ? startRenewal({ security, republish: () => mesh?.publisher.republish(), intervalMs: opts.renewalCheckMs ?? 5_000, log })
      : undefined;
    if (stopRenewal) started.push(stopRenewal);
    const webhookOpts = opts.webhook;
    if (webhookOpts && !(kube && security)) throw new OperatorError('the injection webhook (--webhook-address) needs --source kubernetes and a state dir (its certificate comes from the mesh CA)');
    const webhook = webhookOpts && kube && security
      ? await listening('the injection webhook', webhookOpts.address, async () => (await import('./webhook.ts')).startInjectionWebhook({ ...webhookOpts, kube, security, log, registry: xdsMetrics.registry }))
      : undefined;
    if (webhook) started.push(() => webhook.close());
    // Any client can send a TLS alert, so an untrusted root is named here but never makes /readyz 503.
    const degraded = (): DegradedState[] => {
      const untrusted = security?.untrustedRoot.report();
      return [...(mesh?.degraded() ?? []), ...(untrusted ? [{ condition: 'UntrustedRoot' as const, message: `${untrusted.message} (${untrusted.rejections} refused, last at ${untrusted.lastAt})` }] : [])];
    };
    const admin = new AdminServer({
      xds,
      log: log.child({ component: 'admin' }),
      notReadyReason: () => mesh?.notReadyReason() ?? resources?.notReadyReason() ?? null,
      degraded,
    });
    if (mesh) registerMeshRoutes(admin, mesh);
    if (mesh) registerServedVersionsRoute(admin, mesh);
    registerReadinessMetrics(xdsMetrics.registry, () => mesh?.notReadyReason() ?? resources?.notReadyReason() ?? null, degraded);
    if (security) registerCertificateRoutes(admin, () => security.ca);
    const goldenMetrics = goldenMetricsReader(opts.metrics ?? {}, () => mesh?.model, xds);
    mountGoldenMetrics(admin, goldenMetrics);
    if (rollouts) {
      rollouts.run(goldenMetrics);
      registerRolloutRoutes(admin, () => rollouts.answer());
    }
    mountDashboard(admin, { reader: goldenMetrics, mesh, workloadName: workloadLabel });
    if (opts.metrics?.scrapeTargetsFile) started.push(keepScrapeTargets(opts.metrics.scrapeTargetsFile, () => scrapeTargets(mesh?.model, xds)));
    started.push(() => admin.close());
    const { port: adminPort } = await listening('the admin API', opts.adminAddress, () => admin.listen(opts.adminAddress));
    await resources?.watch();
    log.info({ xdsAddress: `${opts.xdsAddress.replace(/:\d+$/, '')}:${xdsPort}`, adminAddress: `${opts.adminAddress.replace(/:\d+$/, '')}:${adminPort}` }, 'trellis serving');

    return {
      xdsPort,
      plaintextPort,
      adminPort,
      security,
      cache,
      xds,
      admin,
      mesh,
      kube,
      webhook,
      goldenMetrics,
      rollouts,
      gatewayDeployments,
      reload: async () => (await resources?.reload()) ?? false,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** What /readyz says, as metrics for alerts: computed at scrape time. */
function registerReadinessMetrics(registry: client.Registry, notReady: () => string | null, degraded: () => DegradedState[]): void {
  new client.Gauge({
    name: 'trellis_ready',
    help: '1 when /readyz answers 200 (config is served), 0 when 503',
    registers: [registry],
    collect() {
      this.set(notReady() === null ? 1 : 0);
    },
  });
  new client.Gauge({
    name: 'trellis_degraded',
    help: 'Degraded states /readyz names, by condition (docs/operate.md, "Last good config and readiness")',
    labelNames: ['condition'],
    registers: [registry],
    collect() {
      const now = degraded();
      for (const condition of DEGRADED_CONDITIONS) this.set({ condition }, now.filter((d) => d.condition === condition).length);
    },
  });
}

/** Why a port could not be taken, in words an operator can act on; other failures are bugs and pass through. */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (another trellis, or the demo, still running?): stop what holds it or choose another address',
  EACCES: 'permission denied (ports below 1024 need privileges): choose a port from 1024',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
};

async function listening<T>(what: string, address: string, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (e) {
    // grpc-js reports the errno only inside its message ("... errors: [listen EADDRINUSE: ...]").
    const code = Object.keys(LISTEN_FAILURES).find((c) => (e as NodeJS.ErrnoException).code === c || errorMessage(e).includes(c));
    if (code) throw new OperatorError(`cannot listen on ${address} for ${what}: ${LISTEN_FAILURES[code]}`);
    throw e;
  }
}
