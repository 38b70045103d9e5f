/**
 * Watches a directory of YAML and hands out the full object set after each
 * change, debounced so an editor's burst of writes becomes one reload.
 *
 * Invariants (DESIGN "bad input never hurts good config"):
 * - a file whose new content does not parse keeps its last good objects, and
 *   the parse error is reported with file:line until the file is fixed;
 * - a file that is being written while we read it (its size or mtime moved
 *   during the read) is read again on the next tick instead of half-applied;
 * - a file that suddenly becomes empty keeps its objects for `settleMs`
 *   (editors and `>` redirection truncate before they write); if it is still
 *   empty then, it is taken at its word;
 * - nothing thrown while reading or by the consumer escapes the watcher.
 *
 * Each object gets a `metadata.generation` that goes up when its content
 * changes, as the API server does, so status can say which version is served.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { componentLogger, type Logger } from '../../log.ts';
import type { SourceError, SourceObject } from '../../model/object.ts';
import { errorMessage, listYamlFiles } from './load.ts';
import { parseYamlFile } from './parse.ts';

export interface FileSourceSnapshot {
  /** Every object currently served, in file then document order. */
  objects: SourceObject[];
  /** Files whose current content is unusable (their last good objects are still in `objects`). */
  errors: SourceError[];
  /** Files re-read, added or removed since the previous snapshot. */
  changedFiles: string[];
}

export interface FileWatcherOptions {
  root: string;
  onChange: (snapshot: FileSourceSnapshot) => void;
  /** Quiet time after the last event before reloading. Default 100 ms. */
  debounceMs?: number;
  /** 'auto': fs.watch (recursive), polling if that is unavailable; 'poll': polling only. */
  mode?: 'auto' | 'poll';
  /** Polling period in 'poll' mode, and the period of a safety resync in 'auto' mode. */
  pollIntervalMs?: number;
  /** How long a file that became empty keeps its objects. Default 1 s. */
  settleMs?: number;
  logger?: Logger;
}

interface Stamp {
  mtimeMs: number;
  size: number;
  ino: number;
}

interface FileState {
  stamp: Stamp;
  objects: SourceObject[];
  errors: SourceError[];
  /** When the file was first seen empty while it still had objects. */
  emptySince?: number;
}

export class FileWatcher {
  private readonly files = new Map<string, FileState>();
  private readonly generations = new Map<string, { content: string; generation: number }>();
  private readonly log: Logger;
  private readonly debounceMs: number;
  private readonly settleMs: number;
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private current: FileSourceSnapshot = { objects: [], errors: [], changedFiles: [] };

  constructor(private readonly options: FileWatcherOptions) {
    this.log = options.logger ?? componentLogger('file-source');
    this.debounceMs = options.debounceMs ?? 100;
    this.settleMs = options.settleMs ?? 1000;
  }

  /** Loads the directory, starts watching, and returns the first snapshot (not passed to onChange). */
  async start(): Promise<FileSourceSnapshot> {
    await this.reload(false);
    const mode = this.options.mode ?? 'auto';
    if (mode === 'auto') {
      try {
        this.watcher = watch(this.options.root, { recursive: true }, () => this.schedule());
        this.watcher.on('error', (err) => {
          this.log.warn({ err: errorMessage(err) }, 'fs.watch failed; falling back to polling');
          this.watcher?.close();
          this.watcher = undefined;
          this.startPolling(this.options.pollIntervalMs ?? 500);
        });
      } catch (err) {
        this.log.warn({ err: errorMessage(err), root: this.options.root }, 'fs.watch unavailable; polling');
      }
    }
    // fs.watch can miss events (new subdirectories, network filesystems): a slow resync covers it.
    this.startPolling(this.options.pollIntervalMs ?? (this.watcher ? 5000 : 500));
    return this.current;
  }

  snapshot(): FileSourceSnapshot {
    return this.current;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    if (this.poller) clearInterval(this.poller);
    if (this.debounce) clearTimeout(this.debounce);
    await this.running;
  }

