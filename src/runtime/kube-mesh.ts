/**
 * The Kubernetes source wired to the mesh, like FileMesh for a folder: the
 * informers' objects -> model (last good version of an invalid object kept)
 * -> publisher (an EndpointSlice-only change updates the shared endpoint set
 * and pushes EDS alone) -> per-proxy snapshots; and back to the cluster, the
 * intents' status (Accepted, ResolvedRefs, Programmed).
 *
 * Losing the API server keeps the last model served; readiness turns false
 * only after `disconnectGraceMs` (default 60 s), so a control-plane upgrade
 * or a short network cut does not take every replica out of its Service.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { errorMessage, OperatorError } from '../errors.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import { KubeSource, type KubeSnapshot } from '../sources/kubernetes/source.ts';
import { LeaseLeader, type LeaseLeaderOptions } from '../sources/kubernetes/leader.ts';
import { StatusWriter } from '../sources/kubernetes/status-writer.ts';
import type { ProgrammedSummary } from '../sources/kubernetes/status.ts';
import type { SecretSource } from './publisher.ts';
import { SourcedMesh } from './mesh.ts';

export interface KubeMeshOptions {
  config: KubeConfig;
  cache: SnapshotCache;
  log: Logger;
  secrets?: SecretSource;
  /** Label selector of the namespaces in the mesh (default trellis.io/mesh=enabled; '' = all). */
  namespaceSelector?: string;
  debounceMs?: number;
  /** Under a steady stream of changes, publish at least this often: the churn latency floor (default: sources/kubernetes/source.ts DEFAULT_MAX_DELAY_MS). */
  maxDelayMs?: number;
  /** Write intents' status (default true). */
  writeStatus?: boolean;
  /** Throttle of status passes (default 1 s). */
  statusIntervalMs?: number;
  /** How often Programmed is recomputed from the proxies' ACKs (default 1 s). */
  programmedIntervalMs?: number;
  /** Not ready after the API server has been unreachable this long (default 60 s). */
  disconnectGraceMs?: number;
  /** Give up waiting for the first full list after this long; serve, not ready, meanwhile (default 30 s). */
  initialSyncTimeoutMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * Replicas: only the holder of this Lease writes status (every replica
   * serves xDS). Without it this process is the single writer.
   */
  leaderElection?: Omit<LeaseLeaderOptions, 'rest' | 'log' | 'onChange'>;
}

export class KubeMesh extends SourcedMesh {
  readonly source: KubeSource;
  readonly statusWriter: StatusWriter | undefined;
  readonly leader: LeaseLeader | undefined;
  /** The kinds that changed in the last applied snapshot (tests, logs). */
  lastChangedKinds: string[] = [];
  private synced = false;
  private programmed: (() => ProgrammedSummary) | undefined;
  private programmedTimer: NodeJS.Timeout | undefined;
  private lastProgrammed = '';
  private readonly leadershipListeners: Array<(leader: boolean) => void> = [];

  constructor(private readonly opts: KubeMeshOptions) {
    super(opts.cache, opts.log, opts.secrets);
    const log = opts.log.child({ component: 'kubernetes-source' });
    this.source = new KubeSource({
      config: opts.config,
      log,
      namespaceSelector: opts.namespaceSelector,
      debounceMs: opts.debounceMs,
      maxDelayMs: opts.maxDelayMs,
      retryMinMs: opts.retryMinMs,
      retryMaxMs: opts.retryMaxMs,
      onChange: (snap) => this.apply(snap),
    });
    const writes = opts.writeStatus !== false;
    this.leader = writes && opts.leaderElection
      ? new LeaseLeader({
          ...opts.leaderElection,
          rest: this.source.rest,
          log: opts.log.child({ component: 'leader' }),
          // A new leader writes whatever its predecessor left out of date.
          onChange: (leader) => {
            if (leader) this.statusWriter?.update({});
            for (const fn of this.leadershipListeners) fn(leader);
          },
        })
      : undefined;
    this.statusWriter = writes
      ? new StatusWriter({
          rest: this.source.rest,
          log: opts.log.child({ component: 'status' }),
          stored: (kind, ns, name, apiVersion) => this.source.stored(kind, ns, name, apiVersion),
          minIntervalMs: opts.statusIntervalMs,
          ...(this.leader ? { isLeader: () => this.leader!.isLeader() } : {}),
        })
      : undefined;
  }

