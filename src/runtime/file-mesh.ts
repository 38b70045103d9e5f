/**
 * The file source wired to the mesh: a folder of Kubernetes YAML is watched,
 * each change rebuilds the model (keeping the last good version of any
 * object whose new version is invalid) and the publisher recomputes the
 * proxies' snapshots. Composition only; each step lives in its own layer.
 *
 * With a state dir, the last good objects are also persisted
 * (last-good-store.ts) and stand in at start for a file that cannot be read
 * or parsed, for an object whose version is rejected, and for the whole
 * folder if it is gone (issue 16 bug 2). A deleted file is a deletion.
 */
import path from 'node:path';
import { logDiagnostic, type Logger } from '../log.ts';
import type { DegradedState } from '../admin/http.ts';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import { formatSourceError, objectIdOf, type BuildResult } from '../model/index.ts';
import type { SourceError, SourceObject } from '../model/object.ts';
import { FileWatcher, type FileSourceSnapshot, type RootMissing } from '../sources/file/watch.ts';
import { LastGoodStore } from './last-good-store.ts';
import type { SecretSource } from './publisher.ts';
import { SourcedMesh } from './mesh.ts';

export interface FileMeshOptions {
  dir: string;
  cache: SnapshotCache;
  log: Logger;
  debounceMs?: number;
  secrets?: SecretSource;
  /** Where the last good objects are persisted (`<stateDir>/last-good/`); none without one. */
  stateDir?: string;
}

export class FileMesh extends SourcedMesh {
  private readonly watcher: FileWatcher;
  private readonly store: LastGoodStore | undefined;
  /** The persisted objects by source file (absolute): read at start, then what each publish persists. */
  private persisted = new Map<string, SourceObject[]>();
  private rootMissing: RootMissing | undefined;
  /** Per file in error: how its objects are served now, for logs and /readyz. */
  private fileStates: Array<{ error: SourceError; served: string }> = [];

  constructor(private readonly opts: FileMeshOptions) {
    super(opts.cache, opts.log, opts.secrets);
    this.store = opts.stateDir ? new LastGoodStore(opts.stateDir, opts.log.child({ component: 'last-good' })) : undefined;
    this.watcher = new FileWatcher({
      root: opts.dir,
      debounceMs: opts.debounceMs ?? 50,
      logger: opts.log.child({ component: 'file-source' }),
      onChange: (snap) => this.apply(snap),
    });
    this.pipeline.onPublished((result) => this.persist(result));
  }

  async start(): Promise<void> {
    if (this.store) {
      this.persisted = await this.store.load();
      const accepted = new Map<string, SourceObject>();
      for (const objects of this.persisted.values()) for (const obj of objects) accepted.set(objectIdOf(obj), obj);
      this.pipeline.seedAccepted(accepted);
    }
    this.apply(await this.watcher.start());
  }

  /** Re-read changed files now, and finish persisting (tests). */
  async flush(): Promise<void> {
    await this.watcher.flush();
    await this.store?.idle();
  }

  async close(): Promise<void> {
    await this.watcher.close();
    await this.store?.idle();
  }

  override notReadyReason(): string | null {
    if (this.rootMissing && this.pipeline.statuses.length === 0) {
      return `the source folder ${this.rootMissing.root} cannot be read (${this.rootMissing.message}) and no last good config of it is persisted: nothing to serve`;
    }
    return super.notReadyReason();
  }

  protected override sourceDegraded(): DegradedState[] {
    const out: DegradedState[] = [];
    if (this.rootMissing) {
      out.push({
        condition: 'SourceRootMissing',
        file: this.rootMissing.root,
        sinceMs: this.rootMissing.sinceMs,
        message: `the source folder ${this.rootMissing.root} cannot be read (${this.rootMissing.message}): the last config is served until it is back`,
      });
    }
    for (const { error, served } of this.fileStates) out.push({ condition: 'FileUnusable', file: error.file, message: `${formatSourceError(error)}; ${served}` });
    const failure = this.store?.failure;
    if (failure) {
      out.push({ condition: 'LastGoodNotPersisted', file: this.store!.dir, sinceMs: failure.sinceMs, message: `the last good config cannot be persisted in ${this.store!.dir}: ${failure.message}` });
    }
    return out;
  }

  private apply(snap: FileSourceSnapshot): void {
    this.rootMissing = snap.rootMissing;
    const objects = this.withPersisted(snap);
    const fromFiles = new Set(objects.map(fileOf));
    const states = new Map<string, { error: SourceError; served: string }>();
    for (const error of snap.errors) {
      if (states.has(error.file)) continue;
      const restored = objects.find((o) => fileOf(o) === path.resolve(error.file) && o.origin.source === 'file' && o.origin.persistedAt);
      const served = restored?.origin.source === 'file'
        ? `served from the last good version persisted at ${restored.origin.persistedAt}`
        : fromFiles.has(error.file)
          ? "the file's last good objects are still served"
          : 'the file has no last good objects: none of its objects is served';
      states.set(error.file, { error, served });
    }
    this.fileStates = [...states.values()];
    this.sourceErrors = snap.errors.map((e) => ({ ...e, message: `${e.message} (${states.get(e.file)!.served})` }));
    for (const e of snap.errors) logDiagnostic(this.opts.log, `${formatSourceError(e)} (${states.get(e.file)!.served})`, { file: e.file, line: e.line });
    this.pipeline.apply(objects);
  }

  /**
   * The snapshot's objects, plus the persisted ones of every file that
   * yields none now because it cannot be read or parsed (or the folder is
   * gone). An object defined elsewhere by now is not restored twice.
   */
  private withPersisted(snap: FileSourceSnapshot): SourceObject[] {
    // Usually no file is broken: nothing to look at.
    const candidates = snap.rootMissing ? [...this.persisted.keys()] : [...new Set(snap.errors.map((e) => path.resolve(e.file)))].filter((f) => this.persisted.has(f));
    if (candidates.length === 0) return snap.objects;
    const present = new Set(snap.objects.map((o) => path.resolve(fileOf(o) ?? '')));
    const ids = new Set(snap.objects.map(objectIdOf));
    const extra: SourceObject[] = [];
    for (const file of candidates) {
      if (present.has(file)) continue;
      const at = this.store!.pathOf(file);
      for (const obj of this.persisted.get(file)!) {
        if (ids.has(objectIdOf(obj))) continue;
        extra.push(obj.origin.source === 'file' && !obj.origin.persistedAt ? { ...obj, origin: { ...obj.origin, file, persistedAt: at } } : obj);
      }
    }
    return extra.length > 0 ? [...snap.objects, ...extra] : snap.objects;
  }

  /** After each publish: the objects now served, by file (not while the folder is gone: what is served is not what it held). */
  private persist(result: BuildResult): void {
    if (!this.store || this.rootMissing) return;
    const byFile = new Map<string, SourceObject[]>();
    for (const obj of result.accepted.values()) {
      const file = fileOf(obj);
      if (file === undefined) continue;
      const list = byFile.get(file);
      if (list) list.push(obj);
      else byFile.set(file, [obj]);
    }
    this.store.save(byFile);
    // What stands in for a file from now on is what is persisted now: a file deleted since start is not brought back.
    this.persisted = new Map([...byFile].map(([file, objects]) => [path.resolve(file), objects]));
  }
}

function fileOf(obj: SourceObject): string | undefined {
  return obj.origin.source === 'file' ? obj.origin.file : undefined;
}
