/**
 * `trellis serve`: composes the cache, the xDS server, the admin API and a
 * source of config. Kept thin: each part is built elsewhere.
 */
import { watch, type FSWatcher } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { componentLogger, type Logger } from '../log.ts';
import { SnapshotCache } from '../cache/snapshot-cache.ts';
import { AdminServer } from '../admin/http.ts';
import { XdsServer } from '../server/xds-server.ts';
import type { IdentityVerifier } from '../server/identity.ts';
import { loadEnvoyResources } from '../sources/envoy-resources-file.ts';
import { parseArgs, UsageError } from './args.ts';
import { envoyRoot } from '../xds/protos.ts';
import { FileMesh } from './file-mesh.ts';
import type { KubeMesh, KubeMeshOptions } from './kube-mesh.ts';
import type { MeshSource } from './mesh-source.ts';
import { openMeshSecurity, type MeshSecurity } from './mesh-security.ts';
import { XdsMetrics } from '../server/metrics.ts';
import { registerMeshRoutes } from '../admin/intents.ts';
import { CaError } from '../ca/errors.ts';
import { programmedSummary } from './programmed.ts';

export interface ServeOptions {
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
  /** Tests only: see XdsServerOptions.allowSecretsOverPlaintext. Default false. */
  allowSecretsOverPlaintext?: boolean;
}

export interface RunningServer {
  xdsPort: number;
  adminPort: number;
  cache: SnapshotCache;
  xds: XdsServer;
  admin: AdminServer;
  /** CA, tokens and TLS, when a state dir was given */
  security?: MeshSecurity;
  plaintextPort?: number;
  mesh?: MeshSource;
  /** the same object as `mesh` when the source is a cluster */
  kube?: KubeMesh;
  /** reload the resources file now (tests; the watcher calls it too) */
  reload(): boolean;
  stop(): Promise<void>;
}

/** The key under which every node shares one snapshot when config is not per proxy. */
export const SHARED_KEY = '*';

