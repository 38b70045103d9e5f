/**
 * A file of raw Envoy resources (resources-file.ts) served to every node:
 * loaded at start and again whenever the file changes, keeping the last good
 * snapshot when a new version does not parse, encode or hang together. When
 * to re-read is decided by the file source's PathWatcher, as for a folder of
 * YAML: fs.watch (or polling), debounced, one load at a time, and a file still
 * being written read again once it is quiet.
 */
import { logDiagnostic, type Logger } from '../log.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import type { XdsMetrics } from '../server/metrics.ts';
import { errorMessage } from '../errors.ts';
import { PathWatcher, type Stamp } from '../sources/file/path-watcher.ts';
import { loadEnvoyResources } from './resources-file.ts';

/** The key under which every node shares one snapshot when config is not per proxy. */
export const SHARED_KEY = '*';

export interface ResourcesFileOptions {
  file: string;
  cache: SnapshotCache;
  metrics: XdsMetrics;
  log: Logger;
  debounceMs?: number;
  /** The safety resync's period (default 5 s): tests set it long to see that fs events alone are enough. */
  resyncMs?: number;
}

export class ResourcesFileSource {
  private loadedOnce = false;
  private lastError: string | null = null;
  /** The version of the file last parsed: an unchanged file is not parsed again. */
  private known: Stamp | undefined;
  private readonly watcher: PathWatcher;

  constructor(private readonly opts: ResourcesFileOptions) {
    this.watcher = new PathWatcher({
      path: opts.file,
      kind: 'file',
      reload: () => this.refresh(),
      debounceMs: opts.debounceMs,
      pollIntervalMs: opts.resyncMs,
      logger: opts.log,
      failureMessage: 'resources file reload failed; still serving the last good config',
    });
  }

  /** Why the control plane is not ready yet, or null once one version was served. */
  notReadyReason(): string | null {
    return this.loadedOnce ? null : `no valid config loaded yet: ${this.lastError ?? 'loading'}`;
  }

  /** Load the file now if it changed; false (and the last good config kept) when what is on disk is unusable. */
  async reload(): Promise<boolean> {
    await this.watcher.run();
    return this.loadedOnce && this.lastError === null;
  }

  /** Reload on every change of the file. */
  async watch(): Promise<void> {
    await this.watcher.start();
  }

  async close(): Promise<void> {
    await this.watcher.close();
  }

  private async refresh(): Promise<void> {
    const { file, log } = this.opts;
    const read = await this.watcher.read(file, this.known);
    if (read.state === 'unchanged' || read.state === 'moving') return;
    if (read.state !== 'read') {
      // Not remembered as known, so that the file is loaded once it is back or
      // readable; but said once, not again at every resync while it stays so.
      this.known = undefined;
      const error = `${file}: ${read.state === 'gone' ? 'no such file' : read.state === 'too-large' ? `${read.stamp.size} bytes, over the limit of ${read.limit}` : errorMessage(read.error)}`;
      if (error !== this.lastError) log.error({ file }, `cannot read resources; still serving the last good config: ${error}`);
      this.lastError = error;
      return;
    }
    this.known = read.stamp;
    this.apply(read.text);
  }

  private apply(text: string): void {
    const { file, cache, log } = this.opts;
    const result = loadEnvoyResources(file, text);
    if (!result.ok) {
      this.lastError = result.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');
      for (const p of result.problems) logDiagnostic(log, `${p.file}:${p.line}: ${p.message} (still serving the last good config)`, { file: p.file, line: p.line });
      return;
    }
    const set = cache.set(SHARED_KEY, result.snapshot);
    if (!set.ok) {
      this.opts.metrics.snapshotsRejected.inc();
      this.lastError = set.problems.map((p) => `${p.name}: ${p.message}`).join('\n');
      for (const p of set.problems) log.error({ file, resource: p.name }, `inconsistent config not served: ${p.message}`);
      return;
    }
    this.loadedOnce = true;
    this.lastError = null;
    log.info({ file, changed: set.changedTypes.length }, 'resources loaded');
  }
}
