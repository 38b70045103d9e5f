/**
 * The file source wired to the mesh: a folder of Kubernetes YAML is watched,
 * each change rebuilds the model (keeping the last good version of any
 * object whose new version is invalid) and the publisher recomputes the
 * proxies' snapshots. Composition only; each step lives in its own layer.
 */
import type { Logger } from '../log.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import { formatSourceError, type MeshModel, type ObjectStatus } from '../model/index.ts';
import { FileWatcher, type FileSourceSnapshot } from '../sources/file/watch.ts';
import type { SourceError } from '../model/object.ts';
import type { MeshPublisher, SecretSource } from './publisher.ts';
import { MeshPipeline } from './pipeline.ts';
import type { RunningMesh } from './mesh.ts';

export interface FileMeshOptions {
  dir: string;
  cache: SnapshotCache;
  log: Logger;
  debounceMs?: number;
  secrets?: SecretSource;
  /** Called after each model version is published. */
  onModel?: (model: MeshModel) => void;
}

export class FileMesh implements RunningMesh {
  private readonly pipeline: MeshPipeline;
  private readonly watcher: FileWatcher;
  sourceErrors: SourceError[] = [];

  constructor(private readonly opts: FileMeshOptions) {
    this.pipeline = new MeshPipeline(opts.cache, opts.log, opts.secrets);
    this.watcher = new FileWatcher({
      root: opts.dir,
      debounceMs: opts.debounceMs ?? 50,
      logger: opts.log.child({ component: 'file-source' }),
      onChange: (snap) => this.apply(snap),
    });
  }

  get publisher(): MeshPublisher {
    return this.pipeline.publisher;
  }
  get statuses(): ObjectStatus[] {
    return this.pipeline.statuses;
  }
  get model(): MeshModel | undefined {
    return this.pipeline.model;
  }
  get generation(): number {
    return this.pipeline.generation;
  }
  get lastPublishMs(): number {
    return this.pipeline.lastPublishMs;
  }

  async start(): Promise<void> {
    this.apply(await this.watcher.start());
  }

  /** Re-read changed files now (tests). */
  async flush(): Promise<void> {
    await this.watcher.flush();
  }

  onPublished(listener: () => void): void {
    this.pipeline.onPublished(listener);
  }

  async close(): Promise<void> {
    await this.watcher.close();
  }

  private apply(snap: FileSourceSnapshot): void {
    this.sourceErrors = snap.errors;
    for (const e of snap.errors) this.opts.log.error(`${formatSourceError(e)} (the file's last good objects are still served)`);
    const result = this.pipeline.apply(snap.objects);
    this.opts.onModel?.(result.model);
  }
}
