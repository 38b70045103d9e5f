/**
 * Parses one YAML file into source objects, remembering the line of every
 * field. Pure: text in, objects and errors out; never throws on input.
 *
 * A file holds any number of documents (`---`). Empty documents are skipped;
 * a `v1 List` is expanded into its items, as kubectl does. A file or an
 * object over the size limits (limits.ts) is an error, never parsed further.
 */
import { LineCounter, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Node } from 'yaml';
import { childPath } from '../../model/field-path.ts';
import { fieldLineLookup, type SourceError, type SourceObject } from '../../model/object.ts';
import { errorMessage } from '../../errors.ts';
import { MAX_FILE_BYTES, MAX_OBJECT_BYTES, objectTooLargeMessage, tooLargeMessage } from './limits.ts';

export interface ParsedFile {
  objects: SourceObject[];
  /** Non-empty when any document is unusable; the watcher then keeps the file's last good objects. */
  errors: SourceError[];
}

export function parseYamlFile(file: string, text: string): ParsedFile {
  // Readers refuse such a file before reading it; this guards any other caller.
  const size = Buffer.byteLength(text);
  if (size > MAX_FILE_BYTES) return { objects: [], errors: [{ file, line: 1, message: tooLargeMessage(size, MAX_FILE_BYTES) }] };
  const lineCounter = new LineCounter();
  const lineOf = (offset: number): number => lineCounter.linePos(offset).line;
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const objects: SourceObject[] = [];
  const errors: SourceError[] = [];
  if (!Array.isArray(docs)) return { objects, errors }; // an empty stream

  docs.forEach((doc, index) => {
    const document = index + 1;
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        errors.push({ file, line: lineOf(err.pos[0]), document, message: `YAML syntax: ${firstLine(err.message)}` });
      }
      return;
    }
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null)) return; // empty document
    const docLine = lineOf(contents.range?.[0] ?? 0);
    if (!isMap(contents)) {
      errors.push({ file, line: docLine, document, message: 'a document must be a mapping with apiVersion, kind and metadata' });
      return;
    }
    const isList = scalarOf(contents.get('kind', true)) === 'List' && scalarOf(contents.get('apiVersion', true)) === 'v1';
    if (!isList && tooLarge(contents, docLine, document)) return;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // toJS throws on alias abuse ("billion laughs") and unresolvable aliases.
      errors.push({ file, line: docLine, document, message: `YAML: ${errorMessage(err)}` });
      return;
    }
    const lines = new Map<string, number>();
    recordLines(contents, '', lines, lineOf);
    const root = value as Record<string, unknown>;
    if (root.kind === 'List' && root.apiVersion === 'v1' && Array.isArray(root.items)) {
      const itemNodes = contents.get('items', true);
      root.items.forEach((item: unknown, i: number) => {
        const prefix = childPath('items', i);
        const node = isSeq(itemNodes) ? itemNodes.items[i] : undefined;
        if (node && typeof node === 'object' && 'range' in node && tooLarge(node as Node, lines.get(prefix) ?? docLine, document)) return;
        const itemLines = new Map<string, number>();
        for (const [path, line] of lines) {
          if (path === prefix) itemLines.set('', line);
          else if (path.startsWith(prefix + '.') || path.startsWith(prefix + '[')) {
            itemLines.set(path.slice(prefix.length).replace(/^\./, ''), line);
          }
        }
        toObject(file, document, item, itemLines, lines.get(prefix) ?? docLine, objects, errors);
      });
      return;
    }
    toObject(file, document, value, lines, docLine, objects, errors);
  });
  return { objects, errors };

  /** An object over MAX_OBJECT_BYTES (its YAML text) becomes an error naming it. */
  function tooLarge(node: Node, line: number, document: number): boolean {
    const [start, , end] = node.range ?? [0, 0, 0];
    const bytes = Buffer.byteLength(text.slice(start, end));
    if (bytes <= MAX_OBJECT_BYTES) return false;
    errors.push({ file, line, document, ...identity(node), message: objectTooLargeMessage(bytes, MAX_OBJECT_BYTES) });
    return true;
  }
}

