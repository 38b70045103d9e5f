/**
 * One-shot loading of files and directories of Kubernetes-shaped YAML: what
 * `trellis validate` reads and what the watcher reads on start. A file that
 * cannot be read becomes an error for that file, never an exception.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceError, SourceObject } from '../../model/object.ts';
import { errorMessage } from '../../errors.ts';
import { MAX_FILE_BYTES, tooLargeMessage } from './limits.ts';
import { parseYamlFile } from './parse.ts';

export interface LoadedFile {
  file: string;
  objects: SourceObject[];
  errors: SourceError[];
}

export interface LoadResult {
  files: LoadedFile[];
  objects: SourceObject[];
  errors: SourceError[];
}

/** Whether a file name is one the file source reads. */
export function isYamlFile(name: string): boolean {
  // Dotfiles are skipped: editors keep swap and lock files (`.#a.yaml`) beside the real one.
  return !name.startsWith('.') && (name.endsWith('.yaml') || name.endsWith('.yml'));
}

/**
 * Every YAML file under `root`, recursively, sorted, so objects always come in
 * the same order. Hidden directories are skipped; symbolic links to files are
 * followed, links to directories are not (they could loop).
 */
export async function listYamlFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // removed while we walked: it simply has no files now
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.')) await walk(path);
      } else if (isYamlFile(entry.name)) {
        if (entry.isFile()) out.push(path);
        else if (entry.isSymbolicLink()) {
          const target = await stat(path).catch(() => undefined);
          if (target?.isFile()) out.push(path);
        }
      }
    }
  }
  await walk(root);
  return out.toSorted();
}

export async function loadFile(file: string): Promise<LoadedFile> {
  let text: string;
  try {
    // A file over the limit is refused before it is read (limits.ts).
    const { size } = await stat(file);
    if (size > MAX_FILE_BYTES) return { file, objects: [], errors: [{ file, line: 1, message: tooLargeMessage(size, MAX_FILE_BYTES) }] };
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { file, objects: [], errors: [{ file, line: 1, message: `cannot read file: ${errorMessage(err)}` }] };
  }
  return { file, ...parseYamlFile(file, text) };
}

/**
 * Loads files and directories (recursively). A file named explicitly is read
 * whatever its extension; inside directories only `.yaml`/`.yml` files are.
 */
export async function loadPaths(paths: readonly string[]): Promise<LoadResult> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) files.push(...(await listYamlFiles(path)));
    else files.push(path);
  }
  const unique = [...new Set(files)];
  const loaded = await Promise.all(unique.map(loadFile));
  return {
    files: loaded,
    objects: loaded.flatMap((f) => f.objects),
    errors: loaded.flatMap((f) => f.errors),
  };
}
