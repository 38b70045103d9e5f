/**
 * Re-parsing only the YAML documents of a file that changed (issue 14: a
 * one-line edit of a 3,000-document intents file re-parsed all of it).
 *
 * A `---` at column 0 followed by a space, a tab or the line's end is a
 * document start wherever it appears (YAML 1.2 §9.1.2, c-forbidden: it ends
 * a block scalar, a quoted scalar or a flow collection too), and the `yaml`
 * package's lexer treats it so (parseLineStart). Splitting the text at such
 * lines gives the documents the whole-file parse sees. What the split cannot
 * reproduce, the whole file is parsed for, exactly as before:
 * - directives (`%YAML`, `%TAG`: they reach into the next document) and
 *   document end markers (`...`) anywhere at column 0, and a byte-order mark;
 * - any document with a problem, so every error keeps today's file:line,
 *   document number and text (a truncated document's error would point
 *   elsewhere than the whole file's);
 * - a file of one document (nothing to reuse).
 * Anchors and aliases are per document in YAML, so a document means the same
 * alone as in its file.
 *
 * Each document's objects are kept by its text, with lines counted from the
 * document's start, and moved to where the document is now in the file: an
 * edit above it changes its lines, never its objects' content. An unchanged
 * document at an unchanged line yields the very same SourceObjects, so the
 * model's per-object caches (decode) find them again.
 */
import type { SourceObject } from '../../model/object.ts';
import { MAX_FILE_BYTES } from './limits.ts';
import { parseYamlFile, type ParsedFile } from './parse.ts';

/** One document's text (after its `---` line, when that line holds nothing else) and the 1-based line of the file it starts on. */
export interface DocumentText {
  text: string;
  line: number;
}

/**
 * The file's documents, split at `---` lines; undefined when the text holds
 * anything a split would read differently than the whole-file parse.
 */
export function splitDocuments(text: string): DocumentText[] | undefined {
  if (text.charCodeAt(0) === 0xfeff) return undefined;
  const out: DocumentText[] = [];
  let start = 0;
  let startLine = 1;
  let line = 1;
  for (let at = 0; at < text.length; ) {
    const c = text.charCodeAt(at);
    if (c === 0x25 /* % */) return undefined;
    if ((c === 0x2d /* - */ || c === 0x2e) /* . */ && isMarker(text, at, c === 0x2d ? '---' : '...')) {
      if (c === 0x2e) return undefined;
      if (at > start) out.push({ text: text.slice(start, at), line: startLine });
      start = at;
      startLine = line;
    }
    const nl = text.indexOf('\n', at);
    if (nl < 0) break;
    // A bare marker line is left out of the document's text, so a document reads the same with or without one before it.
    if (start === at && c === 0x2d && /^---[ \t\r]*$/.test(text.slice(at, nl))) {
      start = nl + 1;
      startLine = line + 1;
    }
    at = nl + 1;
    line++;
  }
  if (start < text.length) out.push({ text: text.slice(start), line: startLine });
  return out;
}

function isMarker(text: string, at: number, marker: string): boolean {
  if (!text.startsWith(marker, at)) return false;
  const next = text[at + 3];
  return next === undefined || next === ' ' || next === '\t' || next === '\n' || next === '\r';
}

interface CachedDocument {
  /** parseYamlFile of the document's text alone: lines from its start. */
  parsed: ParsedFile;
  /** The objects moved to a line of the file, kept for the next parse at the same place. */
  placed?: { line: number; objects: SourceObject[] };
}

/**
 * One file's documents as last parsed, by text. parse() gives what
 * parseYamlFile(file, text) gives, reusing every document seen in the
 * previous successful parse.
 */
export class DocumentCache {
  private documents = new Map<string, CachedDocument>();

  constructor(private readonly file: string) {}

  parse(text: string): ParsedFile {
    const docs = Buffer.byteLength(text) <= MAX_FILE_BYTES ? splitDocuments(text) : undefined;
    if (!docs || docs.length < 2) {
      this.documents = new Map();
      return parseYamlFile(this.file, text);
    }
    const next = new Map<string, CachedDocument>();
    const objects: SourceObject[] = [];
    for (const doc of docs) {
      let cached = next.get(doc.text) ?? this.documents.get(doc.text);
      if (!cached) cached = { parsed: parseYamlFile(this.file, doc.text) };
      // Keep the last good documents: after a fix, only the fixed one is parsed again.
      if (cached.parsed.errors.length > 0) return parseYamlFile(this.file, text);
      next.set(doc.text, cached);
      objects.push(...placedAt(cached, doc.line));
    }
    this.documents = next;
    return { objects, errors: [] };
  }
}

/** The document's objects with lines counted from the file's start. */
function placedAt(doc: CachedDocument, line: number): SourceObject[] {
  if (doc.placed?.line === line) return doc.placed.objects;
  const shift = line - 1;
  const objects = shift === 0 ? doc.parsed.objects : doc.parsed.objects.map((o) => shifted(o, shift));
  doc.placed = { line, objects };
  return objects;
}

function shifted(obj: SourceObject, shift: number): SourceObject {
  const origin = obj.origin;
  if (origin.source !== 'file') return obj;
  const fieldLine = origin.fieldLine;
  return { ...obj, origin: { ...origin, line: origin.line + shift, fieldLine: (path: string) => fieldLine(path) + shift } };
}
