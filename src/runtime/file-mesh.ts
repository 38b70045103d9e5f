/**
 * The file source wired to the mesh: a folder of Kubernetes YAML is watched,
 * each change rebuilds the model (keeping the last good version of any
 * object whose new version is invalid) and the publisher recomputes the
 * proxies' snapshots. Composition only; each step lives in its own layer.
 */
import { logDiagnostic, type Logger } from '../log.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import { formatSourceError } from '../model/index.ts';
import { FileWatcher, type FileSourceSnapshot } from '../sources/file/watch.ts';
import type { SecretSource } from './publisher.ts';
import { SourcedMesh } from './mesh.ts';

export interface FileMeshOptions {
  dir: string;
  cache: SnapshotCache;
  log: Logger;
  debounceMs?: number;
  secrets?: SecretSource;
}

export class FileMesh extends SourcedMesh {
  private readonly watcher: FileWatcher;

  constructor(private readonly opts: FileMeshOptions) {
    super(opts.cache, opts.log, opts.secrets);
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

  async close(): Promise<void> {
    await this.watcher.close();
  }

  private apply(snap: FileSourceSnapshot): void {
    this.sourceErrors = snap.errors;
    for (const e of snap.errors) logDiagnostic(this.opts.log, `${formatSourceError(e)} (the file's last good objects are still served)`, { file: e.file, line: e.line });
    this.pipeline.apply(snap.objects);
  }
}