  async start(): Promise<void> {
    this.leader?.start();
    const first = this.source.start().then((snap) => {
      this.synced = true;
      this.apply(snap);
    });
    const timeoutMs = this.opts.initialSyncTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const result = await Promise.race([first, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') this.opts.log.warn({ timeoutMs }, 'the API server has not answered every list yet; serving without a mesh until it does (not ready)');
  }

  /**
   * Where Programmed comes from (the xDS server, created after the mesh). It
   * is polled: an ACK is not an event the mesh hears of.
   */
  setProgrammedSource(fn: () => ProgrammedSummary): void {
    this.programmed = fn;
    clearInterval(this.programmedTimer);
    this.programmedTimer = setInterval(() => this.refreshProgrammed(), this.opts.programmedIntervalMs ?? 1000);
    this.programmedTimer.unref();
    this.refreshProgrammed();
  }

  /** Whether this replica writes to the cluster (status, the rate limit ConfigMap): the Lease holder, or the only writer. */
  isLeader(): boolean {
    return this.leader ? this.leader.isLeader() : this.statusWriter !== undefined;
  }

  /** Called when this replica gains or loses the Lease (never without leader election). */
  onLeadership(fn: (leader: boolean) => void): void {
    this.leadershipListeners.push(fn);
  }

  /** True once every watched kind has been listed (before that, the mesh's namespaces are not known). */
  get listed(): boolean {
    return this.synced;
  }

  /** Why /readyz should say no, or null. */
  override notReadyReason(): string | null {
    if (!this.synced) return 'waiting for the first list of every watched kind from the API server';
    const down = this.source.disconnectedForMs();
    const grace = this.opts.disconnectGraceMs ?? 60_000;
    if (down > grace) return `the API server has been unreachable for ${Math.round(down / 1000)} s (grace ${Math.round(grace / 1000)} s); still serving the last known config`;
    return super.notReadyReason();
  }

  async flush(): Promise<void> {
    this.source.flush();
  }

  /** Recompute Programmed and write every status that changed, now (tests). */
  async flushStatus(): Promise<void> {
    this.refreshProgrammed();
    await this.statusWriter?.flush();
  }

  async close(): Promise<void> {
    clearInterval(this.programmedTimer);
    await this.source.close();
    await this.statusWriter?.close();
    await this.leader?.stop();
  }

  private refreshProgrammed(): void {
    if (!this.programmed || !this.statusWriter) return;
    const p = this.programmed();
    const key = JSON.stringify(p);
    if (key === this.lastProgrammed) return;
    this.lastProgrammed = key;
    this.statusWriter.update({ programmed: p });
  }

  private apply(snap: KubeSnapshot): void {
    this.lastChangedKinds = snap.changedKinds;
    // Status goes out before listeners run, as they may read it (tests wait on onPublished).
    this.pipeline.apply(snap.objects, { objects: snap.objects.length, changed: snap.changedKinds }, (r) => this.statusWriter?.update({ statuses: r.statuses }));
  }
}

/**
 * `--source kubernetes [--kubeconfig P]`: the named kubeconfig, else the
 * in-cluster service account (inside a pod), else the usual defaults
 * ($KUBECONFIG, ~/.kube/config); none of them is an operator's error.
 */
export function loadKubeConfig(kubeconfig?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) {
    try {
      kc.loadFromFile(kubeconfig);
    } catch (e) {
      throw new OperatorError(`kubeconfig ${kubeconfig}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(e)}`);
    }
  } else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else if (process.env.KUBECONFIG || (process.env.HOME && existsSync(path.join(process.env.HOME, '.kube', 'config')))) kc.loadFromDefault();
  else {
    // The client's last default is an API server at http://localhost:8080, whose refusal
    // ("HTTP protocol is not allowed when skipTLSVerify is not set") names nothing to fix.
    throw new OperatorError('no kubeconfig (no --kubeconfig, $KUBECONFIG unset, no ~/.kube/config, not in a pod): give --kubeconfig K or set $KUBECONFIG');
  }
  return kc;
}

export function openKubeMesh(
  opts: Omit<KubeMeshOptions, 'cache' | 'log' | 'config'> & { kubeconfig?: string; config?: KubeConfig },
  cache: SnapshotCache,
  log: Logger,
): KubeMesh {
  const { kubeconfig, config, ...rest } = opts;
  return new KubeMesh({ ...rest, config: config ?? loadKubeConfig(kubeconfig), cache, log });
}
