/**
 * The file source wired to the mesh: a folder of Kubernetes YAML is watched,
 * each change rebuilds the model (keeping the last good version of any
 * object whose new version is invalid) and the publisher recomputes the
 * proxies' snapshots. Composition only; each step lives in its own layer.
 */
import type { Logger } from '../log.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import { buildMeshKeepingLastGood, formatProblem, formatSourceError, type AcceptedInputs, type MeshModel, type ObjectStatus } from '../model/index.ts';
import { FileWatcher, type FileSourceSnapshot } from '../sources/file/watch.ts';
import type { SourceError } from '../sources/object.ts';
import { MeshPublisher, type SecretSource } from '../translate/publisher.ts';

export interface FileMeshOptions {
  dir: string;
  cache: SnapshotCache;
  log: Logger;
  debounceMs?: number;
  secrets?: SecretSource;
  /** Called after each model version is published. */
  onModel?: (model: MeshModel) => void;
}

export class FileMesh {
  readonly publisher: MeshPublisher;
  private readonly watcher: FileWatcher;
  private accepted: AcceptedInputs | undefined;
  statuses: ObjectStatus[] = [];
  sourceErrors: SourceError[] = [];
  model: MeshModel | undefined;
  /** Model versions published; tests and the admin API read it. */
  generation = 0;
  lastPublishMs = 0;
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly opts: FileMeshOptions) {
    this.publisher = new MeshPublisher(opts.cache, opts.log.child({ component: 'publisher' }), opts.secrets);
    this.watcher = new FileWatcher({
      root: opts.dir,
      debounceMs: opts.debounceMs ?? 50,
      logger: opts.log.child({ component: 'file-source' }),
      onChange: (snap) => this.apply(snap),
    });
  }

  async start(): Promise<void> {
    this.apply(await this.watcher.start());
  }

  /** Re-read changed files now (tests). */
  async flush(): Promise<void> {
    await this.watcher.flush();
  }

  onPublished(listener: () => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    await this.watcher.close();
  }

  private apply(snap: FileSourceSnapshot): void {
    const t0 = performance.now();
    this.sourceErrors = snap.errors;
    for (const e of snap.errors) this.opts.log.error(`${formatSourceError(e)} (the file's last good objects are still served)`);
    const result = buildMeshKeepingLastGood(snap.objects, this.accepted);
    this.accepted = result.accepted;
    this.statuses = result.statuses;
    for (const s of result.statuses) for (const p of s.problems) if (p.severity === 'error') this.opts.log.error(formatProblem(p));
    this.model = result.model;
    const stats = this.publisher.publish(result.model);
    this.generation++;
    this.lastPublishMs = performance.now() - t0;
    this.opts.log.info(
      { generation: this.generation, services: result.model.services.size, proxies: stats.proxies, endpointsOnly: stats.endpointsOnly, ms: Math.round(this.lastPublishMs) },
      'mesh published',
    );
    this.opts.onModel?.(result.model);
    for (const l of this.listeners) l();
  }
}
