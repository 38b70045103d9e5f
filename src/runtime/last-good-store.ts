/**
 * The file source's last good config on disk, so that it survives a restart
 * (issue 16 bug 2: Trellis restarted with a broken intents.yaml served a mesh
 * without that file's objects, and the frontend lost its recommendation
 * clusters). A cluster keeps its last good objects in the API server; a
 * folder has only itself, so the runtime keeps a copy in the state dir.
 *
 * Layout: `<state-dir>/last-good/<hash>.json`, one file per source file
 * (the hash is of the source file's absolute path), holding the objects of
 * that file that were in the last published model — accepted ones only, or
 * the last good version still served for a rejected one. Each is written
 * atomically (temp file, fsync, rename) after a publish changed it, and
 * removed when its source file no longer yields any (a deleted file stays
 * deleted). Writes run one at a time, in the background; only the newest
 * state is written.
 *
 * At start the copies stand in where the folder cannot: a file that cannot
 * be read or parsed gets its persisted objects, and an object whose current
 * version is rejected falls back to its persisted version (last-good.ts).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ObjectMeta, SourceObject } from '../model/object.ts';
import { writeFileAtomic } from '../ca/files.ts';
import { SerialJob } from '../sources/serial-job.ts';

const FORMAT = 1;

interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: Omit<ObjectMeta, 'generation'>;
  raw: Record<string, unknown>;
  line: number;
}

interface StoredFile {
  format: typeof FORMAT;
  /** The source file, absolute. */
  file: string;
  objects: StoredObject[];
}

export interface PersistFailure {
  message: string;
  sinceMs: number;
}

export class LastGoodStore {
  readonly dir: string;
  /** What each stored file holds now, by source file (the JSON written). */
  private readonly written = new Map<string, string>();
  private pending: Map<string, readonly SourceObject[]> | undefined;
  /**
   * Each object's stored JSON by its `raw` (the watcher hands out the same
   * `raw` until its file is read again): a publish serializes only what changed.
   */
  private readonly texts = new WeakMap<object, string>();
  private readonly writer = new SerialJob(() => this.writePending());
  /** The last write failed (cleared by one that succeeds). */
  failure: PersistFailure | undefined;

  constructor(
    stateDir: string,
    private readonly log: Logger,
  ) {
    this.dir = path.resolve(stateDir, 'last-good');
  }

  /** Where the copy of `file`'s objects lives. */
  pathOf(file: string): string {
    return path.join(this.dir, `${createHash('sha256').update(path.resolve(file)).digest('hex').slice(0, 24)}.json`);
  }

  /** The persisted objects by source file (absolute path; the objects name it so too). A copy that cannot be read is logged and skipped. */
  async load(): Promise<Map<string, SourceObject[]>> {
    const out = new Map<string, SourceObject[]>();
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') this.log.error({ dir: this.dir, err: errorMessage(err) }, 'cannot read the persisted last good config; starting without it');
      return [] as string[];
    });
    for (const name of names.filter((n) => n.endsWith('.json')).toSorted()) {
      const at = path.join(this.dir, name);
      try {
        const text = await readFile(at, 'utf8');
        const stored = JSON.parse(text) as StoredFile;
        if (stored.format !== FORMAT || typeof stored.file !== 'string' || !Array.isArray(stored.objects)) throw new Error('not a last good copy of this format');
        if (this.pathOf(stored.file) !== at) continue; // not written by this Trellis for this path
        out.set(stored.file, stored.objects.map((o) => restore(o, stored.file, at)));
        this.written.set(stored.file, text);
      } catch (err) {
        this.log.error({ file: at, err: errorMessage(err) }, 'a persisted last good copy cannot be read; it is ignored (and replaced at the next publish)');
      }
    }
    return out;
  }

  /**
   * Record the objects served now, by source file: every file named is
   * written if its objects changed; every stored file not named is removed.
   */
  save(byFile: ReadonlyMap<string, readonly SourceObject[]>): void {
    this.pending = new Map([...byFile].map(([file, objects]) => [path.resolve(file), objects]));
    void this.writer.run();
  }

  /** Resolves when every save asked for so far is on disk (or failed). */
  async idle(): Promise<void> {
    await this.writer.idle();
  }

  private textOf(obj: SourceObject): string {
    let text = this.texts.get(obj.raw);
    if (text === undefined) {
      text = storedText(obj);
      this.texts.set(obj.raw, text);
    }
    return text;
  }

  private async writePending(): Promise<void> {
    const byFile = this.pending;
    this.pending = undefined;
    if (!byFile) return;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      for (const [file, objects] of byFile) {
        const text = `{"format":${FORMAT},"file":${JSON.stringify(file)},"objects":[${objects.map((o) => this.textOf(o)).join(',')}]}`;
        if (objects.length === 0 || this.written.get(file) === text) continue;
        await writeFileAtomic(this.pathOf(file), text, 0o600);
        this.written.set(file, text);
      }
      for (const file of [...this.written.keys()]) {
        if ((byFile.get(file)?.length ?? 0) > 0) continue;
        await unlink(this.pathOf(file)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
        this.written.delete(file);
      }
      if (this.failure) this.log.warn({ dir: this.dir }, 'the last good config is persisted again');
      this.failure = undefined;
    } catch (err) {
      const message = errorMessage(err);
      if (this.failure?.message !== message) {
        this.log.error({ dir: this.dir, err: message }, 'cannot persist the last good config (it is still served; a restart with a broken file would not find it)');
      }
      this.failure = { message, sinceMs: this.failure?.sinceMs ?? Date.now() };
      // The next publish tries again; until then what is on disk is an older last good state.
    }
  }
}

function storedText(obj: SourceObject): string {
  return JSON.stringify(stored(obj));
}

function stored(obj: SourceObject): StoredObject {
  const { generation: _generation, ...metadata } = obj.metadata;
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata, raw: obj.raw as Record<string, unknown>, line: obj.origin.source === 'file' ? obj.origin.line : 1 };
}

function restore(o: StoredObject, file: string, persistedAt: string): SourceObject {
  // The file as it is now may have moved its lines: every field points at the object's line.
  return { apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata, raw: o.raw, origin: { source: 'file', file, line: o.line, fieldLine: () => o.line, persistedAt } };
}
