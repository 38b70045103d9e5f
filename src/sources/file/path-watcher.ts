/**
 * Watching a path on disk, the part every file-backed source shares (the
 * YAML folder of FileWatcher, the raw resources file of the runtime): it
 * decides *when* its owner re-reads, and reads files so that a half-written
 * one is never taken; the owner decides what a file means.
 *
 * Contract:
 * - fs.watch on directories, never on files (editors replace a file by
 *   renaming a new one over it, which ends a watch on the old inode): every
 *   directory of a tree, or the one that holds a file and the one its
 *   symbolic link resolves into (a Kubernetes ConfigMap swaps a `..data`
 *   link beside the file); if fs.watch is unavailable or fails, polling
 *   instead; with fs.watch, a slow polling resync as well, since it can miss
 *   events (network filesystems);
 * - before every reload the watched directories are checked against the
 *   disk, by inode: a new, removed or replaced directory (`rm -r d; mv e d`)
 *   is watched again, since a watch stays on the inode it was opened on
 *   (issue 16 bug 7: edits there went unseen until the resync);
 * - events are debounced, so an editor's burst of writes becomes one reload,
 *   but a burst never postpones a reload by more than `maxWaitMs` (a log
 *   file written every few ms beside the YAML must not hold edits back);
 * - one reload runs at a time; a request during a reload runs it once more
 *   after it, so the last change is never lost;
 * - `read` re-reads a file whose size, mtime or inode moved during the read
 *   once it is quiet, instead of handing out half of it; a file over
 *   `maxBytes` is not read at all;
 * - nothing thrown by the owner's reload escapes: it is logged.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
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
  /** The longest a burst of events postpones a reload. Default max(400 ms, 4 × debounceMs). */
  maxWaitMs?: number;
  /** 'auto': fs.watch, polling if that is unavailable; 'poll': polling only. */
  mode?: 'auto' | 'poll';
  /** Polling period in 'poll' mode (default 500 ms), and the period of the safety resync in 'auto' mode (default 5 s). */
  pollIntervalMs?: number;
  /** `read` refuses a file larger than this (state 'too-large'). Default: no limit. */
  maxBytes?: number;
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
  /** Larger than `maxBytes`: not read (its size is in the stamp). */
  | { state: 'too-large'; stamp: Stamp; limit: number }
  | { state: 'read'; stamp: Stamp; text: string };

/** A directory to watch: its inode (a replaced directory is a new one) and, for a parent watched for one entry, that entry's name. */
interface Target {
  ino: number;
  only?: string;
  /** The root's (or the file's) directory: if its watch fails, polling from then on. */
  essential: boolean;
}

interface Watch extends Target {
  watcher: FSWatcher;
}

export class PathWatcher {
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;
  /** fs.watch handles by directory (see `targets`). */
  private readonly watchers = new Map<string, Watch>();
  /** fs.watch is in use (else polling alone). */
  private watching = false;
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  /** When the first event of the burst being debounced came. */
  private burstStart: number | undefined;
  private closed = false;
  private readonly reloads: SerialJob;

