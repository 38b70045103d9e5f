/**
 * The Kubernetes source: one ResourceWatcher per watched kind, the objects of
 * the namespaces opted into the mesh, handed on as SourceObject[] — the same
 * shape the file source produces — debounced, so a burst of events (a
 * rollout, a relist) becomes one rebuild.
 *
 * Invariants:
 * - an event that changes nothing the model reads (a status write, Trellis's
 *   own included; a resync) does not trigger a rebuild;
 * - objects are handed on in a fixed order (kind, namespace, name), so two
 *   replicas watching the same cluster build identical models;
 * - a namespace is in the mesh while it carries the selector's label; its
 *   objects appear and disappear with the label. An empty selector meshes
 *   every namespace.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../log.ts';
import type { SourceObject } from '../../model/object.ts';
import { contentKey, toSourceObject } from './normalize.ts';
import { KubeRest } from './rest.ts';
import { DEFAULT_NAMESPACE_SELECTOR, groupKind, WATCHED, type KubeResource } from './resources.ts';
import { ResourceWatcher, type WatchEvent, type WatcherStats } from './watcher.ts';
import { errorMessage } from '../../errors.ts';

type Json = Record<string, unknown>;

/**
 * Under steady churn the source publishes at least this often: the churn
 * latency floor (`serve --max-delay-ms`). Measured by bench/kube-churn.ts
 * (docs/kubernetes.md): for 1,000 streams at 5,000 EndpointSlice updates/min,
 * p99 change→ACK 0.9 s at 200 ms and 1.0 s at 500 ms, for about twice the
 * pushes and 1.5 times the CPU.
 */
export const DEFAULT_MAX_DELAY_MS = 200;

export interface KubeSnapshot {
  objects: SourceObject[];
  /** Kinds with an add, update or delete since the previous snapshot. */
  changedKinds: string[];
}

export interface KubeSourceOptions {
  config: KubeConfig;
  log: Logger;
  onChange: (snapshot: KubeSnapshot) => void;
  /** Label selector for namespaces in the mesh. Default `trellis.io/mesh=enabled`; '' = all. */
  namespaceSelector?: string;
  /** Quiet time after the last event before a snapshot. Default 50 ms. */
  debounceMs?: number;
  /**
   * A steady stream of events still produces a snapshot at least this often:
   * the churn latency floor. Default DEFAULT_MAX_DELAY_MS.
   */
  maxDelayMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  absentRetryMs?: number;
}

export class KubeSource {
  readonly rest: KubeRest;
  /** By groupKind (resources.ts): SMI's and the Gateway API's TCPRoute are two resources. */
  private readonly watchers = new Map<string, ResourceWatcher>();
  /** groupKind -> object key -> normalized object */
  private readonly objects = new Map<string, Map<string, SourceObject>>();
  private readonly changed = new Set<string>();
  private readonly selector: string;
  private debounce: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private started = false;
  private closed = false;

  constructor(private readonly opts: KubeSourceOptions) {
    this.rest = new KubeRest(opts.config);
    this.selector = opts.namespaceSelector ?? DEFAULT_NAMESPACE_SELECTOR;
    for (const r of WATCHED) {
      this.objects.set(groupKind(r.apiVersion, r.kind), new Map());
      this.watchers.set(groupKind(r.apiVersion, r.kind), new ResourceWatcher({
        config: opts.config,
        rest: this.rest,
        resource: r,
        ...(r.kind === 'Namespace' && this.selector ? { labelSelector: this.selector } : {}),
        log: opts.log,
        onEvent: (res, event, obj) => this.onEvent(res, event, obj),
        onAbsent: (res) => this.onAbsent(res),
        retryMinMs: opts.retryMinMs,
        retryMaxMs: opts.retryMaxMs,
        absentRetryMs: opts.absentRetryMs,
      }));
    }
  }

  /** Starts every watch; resolves with the first full snapshot once each kind has been listed. */
  async start(): Promise<KubeSnapshot> {
    for (const w of this.watchers.values()) w.start();
    await Promise.all([...this.watchers.values()].map((w) => w.synced));
    this.started = true;
    clearTimeout(this.debounce);
    this.debounce = undefined;
    return this.take();
  }