export type KubernetesSource = Omit<KubeMeshOptions, 'cache' | 'log' | 'config'> & { kubeconfig?: string; config?: KubeMeshOptions['config'] };

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const log = opts.log ?? componentLogger('serve');
  // Load the Envoy protos before anything listens: a reconnect storm after a
  // restart must not wait for it.
  envoyRoot();
  const xdsMetrics = new XdsMetrics();
  const xdsMetricsRegistry = xdsMetrics.registry;
  // A mesh gives every proxy its own view; raw resources are the same for all.
  const cache = new SnapshotCache(opts.sourceDir || opts.kubernetes ? (node) => node.id : () => SHARED_KEY);
  // Loaded only when asked for: @kubernetes/client-node is large.
  const kube = opts.kubernetes ? await (await import('./kube-mesh.ts')).openKubeMesh(opts.kubernetes, cache, log) : undefined;
  const mesh: MeshSource | undefined = kube ?? (opts.sourceDir ? new FileMesh({ dir: opts.sourceDir, cache, log, debounceMs: opts.reloadDebounceMs }) : undefined);
  await mesh?.start();
  // With a state dir the mesh gets its CA: SDS secrets, TLS on the xDS port,
  // and workload tokens to prove identities. The trust domain is the mesh's.
  // A CA that refuses to open (corrupt state dir, bad root) must not leave the
  // mesh's file watcher running: it kept the process alive after the error.
  const security = opts.stateDir
    ? await openMeshSecurity({
        stateDir: opts.stateDir,
        trustDomain: mesh?.model?.mesh.trustDomain ?? 'trellis.local',
        leafLifetimeMs: mesh?.model?.mesh.certificateLifetimeMs,
        rotationGraceMs: opts.rotationGraceMs,
        rotationSpreadMs: opts.rotationSpreadMs,
        log,
        registry: xdsMetricsRegistry,
      }).catch(async (e: unknown) => {
        await mesh?.close();
        throw e;
      })
    : undefined;
  if (security && mesh) mesh.publisher.setSecretSource(security.secrets);
  // Before the port opens: a restart's reconnect storm then finds every sidecar's config built.
  if (mesh) mesh.publisher.prewarm();
  const verifier = opts.verifier ?? (kube ? await kubeVerifier(kube, security, opts.tokenAudience) : security?.tokens);
  const xds = new XdsServer({
    metrics: xdsMetrics,
    cache,
    log: log.child({ component: 'xds' }),
    maxConnectionAgeMs: opts.maxConnectionAgeMs,
    maxConnectionAgeGraceMs: opts.maxConnectionAgeGraceMs,
    verifier,
    requireIdentity: opts.requireIdentity,
    allowSecretsOverPlaintext: opts.allowSecretsOverPlaintext ?? false,
  });
  kube?.setProgrammedSource(() => programmedSummary(xds));
  let loadedOnce = false;
  let lastError: string | null = null;

  const reload = (): boolean => {
    if (!opts.resourcesFile) return false;
    let result;
    try {
      result = loadEnvoyResources(opts.resourcesFile);
    } catch (e) {
      lastError = `${opts.resourcesFile}: ${e instanceof Error ? e.message : String(e)}`;
      log.error({ file: opts.resourcesFile }, `cannot read resources; still serving the last good config: ${lastError}`);
      return false;
    }
    if (!result.ok) {
      lastError = result.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');
      for (const p of result.problems) log.error({ file: p.file, line: p.line }, `${p.file}:${p.line}: ${p.message} (still serving the last good config)`);
      return false;
    }
    const set = cache.set(SHARED_KEY, result.snapshot);
    if (!set.ok) {
      xds.metrics.snapshotsRejected.inc();
      lastError = set.problems.map((p) => `${p.name}: ${p.message}`).join('\n');
      for (const p of set.problems) log.error({ file: opts.resourcesFile, resource: p.name }, `inconsistent config not served: ${p.message}`);
      return false;
    }
    loadedOnce = true;
    lastError = null;
    log.info({ file: opts.resourcesFile, changed: set.changedTypes.length }, 'resources loaded');
    return true;
  };

  reload();
  const xdsPort = await xds.listen(opts.xdsAddress, security?.credentials());
  // Plaintext is opt-in and never carries private keys (proxyless gRPC
  // clients speak only plaintext or Google credentials to their xDS server).
  const plaintextPort = opts.plaintextXdsAddress ? await xds.listen(opts.plaintextXdsAddress) : undefined;
  // Renewal, and roots changed by `trellis ca rotate` in the state dir: both
  // end in a republish, which pushes new secrets over SDS on live streams.
  // One check at a time (a slow reload was overtaken by the next tick, and an
  // older read could replace newer roots); renewal goes on when the reload
  // fails; and a renewal that throws is logged, not an unhandled rejection.
  let checking = false;
  const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
  const renewal = security
    ? setInterval(() => {
        if (checking) return;
        checking = true;
        void security
          .reloadRoots()
          .catch((err: unknown) => {
            log.error({ err: errorText(err) }, 'cannot reload the roots in the state dir; keeping the current ones');
            return false;
          })
          .then((changed) => {
            if (security.renewDue() || changed) mesh?.publisher.republish();
          })
          .catch((err: unknown) => log.error({ err: errorText(err) }, 'certificate renewal failed; retrying at the next check'))
          .finally(() => {
            checking = false;
          });
      }, opts.renewalCheckMs ?? 5_000)
    : undefined;
  renewal?.unref();
  const admin = new AdminServer({
    xds,
    log: log.child({ component: 'admin' }),
    notReadyReason: () => kube?.notReadyReason() ?? (opts.resourcesFile && !loadedOnce ? `no valid config loaded yet: ${lastError ?? 'loading'}` : null),
  });
  if (mesh) registerMeshRoutes(admin, mesh);
  if (security) {
    admin.route('/api/v1/certificates', () => {
      const { ca } = security;
      const startedAt = ca.rotationStartedAt;
      return {
        ...ca.listing(),
        rotation: ca.retiringRoot ? { ...ca.rotationProgress(), ...(startedAt !== undefined ? { startedAt: new Date(startedAt).toISOString() } : {}) } : null,
      };
    });
  }
  const { port: adminPort } = await admin.listen(opts.adminAddress);

  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (opts.resourcesFile) {
    // Watch the directory, not the file: editors replace files by rename,
    // which ends a watch on the old inode.
    const dir = path.dirname(path.resolve(opts.resourcesFile));
    const base = path.basename(opts.resourcesFile);
    watcher = watch(dir, (_event, name) => {
      if (name !== base) return;
      clearTimeout(timer);
      timer = setTimeout(reload, opts.reloadDebounceMs ?? 100);
    });
  }
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
    reload,
    async stop() {
      clearTimeout(timer);
      clearInterval(renewal);
      watcher?.close();
      await mesh?.close();
      await admin.close();
      await xds.close();
    },
  };
}

