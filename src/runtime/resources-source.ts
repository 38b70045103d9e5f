/**
 * A file of raw Envoy resources (resources-file.ts) served to every node:
 * loaded at start and again whenever the file changes, keeping the last good
 * snapshot when a new version does not parse, encode or hang together.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import type { XdsMetrics } from '../server/metrics.ts';
import { errorMessage } from '../errors.ts';
import { loadEnvoyResources } from './resources-file.ts';

/** The key under which every node shares one snapshot when config is not per proxy. */
export const SHARED_KEY = '*';

export class ResourcesFileSource {
  private loadedOnce = false;
  private lastError: string | null = null;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: { file: string; cache: SnapshotCache; metrics: XdsMetrics; log: Logger; debounceMs?: number },
  ) {}

  /** Why the control plane is not ready yet, or null once one version was served. */
  notReadyReason(): string | null {
    return this.loadedOnce ? null : `no valid config loaded yet: ${this.lastError ?? 'loading'}`;
  }

  /** Load the file now; false (and the last good config kept) when it is unusable. */
  reload(): boolean {
    const { file, cache, log } = this.opts;
    let result;
    try {
      result = loadEnvoyResources(file);
    } catch (e) {
      this.lastError = `${file}: ${errorMessage(e)}`;
      log.error({ file }, `cannot read resources; still serving the last good config: ${this.lastError}`);
      return false;
    }
    if (!result.ok) {
      this.lastError = result.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');
      for (const p of result.problems) log.error({ file: p.file, line: p.line }, `${p.file}:${p.line}: ${p.message} (still serving the last good config)`);
      return false;
    }
    const set = cache.set(SHARED_KEY, result.snapshot);
    if (!set.ok) {
      this.opts.metrics.snapshotsRejected.inc();
      this.lastError = set.problems.map((p) => `${p.name}: ${p.message}`).join('\n');
      for (const p of set.problems) log.error({ file, resource: p.name }, `inconsistent config not served: ${p.message}`);
      return false;
    }
    this.loadedOnce = true;
    this.lastError = null;
    log.info({ file, changed: set.changedTypes.length }, 'resources loaded');
    return true;
  }

  /** Reload on every change of the file. */
  watch(): void {
    // Watch the directory, not the file: editors replace files by rename,
    // which ends a watch on the old inode.
    const dir = path.dirname(path.resolve(this.opts.file));
    const base = path.basename(this.opts.file);
    this.watcher = watch(dir, (_event, name) => {
      if (name !== base) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), this.opts.debounceMs ?? 100);
    });
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
