/**
 * One watched resource: @kubernetes/client-node's ListWatch (list, then watch
 * from the list's resourceVersion), plus what it leaves to its caller:
 *
 * - after an error (API server unreachable, 5xx, a dropped connection that
 *   fails to reopen) ListWatch stops; this restarts it with backoff, and it
 *   resumes from the last resourceVersion it saw — no relist;
 * - a 410 Gone (the resourceVersion was compacted away, or the API server's
 *   watch cache restarted past it) makes ListWatch relist; the relist reports
 *   objects deleted meanwhile as deletions;
 * - a kind whose CRD is not installed (404) is empty, not an error that
 *   blocks the mesh; it is retried slowly so installing the CRD later works;
 * - it tracks since when the resource has been disconnected, for readiness.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../../log.ts';
import { KubeApiError, type KubeRest } from './rest.ts';
import { collectionPath, type KubeResource } from './resources.ts';
import { errorMessage } from '../../errors.ts';

type Json = Record<string, unknown>;
type Obj = KubernetesObject & Json;

export type WatchEvent = 'add' | 'update' | 'delete';

export interface ResourceWatcherOptions {
  config: KubeConfig;
  rest: KubeRest;
  resource: KubeResource;
  labelSelector?: string;
  log: Logger;
  onEvent: (resource: KubeResource, event: WatchEvent, obj: Json) => void;
  /** The kind is not served (CRD missing): everything known of it is gone. */
  onAbsent: (resource: KubeResource) => void;
  /** Restart backoff after an error: doubles from min to max. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How often a missing CRD is looked for again. */
  absentRetryMs?: number;
}

export interface WatcherStats {
  kind: string;
  state: 'starting' | 'synced' | 'absent' | 'disconnected';
  /** Full lists done; every one after the first is a relist (410 Gone, or a restart with no resourceVersion). */
  lists: number;
  /** Watch requests that the API server accepted (each restart or resume is one). */
  watches: number;
  errors: number;
  lastError?: string;
  resourceVersion: string;
  disconnectedSinceMs?: number;
}

/** A Watch that reports when a watch request was accepted or failed. */
class ReportingWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly opened: () => void,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    cb: (phase: string, obj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    let failed = false;
    const controller = await super.watch(path, query, cb, (err: unknown) => {
      if (err) failed = true;
      done(err);
    });
    if (!failed) this.opened();
    return controller;
  }
}

export class ResourceWatcher {
  private readonly lw: ListWatch<Obj>;
  private readonly path: string;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private syncedResolve!: () => void;
  /** Resolves after the first successful list (or once the kind is known to be absent). */
  readonly synced: Promise<void>;
  readonly stats: WatcherStats;

  constructor(private readonly opts: ResourceWatcherOptions) {
    const r = opts.resource;
    this.path = collectionPath(r);
    this.retryMs = opts.retryMinMs ?? 250;
    this.stats = { kind: r.kind, state: 'starting', lists: 0, watches: 0, errors: 0, resourceVersion: '' };
    this.synced = new Promise((resolve) => (this.syncedResolve = resolve));
    const watch = new ReportingWatch(opts.config, () => this.onWatchOpened());
    this.lw = new ListWatch<Obj>(this.path, watch, () => this.list(), false, opts.labelSelector, r.fieldSelector);
    this.lw.on('add', (o) => opts.onEvent(r, 'add', o));
    this.lw.on('update', (o) => opts.onEvent(r, 'update', o));
    this.lw.on('delete', (o) => opts.onEvent(r, 'delete', o));
    this.lw.on('error', (err) => this.onError(err));
  }

  start(): void {
    this.stopped = false;
    void this.lw.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.lw.stop();
  }

  /** The object as the API server last sent it (status included). */
  get(name: string, namespace?: string): Json | undefined {
    return this.lw.get(name, namespace);
  }

  private async list(): Promise<KubernetesListObject<Obj>> {
    const selectors = { ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}), ...(this.opts.resource.fieldSelector ? { fieldSelector: this.opts.resource.fieldSelector } : {}) };
    const list = await this.opts.rest.get<KubernetesListObject<Obj>>(this.path, Object.keys(selectors).length > 0 ? selectors : undefined);
    this.stats.lists++;
    this.stats.resourceVersion = list.metadata?.resourceVersion ?? '';
    if (this.stats.lists > 1) this.opts.log.info({ kind: this.opts.resource.kind, lists: this.stats.lists }, 'relisted');
    // ListWatch applies the items right after this promise resolves, in the same turn.
    setImmediate(() => this.connected());
    return list;
  }

  private onWatchOpened(): void {
    this.stats.watches++;
    this.stats.resourceVersion = this.lw.latestResourceVersion();
    this.connected();
  }

  private connected(): void {
    if (this.stats.disconnectedSinceMs !== undefined) {
      this.opts.log.info({ kind: this.opts.resource.kind, downMs: Date.now() - this.stats.disconnectedSinceMs }, 'reconnected to the API server');
    }
    delete this.stats.disconnectedSinceMs;
    this.stats.state = 'synced';
    this.retryMs = this.opts.retryMinMs ?? 250;
    this.syncedResolve();
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    this.stats.errors++;
    const message = errorMessage(err);
    this.stats.lastError = message;
    let delay: number;
    if (err instanceof KubeApiError && err.status === 404 && this.opts.resource.custom) {
      if (this.stats.state !== 'absent') {
        this.opts.log.warn({ kind: this.opts.resource.kind }, `${this.opts.resource.apiVersion} ${this.opts.resource.kind} is not served by the API server (CRD not installed?); treating it as empty and checking again`);
        this.opts.onAbsent(this.opts.resource);
      }
      this.stats.state = 'absent';
      delay = this.opts.absentRetryMs ?? 10_000;
      this.syncedResolve();
    } else {
      if (this.stats.state !== 'disconnected') this.opts.log.warn({ kind: this.opts.resource.kind, err: message }, 'watch failed; retrying from the last resourceVersion');
      this.stats.state = 'disconnected';
      this.stats.disconnectedSinceMs ??= Date.now();
      delay = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, this.opts.retryMaxMs ?? 5_000);
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) void this.lw.start();
    }, delay);
    this.retryTimer.unref();
  }
}