  constructor(private readonly options: PathWatcherOptions) {
    this.debounceMs = options.debounceMs ?? 100;
    this.maxWaitMs = options.maxWaitMs ?? Math.max(400, 4 * this.debounceMs);
    this.reloads = new SerialJob(async () => {
      try {
        // Before the reload: a file written after its scan then has a watch.
        if (this.watching) await this.rearm();
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
        const { dir: essential } = this.layout();
        const targets = await this.targets();
        const first = targets.get(essential);
        if (!first) throw new Error(`${essential}: no such directory`);
        this.add(essential, first); // throws if fs.watch is unavailable
        this.watching = true;
        await this.rearm(targets);
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
      this.burstStart = undefined;
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
    this.burstStart = undefined;
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
   * quiet. A file over `maxBytes` is not read, and never more than
   * `maxBytes` of one that grows while it is read.
   */
  async read(file: string, known?: Stamp): Promise<FileRead> {
    const before = await stampOf(file);
    if (!before) return { state: 'gone' };
    if (known && sameStamp(known, before)) return { state: 'unchanged' };
    const limit = this.options.maxBytes;
    if (limit !== undefined && before.size > limit) return { state: 'too-large', stamp: before, limit };
    let text: string;
    try {
      // No more than the stat said (+1 to notice growth): a file that grows while read is never taken whole.
      const bytes = await readUpTo(file, before.size + 1);
      if (bytes.length !== before.size) {
        this.schedule();
        return { state: 'moving' };
      }
      text = bytes.toString('utf8');
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

  /** An fs event: reload once quiet, but no later than `maxWaitMs` after the burst's first event. */
  private onEvent(): void {
    const now = Date.now();
    this.burstStart ??= now;
    this.schedule(Math.max(0, Math.min(this.debounceMs, this.burstStart + this.maxWaitMs - now)));
  }

  /** The directory whose watch is essential, and (for a directory) the root's parent and the root's name. */
  private layout(): { dir: string; parent?: string; base?: string } {
    const target = path.resolve(this.options.path);
    if (this.options.kind === 'file') return { dir: path.dirname(target) };
    const parent = path.dirname(target);
    return parent === target ? { dir: target } : { dir: target, parent, base: path.basename(target) };
  }

  /**
   * The directories to watch now, with their inodes. A tree: the root, every
   * directory below it, and the root's parent for the root's own entry (the
   * root removed, recreated or replaced). A file: its directory, and the
   * directory its link resolves into, if it is a link.
   */
  private async targets(): Promise<Map<string, Target>> {
    const out = new Map<string, Target>();
    const put = async (dir: string, extra: Omit<Target, 'ino'>): Promise<void> => {
      const s = await stat(dir).catch(() => undefined);
      if (s?.isDirectory() && !out.has(dir)) out.set(dir, { ino: s.ino, ...extra });
    };
    const { dir, parent, base } = this.layout();
    await put(dir, { essential: true });
    if (this.options.kind === 'directory') {
      if (parent && base) await put(parent, { only: base, essential: false });
      if (out.has(dir)) for (const sub of await listDirectories(dir)) await put(sub, { essential: false });
    } else {
      const real = await realpath(this.options.path).catch(() => undefined);
      if (real) await put(path.dirname(real), { essential: false });
    }
    return out;
  }

  /** Brings the watches in line with `targets`: new directories watched, removed or replaced ones watched again or dropped. */
  private async rearm(targets?: Map<string, Target>): Promise<void> {
    const wanted = targets ?? (await this.targets());
    if (this.closed || !this.watching) return;
    for (const [dir, w] of this.watchers) {
      const t = wanted.get(dir);
      if (!t || t.ino !== w.ino || t.only !== w.only) {
        w.watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const [dir, t] of wanted) {
      if (this.watchers.has(dir)) continue;
      try {
        this.add(dir, t);
      } catch {
        // Removed since the listing: the next listing settles it.
      }
    }
  }

  private add(dir: string, target: Target): void {
    const watcher = watch(dir, (_event, name) => {
      if (target.only === undefined || name === null || name === target.only) this.onEvent();
    });
    watcher.on('error', (err) => {
      watcher.close();
      if (this.watchers.get(dir)?.watcher === watcher) this.watchers.delete(dir);
      if (!target.essential) {
        this.schedule(); // a subdirectory went away: the next reload lists the tree again
        return;
      }
      this.options.logger.warn({ err: errorMessage(err) }, 'fs.watch failed; falling back to polling');
      this.unwatchAll();
      this.startPolling(this.options.pollIntervalMs ?? 500);
    });
    this.watchers.set(dir, { ...target, watcher });
  }

  private unwatchAll(): void {
    this.watching = false;
    for (const w of this.watchers.values()) w.watcher.close();
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

/** The first `max` bytes of a file (all of it if it is shorter). */
async function readUpTo(file: string, max: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(max);
    let length = 0;
    while (length < max) {
      const { bytesRead } = await handle.read(buf, length, max - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buf.subarray(0, length);
  } finally {
    await handle.close();
  }
}

async function stampOf(file: string): Promise<Stamp | undefined> {
  const s = await stat(file).catch(() => undefined);
  return s?.isFile() ? { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino } : undefined;
}

export function sameStamp(a: Stamp, b: Stamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}