  /** Hands on pending changes now instead of after the debounce. */
  flush(): void {
    if (!this.started || this.changed.size === 0) return;
    this.emit();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.debounce);
    await Promise.all([...this.watchers.values()].map((w) => w.stop()));
  }

  stats(): WatcherStats[] {
    return [...this.watchers.values()].map((w) => ({ ...w.stats }));
  }

  /** How long the longest-disconnected watch has been down (0: all connected). */
  disconnectedForMs(now = Date.now()): number {
    let worst = 0;
    for (const w of this.watchers.values()) {
      if (w.stats.disconnectedSinceMs !== undefined) worst = Math.max(worst, now - w.stats.disconnectedSinceMs);
    }
    return worst;
  }

  /** The object as stored (status included), from the watch cache; `apiVersion` (any served version of its group) tells apart kinds of one name. */
  stored(kind: string, namespace: string | undefined, name: string, apiVersion = 'v1'): Json | undefined {
    return this.watchers.get(groupKind(apiVersion, kind))?.get(name, namespace || undefined);
  }

  snapshot(): SourceObject[] {
    const meshed = this.meshedNamespaces();
    const out: SourceObject[] = [];
    for (const r of WATCHED) {
      const list = [...this.objects.get(groupKind(r.apiVersion, r.kind))!.values()].filter((o) => !r.namespaced || meshed === 'all' || meshed.has(o.metadata.namespace ?? ''));
      out.push(...list.sort(byNamespaceAndName));
    }
    return out;
  }

  /** The label selector of the mesh's namespaces ('' = every namespace). */
  get namespaceSelector(): string {
    return this.selector;
  }

  /** Whether a namespace is in the mesh, as the watch sees it now (the injection webhook asks). */
  inMesh(namespace: string): boolean {
    return this.isMeshed(namespace);
  }

  /** The objects of one kind in one namespace, as written (the injection webhook reads Services). */
  objectsIn(kind: string, namespace: string): Json[] {
    return [...(this.objects.get(kind)?.values() ?? [])].filter((o) => o.metadata.namespace === namespace).map((o) => o.raw as Json);
  }

  private isMeshed(namespace: string): boolean {
    return !this.selector || this.objects.get('Namespace')!.has(`/${namespace}`);
  }

  private meshedNamespaces(): Set<string> | 'all' {
    if (!this.selector) return 'all';
    return new Set([...this.objects.get('Namespace')!.values()].map((o) => o.metadata.name));
  }

  private onEvent(r: KubeResource, event: WatchEvent, obj: Json): void {
    const meta = (obj.metadata ?? {}) as Json;
    const key = `${String(meta.namespace ?? '')}/${String(meta.name ?? '')}`;
    const map = this.objects.get(groupKind(r.apiVersion, r.kind))!;
    if (event === 'delete') {
      if (!map.delete(key)) return;
    } else {
      const next = toSourceObject(r, obj);
      const prev = map.get(key);
      map.set(key, next);
      if (prev && contentKey(prev) === contentKey(next)) return;
    }
    // Churn in namespaces outside the mesh (kube-system's pods...) rebuilds nothing.
    if (r.namespaced && !this.isMeshed(String(meta.namespace ?? ''))) return;
    this.changed.add(r.kind);
    this.schedule();
  }

  private onAbsent(r: KubeResource): void {
    const map = this.objects.get(groupKind(r.apiVersion, r.kind))!;
    if (map.size === 0) return;
    map.clear();
    this.changed.add(r.kind);
    this.schedule();
  }

  private schedule(): void {
    if (!this.started || this.closed) return;
    const now = Date.now();
    if (!this.debounce) this.firstPendingAt = now;
    clearTimeout(this.debounce);
    const wait = Math.max(0, Math.min(this.opts.debounceMs ?? 50, this.firstPendingAt + (this.opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS) - now));
    this.debounce = setTimeout(() => this.emit(), wait);
  }

  private emit(): void {
    clearTimeout(this.debounce);
    this.debounce = undefined;
    if (this.closed) return;
    const snap = this.take();
    try {
      this.opts.onChange(snap);
    } catch (err) {
      this.opts.log.error({ err: errorMessage(err) }, 'kubernetes source consumer threw');
    }
  }

  private take(): KubeSnapshot {
    const changedKinds = [...this.changed].sort();
    this.changed.clear();
    return { objects: this.snapshot(), changedKinds };
  }
}

function byNamespaceAndName(a: SourceObject, b: SourceObject): number {
  const an = a.metadata.namespace ?? '';
  const bn = b.metadata.namespace ?? '';
  if (an !== bn) return an < bn ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}