/** kind, name and namespace of an object's node, as far as they are plain strings. */
function identity(node: Node): { kind?: string; name?: string; namespace?: string } {
  if (!isMap(node)) return {};
  const meta = node.get('metadata', true);
  const at = (v: unknown) => {
    const value = scalarOf(v);
    return typeof value === 'string' ? value : undefined;
  };
  const [kind, name, namespace] = [at(node.get('kind', true)), isMap(meta) ? at(meta.get('name', true)) : undefined, isMap(meta) ? at(meta.get('namespace', true)) : undefined];
  return { ...(kind ? { kind } : {}), ...(name ? { name } : {}), ...(namespace ? { namespace } : {}) };
}

function scalarOf(node: unknown): unknown {
  return isScalar(node) ? node.value : undefined;
}

/** Checks a document has what identifies an object and builds the SourceObject. */
function toObject(
  file: string,
  document: number,
  value: unknown,
  lines: Map<string, number>,
  line: number,
  objects: SourceObject[],
  errors: SourceError[],
): void {
  const fieldLine = fieldLineLookup(lines, lines.get('') ?? line);
  const fail = (field: string, message: string, known: { kind?: string; name?: string; namespace?: string } = {}): void => {
    errors.push({ file, line: fieldLine(field), document, field, message, ...known });
  };
  if (!isRecord(value)) return fail('', 'a document must be a mapping with apiVersion, kind and metadata');
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    return fail('apiVersion', 'apiVersion is required: a string such as "v1" or "split.smi-spec.io/v1alpha4"', { kind: str(kind) });
  }
  if (typeof kind !== 'string' || kind === '') {
    return fail('kind', 'kind is required: a string such as "Service" or "TrafficSplit"');
  }
  if (!isRecord(metadata)) return fail('metadata', 'metadata is required: a mapping with at least name', { kind });
  const { name, namespace } = metadata;
  if (typeof name !== 'string' || name === '') {
    return fail('metadata.name', 'metadata.name is required: a non-empty string', { kind });
  }
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    return fail('metadata.namespace', 'metadata.namespace must be a string', { kind, name });
  }
  const generation = metadata.generation;
  objects.push({
    apiVersion,
    kind,
    metadata: {
      name,
      ...(typeof namespace === 'string' && namespace !== '' ? { namespace } : {}),
      labels: stringEntries(metadata.labels),
      annotations: stringEntries(metadata.annotations),
      ...(typeof generation === 'number' ? { generation } : {}),
      ...(typeof metadata.creationTimestamp === 'string' ? { creationTimestamp: metadata.creationTimestamp } : {}),
    },
    raw: value,
    origin: { source: 'file', file, line: lines.get('') ?? line, fieldLine },
  });
}

/**
 * Records the line of every field: a map entry's line is its key's line (where
 * an operator looks for it), a sequence item's line is where the item starts.
 */
function recordLines(node: Node, path: string, lines: Map<string, number>, lineOf: (offset: number) => number): void {
  if (node.range && !lines.has(path)) lines.set(path, lineOf(node.range[0]));
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const child = childPath(path, key);
      const keyNode = pair.key as Node | null;
      if (keyNode?.range) lines.set(child, lineOf(keyNode.range[0]));
      if (pair.value && typeof pair.value === 'object' && 'range' in pair.value) {
        recordLines(pair.value as Node, child, lines, lineOf);
      }
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      if (item && typeof item === 'object' && 'range' in item) recordLines(item as Node, childPath(path, i), lines, lineOf);
    });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Labels and annotations as given; non-string values are the model's to report. */
function stringEntries(v: unknown): Record<string, string> {
  if (!isRecord(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
