/**
 * The source-neutral object: what every source (the file watcher, and later
 * the Kubernetes informers) hands to the model. It is the object as the
 * operator wrote it (`raw`), with its identity lifted out and, for the file
 * source, where each field was written so a problem can point at `file:line`.
 *
 * Contract for sources: `raw` is plain data (JSON-compatible: objects, arrays,
 * strings, numbers, booleans, null) and is never mutated after it is handed
 * over; the model only reads it.
 */
import { parentPath } from './field-path.ts';

export interface ObjectMeta {
  name: string;
  /** Absent for cluster-scoped kinds and for namespaced objects written without one (the model defaults it). */
  namespace?: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /**
   * Bumped by the source each time the object's content changes (the API
   * server does this for Kubernetes; the file watcher does it for files).
   */
  generation?: number;
  /** RFC 3339; orders conflicting intents (oldest wins) when the source knows it. */
  creationTimestamp?: string;
}

/** Where an object written in a file came from. */
export interface FileOrigin {
  source: 'file';
  file: string;
  /** 1-based line of the object's first field. */
  line: number;
  /**
   * 1-based line of the field at `path` (see field-path.ts), or of its closest
   * written ancestor when the field itself is absent (a missing required
   * field points at the mapping that should hold it).
   */
  fieldLine(path: string): number;
  /**
   * Set on an object restored from the copy of its last accepted version the
   * runtime persisted (that copy's path), when the file no longer yields it
   * at start: status then says where the served version comes from.
   */
  persistedAt?: string;
}

export interface KubernetesOrigin {
  source: 'kubernetes';
  uid?: string;
  resourceVersion?: string;
}

export type Origin = FileOrigin | KubernetesOrigin;

export interface SourceObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  /** The whole object as written, including apiVersion, kind and metadata. */
  raw: Readonly<Record<string, unknown>>;
  origin: Origin;
}

/** A file position and its line, or nothing for sources without files. */
export function locate(origin: Origin, path: string): { file?: string; line?: number } {
  if (origin.source !== 'file') return {};
  return { file: origin.file, line: origin.fieldLine(path) };
}

/** Builds `fieldLine` from a map of every written path to its line. */
export function fieldLineLookup(lines: ReadonlyMap<string, number>, objectLine: number): (path: string) => number {
  return (path: string): number => {
    for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
      const line = lines.get(p);
      if (line !== undefined) return line;
    }
    return objectLine;
  };
}

/**
 * A problem a source found before there was an object to hang it on: YAML
 * that does not parse, a document that is not a mapping or lacks apiVersion,
 * kind or metadata.name, a file that cannot be read.
 */
export interface SourceError {
  file: string;
  line: number;
  /** What is known of the document, to name it in the message. */
  kind?: string;
  name?: string;
  namespace?: string;
  /** 1-based index of the document within its file. */
  document?: number;
  field?: string;
  message: string;
}
