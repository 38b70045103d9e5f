/**
 * Watches a directory of YAML and hands out the full object set after each
 * change. When to re-read (fs.watch or polling, debounced, one reload at a
 * time, a file still being written read again) is PathWatcher's
 * (path-watcher.ts); what the files mean is decided here.
 *
 * Invariants (DESIGN "bad input never hurts good config"):
 * - a file whose new content does not parse keeps its last good objects, and
 *   the parse error is reported with file:line until the file is fixed;
 * - a file that is being written while we read it (its size or mtime moved
 *   during the read) is read again on the next tick instead of half-applied;
 * - a file that suddenly becomes empty keeps its objects for `settleMs`
 *   (editors and `>` redirection truncate before they write); if it is still
 *   empty then, it is taken at its word;
 * - nothing thrown while reading or by the consumer escapes the watcher;
 * - a root that is gone (deleted, renamed away, unmounted) is an error, not
 *   "no files": every file keeps its objects, the error is logged once and
 *   shown in the snapshot (`rootMissing`), the root is checked again every
 *   `pollIntervalMs`, and when it is back the watch is set on it anew and
 *   reading resumes (issue 16 bug 3: a vanished folder used to delete the
 *   whole mesh, silently).
 *
 * Each object gets a `metadata.generation` that goes up when its content
 * changes, as the API server does, so status can say which version is served.
 */
import { stat } from 'node:fs/promises';
import { componentLogger, type Logger } from '../../log.ts';
import { errorMessage } from '../../errors.ts';
import type { SourceError, SourceObject } from '../../model/object.ts';
import { MAX_FILE_BYTES, tooLargeMessage } from './limits.ts';
import { DocumentCache } from './documents.ts';
import { listYamlFiles } from './load.ts';
import { PathWatcher, type Stamp } from './path-watcher.ts';

export interface FileSourceSnapshot {
  /** Every object currently served, in file then document order. */
  objects: SourceObject[];
  /** Files whose current content is unusable (their last good objects are still in `objects`). */
  errors: SourceError[];
  /** Files re-read, added or removed since the previous snapshot. */
  changedFiles: string[];
  /** Set while the root cannot be listed: the objects are those of the last listing. */
  rootMissing?: RootMissing;
}

export interface RootMissing {
  root: string;
  /** Why it cannot be listed (ENOENT, not a directory, ...). */
  message: string;
  /** When it was first found missing (epoch ms). */
  sinceMs: number;
}

export interface FileWatcherOptions {
  root: string;
  onChange: (snapshot: FileSourceSnapshot) => void;
  /** Quiet time after the last event before reloading. Default 100 ms. */
  debounceMs?: number;
  /** 'auto': fs.watch on every folder of the tree, polling if that is unavailable; 'poll': polling only. */
  mode?: 'auto' | 'poll';
  /** Polling period in 'poll' mode, and the period of a safety resync in 'auto' mode. */
  pollIntervalMs?: number;
  /** How long a file that became empty keeps its objects. Default 1 s. */
  settleMs?: number;
  logger?: Logger;
}

interface FileState {
  stamp: Stamp;
  objects: SourceObject[];
  errors: SourceError[];
  /** When the file was first seen empty while it still had objects. */
  emptySince?: number;
  /** Its documents as last parsed: an edit re-parses only the documents it changed (documents.ts). */
  documents: DocumentCache;
}

export class FileWatcher {
  private readonly files = new Map<string, FileState>();
  /** By object: its content when last numbered (`raw`, so an unchanged document's object is not serialized again), and the object parsed and handed out. */
  private readonly generations = new Map<string, { raw: unknown; content: string; generation: number; parsed: SourceObject; numbered: SourceObject }>();
  private readonly log: Logger;
  private readonly settleMs: number;
  private readonly paths: PathWatcher;
  /** The first load is returned by start(), not passed to onChange. */
  private started = false;
  private closed = false;
  private current: FileSourceSnapshot = { objects: [], errors: [], changedFiles: [] };
  private rootMissing: RootMissing | undefined;

  constructor(private readonly options: FileWatcherOptions) {
    this.log = options.logger ?? componentLogger('file-source');
    this.settleMs = options.settleMs ?? 1000;
    this.paths = new PathWatcher({
      path: options.root,
      kind: 'directory',
      reload: () => this.refresh(),
      debounceMs: options.debounceMs,
      mode: options.mode,
      pollIntervalMs: options.pollIntervalMs,
      maxBytes: MAX_FILE_BYTES,
      logger: this.log,
      failureMessage: 'file source reload failed; keeping the previous objects',
    });
  }

  /** Loads the directory, starts watching, and returns the first snapshot (not passed to onChange). */
  async start(): Promise<FileSourceSnapshot> {
    await this.paths.run();
    this.started = true;
    await this.paths.start();
    return this.current;
  }

  snapshot(): FileSourceSnapshot {
    return this.current;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.paths.close();
  }

