/**
 * Watching a path on disk, the part every file-backed source shares (the
 * YAML folder of FileWatcher, the raw resources file of the runtime): it
 * decides *when* its owner re-reads, and reads files so that a half-written
 * one is never taken; the owner decides what a file means.
 *
 * Contract:
 * - fs.watch on directories, never on files (editors replace a file by
 *   renaming a new one over it, which ends a watch on the old inode): every
 *   directory of a tree, or the one that holds a file; if fs.watch is
 *   unavailable or fails, polling instead; with fs.watch, a slow polling
 *   resync as well, since it can miss events (network filesystems);
 * - events are debounced, so an editor's burst of writes becomes one reload;
 * - one reload runs at a time; a request during a reload runs it once more
 *   after it, so the last change is never lost;
 * - `read` re-reads a file whose size, mtime or inode moved during the read
 *   once it is quiet, instead of handing out half of it;
 * - nothing thrown by the owner's reload escapes: it is logged.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
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
  /** fs.watch handles by directory: every directory of the tree, or the one that holds the file. */
  private readonly watchers = new Map<string, FSWatcher>();
  /** fs.watch is in use (else polling alone). */
  private watching = false;
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly reloads: SerialJob;

  constructor(private readonly options: PathWatcherOptions) {
    this.debounceMs = options.debounceMs ?? 100;
    this.reloads = new SerialJob(async () => {
      try {
        // Before the reload: a file written after its scan then has a watch.
        if (this.watching && options.kind === 'directory') await this.watchSubdirectories();
        await options.reload();
      } catch (err) {
        options.logger.error({ err: errorMessage(err) }, options.failureMessage);
      }
    }, () => this.closed);
  }

  /**
   * Starts watching (the owner does its first load before, with `run`).
   *
   * A directory is watched one directory at a time, not with
   * `{ recursive: true }`: on Linux, Node 20 emulates that with a watch per
   * file, which stays on the old inode when an editor saves by renaming a
   * new file over it, so every later save went unseen until the resync.
   */
  async start(): Promise<void> {
    const { path: target, kind, logger: log } = this.options;
    if ((this.options.mode ?? 'auto') === 'auto') {
      try {
        if (kind === 'directory') {
          this.add(target, () => true, true);
          this.watching = true;
          await this.watchSubdirectories();
        } else {
          const base = path.basename(target);
          this.add(path.dirname(path.resolve(target)), (name) => name === base, true);
          this.watching = true;
        }
      } catch (err) {
        log.warn({ err: errorMessage(err), [kind === 'directory' ? 'root' : 'file']: target }, 'fs.watch unavailable; polling');
        this.unwatchAll();
      }
    }
    // fs.watch can miss events (network filesystems, a directory created and filled at once): a slow resync covers it.
    this.startPolling(this.options.pollIntervalMs ?? (this.watching ? 5000 : 500));
  }

  /** Watches again from the root (the owner found it removed and made anew: the old watch is on the gone inode). */
  async rewatch(): Promise<void> {
    if (this.closed) return;
    this.unwatchAll();
    await this.start();
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
    this.unwatchAll();
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

  /** Watches `dir`; `essential`: the root's (or the file's) directory, whose loss means polling from then on. */
  private add(dir: string, relevant: (name: string | null) => boolean, essential: boolean): void {
    const watcher = watch(dir, (_event, name) => {
      if (relevant(name)) this.schedule();
    });
    watcher.on('error', (err) => {
      watcher.close();
      this.watchers.delete(dir);
      if (!essential) {
        this.schedule(); // a subdirectory went away: the next reload lists the tree again
        return;
      }
      this.options.logger.warn({ err: errorMessage(err) }, 'fs.watch failed; falling back to polling');
      this.unwatchAll();
      this.startPolling(this.options.pollIntervalMs ?? 500);
    });
    this.watchers.set(dir, watcher);
  }

  /** Watches every directory below the root, and stops watching those that are gone. */
  private async watchSubdirectories(): Promise<void> {
    const root = this.options.path;
    const dirs = new Set(await listDirectories(root));
    for (const [dir, watcher] of this.watchers) {
      if (dir !== root && !dirs.has(dir)) {
        watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.watchers.has(dir) || this.closed) continue;
      try {
        this.add(dir, () => true, false);
      } catch {
        // Removed since the listing: the next listing settles it.
      }
    }
  }

  private unwatchAll(): void {
    this.watching = false;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }
}

/**
 * Every directory below `root` (not `root` itself). Hidden ones are skipped,
 * as the sources skip them; links to directories are not followed (they
 * could loop).
 */
async function listDirectories(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const sub = path.join(dir, entry.name);
      out.push(sub);
      await walk(sub);
    }
  };
  await walk(root);
  return out;
}

async function stampOf(file: string): Promise<Stamp | undefined> {
  const s = await stat(file).catch(() => undefined);
  return s?.isFile() ? { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino } : undefined;
}

export function sameStamp(a: Stamp, b: Stamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}
