/**
 * Watching a path on disk, the part every file-backed source shares (the
 * YAML folder of FileWatcher, the raw resources file of the runtime): it
 * decides *when* its owner re-reads, and reads files so that a half-written
 * one is never taken; the owner decides what a file means.
 *
 * Contract:
 * - fs.watch (recursive for a directory; for a file, its directory, because
 *   editors replace a file by renaming a new one over it, which ends a watch
 *   on the old inode); if fs.watch is unavailable or fails, polling instead;
 *   with fs.watch, a slow polling resync as well, since it can miss events
 *   (new subdirectories, network filesystems);
 * - events are debounced, so an editor's burst of writes becomes one reload;
 * - one reload runs at a time; a request during a reload runs it once more
 *   after it, so the last change is never lost;
 * - `read` re-reads a file whose size, mtime or inode moved during the read
 *   once it is quiet, instead of handing out half of it;
 * - nothing thrown by the owner's reload escapes: it is logged.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../log.ts';
import { errorMessage } from '../../errors.ts';
import { SerialJob } from '../serial-job.ts';

export interface PathWatcherOptions {
  /** A directory (watched recursively) or one file. */
  path: string;
  kind: 'directory' | 'file';
  /** Brings the owner up to date with the disk (see the contract above). */
  reload: () => Promise<void>;
  /** Quiet time after the last event before reloading. Default 100 ms. */
  debounceMs?: number;
  /** 'auto': fs.watch, polling if that is unavailable; 'poll': polling only. */
  mode?: 'auto' | 'poll';
  /** Polling period in 'poll' mode (default 500 ms), and the period of the safety resync in 'auto' mode (default 5 s). */
  pollIntervalMs?: number;
  logger: Logger;
  /** Logged when a reload throws (the owner keeps what it had). */
  failureMessage: string;
}

/** What identifies a version of a file without reading it. */
export interface Stamp {
  mtimeMs: number;
  size: number;
  ino: number;
}

export type FileRead =
  | { state: 'gone' }
  /** The stamp is the one the caller already knows. */
  | { state: 'unchanged' }
  /** Still being written: a re-read is scheduled once it is quiet. */
  | { state: 'moving' }
  | { state: 'unreadable'; stamp: Stamp; error: unknown }
  | { state: 'read'; stamp: Stamp; text: string };

export class PathWatcher {
  private readonly debounceMs: number;
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly reloads: SerialJob;

  constructor(private readonly options: PathWatcherOptions) {
    this.debounceMs = options.debounceMs ?? 100;
    this.reloads = new SerialJob(async () => {
      try {
        await options.reload();
      } catch (err) {
        options.logger.error({ err: errorMessage(err) }, options.failureMessage);
      }
    }, () => this.closed);
  }

  /** Starts watching (the owner does its first load before, with `run`). */
  start(): void {
    const { path: target, kind, logger: log } = this.options;
    if ((this.options.mode ?? 'auto') === 'auto') {
      try {
        if (kind === 'directory') {
          this.watcher = watch(target, { recursive: true }, () => this.schedule());
        } else {
          const base = path.basename(target);
          this.watcher = watch(path.dirname(path.resolve(target)), (_event, name) => {
            if (name === base) this.schedule();
          });
        }
        this.watcher.on('error', (err) => {
          log.warn({ err: errorMessage(err) }, 'fs.watch failed; falling back to polling');
          this.watcher?.close();
          this.watcher = undefined;
          this.startPolling(this.options.pollIntervalMs ?? 500);
        });
      } catch (err) {
        log.warn({ err: errorMessage(err), [kind === 'directory' ? 'root' : 'file']: target }, 'fs.watch unavailable; polling');
      }
    }
    this.startPolling(this.options.pollIntervalMs ?? (this.watcher ? 5000 : 500));
  }

  /** Reloads after `delayMs` of quiet (another call restarts the wait). */
  schedule(delayMs = this.debounceMs): void {
    if (this.closed) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.run();
    }, delayMs);
  }

  /** Reloads now: one reload at a time; a call during one makes it run once more after it. */
  run(): Promise<void> {
    return this.reloads.run();
  }

  /** Reloads now, without waiting for the debounce. */
  async flush(): Promise<void> {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = undefined;
    await this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    if (this.poller) clearInterval(this.poller);
    if (this.debounce) clearTimeout(this.debounce);
    await this.reloads.idle();
  }

  /**
   * Reads a file unless its stamp is still `known`. A file that changed
   * while it was read is not returned: a re-read is scheduled for when it is
   * quiet.
   */
  async read(file: string, known?: Stamp): Promise<FileRead> {
    const before = await stampOf(file);
    if (!before) return { state: 'gone' };
    if (known && sameStamp(known, before)) return { state: 'unchanged' };
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (!(await stampOf(file))) return { state: 'gone' };
      return { state: 'unreadable', stamp: before, error };
    }
    const after = await stampOf(file);
    if (!after || !sameStamp(before, after)) {
      this.schedule();
      return { state: 'moving' };
    }
    return { state: 'read', stamp: after, text };
  }

  private startPolling(intervalMs: number): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = setInterval(() => void this.run(), intervalMs);
    this.poller.unref();
  }
}

async function stampOf(file: string): Promise<Stamp | undefined> {
  const s = await stat(file).catch(() => undefined);
  return s?.isFile() ? { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino } : undefined;
}

export function sameStamp(a: Stamp, b: Stamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}