export async function serveCommand(argv: string[]): Promise<number> {
  let sourceDir: string | undefined;
  let args;
  try {
    args = parseArgs(argv, {
      values: {
        'xds-address': '0.0.0.0:18000',
        'admin-address': '127.0.0.1:19000',
        source: undefined,
        resources: undefined,
        'state-dir': '.trellis',
        'xds-plaintext-address': undefined,
        kubeconfig: undefined,
        'namespace-selector': undefined,
        'token-audience': undefined,
        'max-delay-ms': undefined,
        'rotation-grace': undefined,
      },
    });
    // The file source is the default when no cluster (and no raw resources file) is named.
    if (args.values.source === undefined && args.values.resources === undefined) args.values.source = 'file:.';
    sourceDir = sourceDirOf(args.values.source);
    const grace = args.values['rotation-grace'];
    if (grace !== undefined && !(grace.trim() !== '' && Number(grace) >= 0)) throw new UsageError(`--rotation-grace ${grace}: expected seconds (e.g. 60)`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`trellis serve: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  let running: RunningServer;
  try {
    running = await startServer({
      xdsAddress: args.values['xds-address']!,
      adminAddress: args.values['admin-address']!,
      resourcesFile: args.values.resources,
      sourceDir,
      kubernetes: args.values.source === 'kubernetes' ? kubernetesSource(args.values.kubeconfig, args.values['namespace-selector'], args.values['max-delay-ms']) : undefined,
      stateDir: args.values['state-dir'],
      plaintextXdsAddress: args.values['xds-plaintext-address'],
      tokenAudience: args.values['token-audience'],
      rotationGraceMs: args.values['rotation-grace'] !== undefined ? Number(args.values['rotation-grace']) * 1000 : undefined,
    });
  } catch (e) {
    // A CA that refuses to start (corrupt state dir, bad or expired root) is an
    // operator's problem, not a crash: its message says what is wrong and how
    // to fix it, so print that alone, without a stack trace.
    if (e instanceof CaError) {
      process.stderr.write(`trellis serve: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
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
  if (maxDelay !== undefined && !(Number.isInteger(maxDelay) && maxDelay >= 0)) throw new UsageError(`--max-delay-ms ${maxDelayMs}: expected whole milliseconds`);
  return {
    kubeconfig,
    namespaceSelector,
    ...(maxDelay !== undefined ? { maxDelayMs: maxDelay } : {}),
    ...(ns ? { leaderElection: { namespace: ns, identity: process.env.POD_NAME ?? hostname() } } : {}),
  };
}

/**
 * In a cluster a stream proves its identity with its pod's projected
 * service-account token (TokenReview), or with a Trellis workload token
 * (`trellis bootstrap --workload`): either will do.
 */
async function kubeVerifier(kube: KubeMesh, security: MeshSecurity | undefined, audience: string | undefined): Promise<IdentityVerifier> {
  const { TokenReviewVerifier, AnyOfVerifiers } = await import('../sources/kubernetes/token-review.ts');
  const review = new TokenReviewVerifier({
    rest: kube.source.rest,
    // The CA's: certificates are issued in the trust domain known at start.
    trustDomain: () => security?.ca.trustDomain ?? kube.model?.mesh.trustDomain ?? 'cluster.local',
    audience,
    pod: (namespace, name) => {
      const pod = kube.source.stored('Pod', namespace, name);
      if (!pod) return undefined;
      const meta = (pod.metadata ?? {}) as { uid?: unknown };
      const spec = (pod.spec ?? {}) as { serviceAccountName?: unknown };
      return {
        ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}),
        ...(typeof spec.serviceAccountName === 'string' ? { serviceAccountName: spec.serviceAccountName } : {}),
      };
    },
  });
  return security ? new AnyOfVerifiers(security.tokens, review) : review;
}

/** `--source file:<dir>`, or `--source kubernetes` (then no folder). */
function sourceDirOf(source: string | undefined): string | undefined {
  if (source === undefined || source === 'kubernetes') return undefined;
  if (source.startsWith('file:')) return source.slice('file:'.length);
  throw new UsageError(`--source ${source}: expected file:<dir> or kubernetes`);
}