  /** Re-reads what changed now, without waiting for the debounce. */
  async flush(): Promise<void> {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = undefined;
    await this.reload(true);
  }

  private startPolling(intervalMs: number): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = setInterval(() => void this.reload(true), intervalMs);
    this.poller.unref();
  }

  private schedule(delayMs = this.debounceMs): void {
    if (this.closed) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.reload(true);
    }, delayMs);
  }

  /** Runs one reload at a time; a request during a reload runs once more after it. */
  private async reload(emit: boolean): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          const changed = await this.scan();
          if (changed.length > 0 || !emit) this.publish(changed, emit);
        } catch (err) {
          this.log.error({ err: errorMessage(err) }, 'file source reload failed; keeping the previous objects');
        }
      } while (this.again && !this.closed);
    })();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Brings `files` up to date with the disk; returns the files that changed. */
  private async scan(): Promise<string[]> {
    const listed = new Set(await listYamlFiles(this.options.root));
    const changed: string[] = [];
    for (const file of this.files.keys()) {
      if (!listed.has(file)) {
        this.files.delete(file);
        changed.push(file);
      }
    }
    for (const file of listed) {
      if (await this.refreshFile(file)) changed.push(file);
    }
    return changed.toSorted();
  }

  private async refreshFile(file: string): Promise<boolean> {
    const before = await stamp(file);
    const prev = this.files.get(file);
    if (!before) return this.files.delete(file); // vanished since the listing
    if (prev && sameStamp(prev.stamp, before) && prev.emptySince === undefined) return false;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (!(await stamp(file))) return this.files.delete(file);
      const error = { file, line: 1, message: `cannot read file: ${errorMessage(err)}` };
      this.files.set(file, { stamp: before, objects: prev?.objects ?? [], errors: [error] });
      return true;
    }
    const after = await stamp(file);
    if (!after || !sameStamp(before, after)) {
      this.schedule(); // still being written: read it again once it is quiet
      return false;
    }
    const parsed = parseYamlFile(file, text);
    if (parsed.errors.length > 0) {
      this.files.set(file, { stamp: after, objects: prev?.objects ?? [], errors: parsed.errors });
      return true;
    }
    if (parsed.objects.length === 0 && text.trim() === '' && prev && prev.objects.length > 0) {
      const now = Date.now();
      const emptySince = prev.emptySince ?? now;
      if (now - emptySince < this.settleMs) {
        this.files.set(file, { ...prev, stamp: after, emptySince });
        this.schedule(this.settleMs - (now - emptySince));
        return false;
      }
    }
    this.files.set(file, { stamp: after, objects: parsed.objects, errors: [] });
    return true;
  }

  private publish(changedFiles: string[], emit: boolean): void {
    const files = [...this.files.keys()].toSorted();
    const objects = this.withGenerations(files.flatMap((f) => this.files.get(f)!.objects));
    const errors = files.flatMap((f) => this.files.get(f)!.errors);
    this.current = { objects, errors, changedFiles };
    if (!emit || this.closed) return;
    try {
      this.options.onChange(this.current);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'file source consumer threw');
    }
  }

  /** Numbers each object's versions: same content, same generation. */
  private withGenerations(objects: SourceObject[]): SourceObject[] {
    const seen = new Set<string>();
    const out = objects.map((obj) => {
      const key = `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
      seen.add(key);
      const content = JSON.stringify(obj.raw);
      const known = this.generations.get(key);
      const generation = !known ? 1 : known.content === content ? known.generation : known.generation + 1;
      this.generations.set(key, { content, generation });
      return { ...obj, metadata: { ...obj.metadata, generation } };
    });
    for (const key of this.generations.keys()) if (!seen.has(key)) this.generations.delete(key);
    return out;
  }
}

async function stamp(file: string): Promise<Stamp | undefined> {
  const s = await stat(file).catch(() => undefined);
  return s?.isFile() ? { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino } : undefined;
}

function sameStamp(a: Stamp, b: Stamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}