  /** Re-reads what changed now, without waiting for the debounce. */
  async flush(): Promise<void> {
    await this.paths.flush();
  }

  /** One reload (PathWatcher runs one at a time): re-read what changed and hand it out. */
  private async refresh(): Promise<void> {
    const emit = this.started;
    const wasMissing = this.rootMissing;
    const changed = await this.scan();
    if (changed.length > 0 || !emit || wasMissing !== this.rootMissing) this.publish(changed, emit);
  }

  /** Brings `files` up to date with the disk; returns the files that changed (none while the root is gone). */
  private async scan(): Promise<string[]> {
    const root = this.options.root;
    if (await this.checkRoot()) return [];
    const listing = await listYamlFiles(root);
    // Gone during the walk: the listing is partial, and its absent files are not deleted.
    if (await this.checkRoot()) return [];
    const listed = new Set(listing);
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

  /** True while the root cannot be listed; logs when it goes and when it comes back. */
  private async checkRoot(): Promise<boolean> {
    const root = this.options.root;
    const problem = await stat(root).then(
      (s) => (s.isDirectory() ? undefined : 'it is not a directory'),
      (err: unknown) => errorMessage(err),
    );
    if (problem !== undefined) {
      if (!this.rootMissing) {
        this.rootMissing = { root, message: problem, sinceMs: Date.now() };
        this.log.error({ root, err: problem }, `the source folder ${root} cannot be read (${problem}): every file keeps its last objects and the last config stays served until it is back`);
      }
      // Look again soon, whatever fs.watch says (a watch on a deleted directory stays silent).
      this.paths.schedule(this.options.pollIntervalMs ?? 500);
      return true;
    }
    if (this.rootMissing) {
      const goneMs = Date.now() - this.rootMissing.sinceMs;
      this.rootMissing = undefined;
      this.log.warn({ root, goneMs }, `the source folder ${root} is back: reading it again`);
      // A folder made anew is another inode: the old watch sees nothing of it.
      if (this.started && !this.closed) await this.paths.rewatch();
    }
    return false;
  }

  private async refreshFile(file: string): Promise<boolean> {
    const prev = this.files.get(file);
    const documents = prev?.documents ?? new DocumentCache(file);
    // A file kept through its settle time is read again even if unchanged.
    const read = await this.paths.read(file, prev?.emptySince === undefined ? prev?.stamp : undefined);
    if (read.state === 'gone') return this.files.delete(file);
    if (read.state === 'unchanged' || read.state === 'moving') return false;
    if (read.state === 'too-large') {
      const error = { file, line: 1, message: tooLargeMessage(read.stamp.size, read.limit) };
      this.files.set(file, { stamp: read.stamp, objects: prev?.objects ?? [], errors: [error], documents });
      return true;
    }
    if (read.state === 'unreadable') {
      const error = { file, line: 1, message: `cannot read file: ${errorMessage(read.error)}` };
      this.files.set(file, { stamp: read.stamp, objects: prev?.objects ?? [], errors: [error], documents });
      return true;
    }
    const { text, stamp: after } = read;
    const parsed = documents.parse(text);
    if (parsed.errors.length > 0) {
      this.files.set(file, { stamp: after, objects: prev?.objects ?? [], errors: parsed.errors, documents });
      return true;
    }
    if (parsed.objects.length === 0 && text.trim() === '' && prev && prev.objects.length > 0) {
      const now = Date.now();
      const emptySince = prev.emptySince ?? now;
      if (now - emptySince < this.settleMs) {
        this.files.set(file, { ...prev, stamp: after, emptySince });
        this.paths.schedule(this.settleMs - (now - emptySince));
        return false;
      }
    }
    this.files.set(file, { stamp: after, objects: parsed.objects, errors: [], documents });
    return true;
  }

  private publish(changedFiles: string[], emit: boolean): void {
    const files = [...this.files.keys()].toSorted();
    const objects = this.withGenerations(files.flatMap((f) => this.files.get(f)!.objects));
    const errors = files.flatMap((f) => this.files.get(f)!.errors);
    this.current = { objects, errors, changedFiles, ...(this.rootMissing ? { rootMissing: this.rootMissing } : {}) };
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
      const known = this.generations.get(key);
      // An unchanged document's object is handed out as the same object, so the model's caches meet it again.
      if (known?.parsed === obj) return known.numbered;
      // The same raw is the same content (sources never mutate it: model/object.ts).
      const content = known?.raw === obj.raw ? known.content : JSON.stringify(obj.raw);
      const generation = !known ? 1 : known.content === content ? known.generation : known.generation + 1;
      const numbered = { ...obj, metadata: { ...obj.metadata, generation } };
      this.generations.set(key, { raw: obj.raw, content, generation, parsed: obj, numbered });
      return numbered;
    });
    for (const key of this.generations.keys()) if (!seen.has(key)) this.generations.delete(key);
    return out;
  }
}
