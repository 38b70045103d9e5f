import { describe, expect, it } from 'vitest';
import { childPath } from '../../model/field-path.ts';
import type { SourceObject } from '../../model/object.ts';
import { DocumentCache, splitDocuments } from './documents.ts';
import { parseYamlFile, type ParsedFile } from './parse.ts';

const FILE = 'intents.yaml';

/** A TrafficPolicy document as an operator writes it; `extra` lines go into its spec. */
const policy = (name: string, maxConnections = 100, extra = '') => `apiVersion: trellis.io/v1alpha1
kind: TrafficPolicy
metadata:
  name: ${name}
  namespace: shop
spec:
  targetRef: {kind: Service, name: ${name}}
  circuitBreaker:
    maxConnections: ${maxConnections}
${extra}`;

const FIVE = [policy('a'), policy('b'), policy('c'), policy('d'), policy('e')];
const join = (docs: readonly string[]) => docs.join('---\n');

/** Every written path of an object (from its raw content) with its line, plus one path never written. */
function fieldLines(obj: SourceObject): Record<string, number> {
  if (obj.origin.source !== 'file') throw new Error('expected a file origin');
  const out: Record<string, number> = {};
  const walk = (v: unknown, path: string): void => {
    out[path] = (obj.origin as { fieldLine(p: string): number }).fieldLine(path);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, childPath(path, i)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, childPath(path, k));
  };
  walk(obj.raw, '');
  out['spec.notWritten[3].field'] = obj.origin.fieldLine('spec.notWritten[3].field');
  return out;
}

/** What a parse gives, as data: objects with every field's line, and the errors. */
function view(parsed: ParsedFile) {
  return {
    objects: parsed.objects.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata, raw: o.raw, origin: o.origin.source === 'file' ? { file: o.origin.file, line: o.origin.line } : o.origin, lines: fieldLines(o) })),
    errors: parsed.errors,
  };
}

describe('issue 14: a file parsed per document gives what the whole-file parse gives', () => {
  const cases: { name: string; text: string }[] = [
    { name: 'documents without a leading marker (as `yaml` stringify joins them)', text: join(FIVE) },
    { name: 'a leading comment and marker, empty documents between', text: `# intents\n---\n${policy('a')}---\n---\n# nothing here\n---\n${policy('b')}` },
    { name: 'content on the marker line (`--- {...}`), a tab after a marker', text: `--- {apiVersion: v1, kind: ServiceAccount, metadata: {name: a}}\n---\t\n${policy('b')}` },
    { name: 'a block scalar holding an indented `---` (not a marker)', text: `${policy('a')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  x: |\n    ---\n    y\n---\n${policy('b')}` },
    { name: '`---b` at column 0 is a key, not a marker', text: `${policy('a')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---b: 1\n` },
    { name: 'anchors and aliases within a document', text: `${policy('a')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: &l {app: c}}\ndata: {x: *l}\n` },
    { name: 'CRLF line ends', text: join(FIVE).replaceAll('\n', '\r\n') },
    { name: 'a v1 List among documents', text: `${policy('a')}---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: x}\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: y}\n---\n${policy('b')}` },
    { name: 'no newline at the end', text: join(FIVE).trimEnd() },
    // Whole-file fallbacks: the result must still be the same.
    { name: 'a `...` document end marker (whole file)', text: `${policy('a')}...\n---\n${policy('b')}` },
    { name: 'a %YAML directive (whole file)', text: `%YAML 1.2\n---\n${policy('a')}---\n${policy('b')}` },
    { name: 'a byte-order mark (whole file)', text: `\ufeff${join(FIVE)}` },
    // Errors: the whole file's errors, with its lines and document numbers.
    { name: 'a syntax error in the third document', text: join([policy('a'), policy('b'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [web\n', policy('d')]) },
    { name: 'a document without metadata.name', text: join([policy('a'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {}\n', policy('c')]) },
    { name: 'a block scalar cut by a `---` at column 0', text: `${policy('a')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  x: |\n    y\n---\n  z\n` },
    { name: 'a duplicate key in the last document', text: join([policy('a'), 'apiVersion: v1\nkind: Service\nkind: Pod\nmetadata: {name: a}\n']) },
  ];
  it.each(cases)('$name', ({ text }) => {
    const fresh = parseYamlFile(FILE, text);
    expect(view(new DocumentCache(FILE).parse(text))).toEqual(view(fresh));
    // And after another version of the file was parsed first (documents reused, moved).
    const cache = new DocumentCache(FILE);
    cache.parse(join([policy('z'), ...FIVE]));
    expect(view(cache.parse(text))).toEqual(view(fresh));
  });

  it('splits at markers only: directives and end markers are not split', () => {
    expect(splitDocuments(join(FIVE))?.map((d) => d.line)).toEqual([1, 11, 21, 31, 41]);
    expect(splitDocuments('--- {a: 1}\n---\n---\nb: 1\n')).toEqual([{ text: '--- {a: 1}\n', line: 1 }, { text: 'b: 1\n', line: 4 }]);
    expect(splitDocuments('a: 1\n...\n')).toBeUndefined();
    expect(splitDocuments('%TAG ! tag:x,2000:\n---\na: 1\n')).toBeUndefined();
  });
});

describe('issue 14: an edit re-parses only the documents it changed', () => {
  const parseAfter = (before: string, after: string) => {
    const cache = new DocumentCache(FILE);
    const first = cache.parse(before);
    return { first, second: cache.parse(after), fresh: parseYamlFile(FILE, after) };
  };
  const rawOf = (p: ParsedFile, name: string) => p.objects.find((o) => o.metadata.name === name)!.raw;

  const edits: { name: string; after: string; reparsed: string[] }[] = [
    { name: 'one document edited, two lines longer', after: join([policy('a'), policy('b'), policy('c', 200, '  locality:\n    mode: PreferSameZone\n'), policy('d'), policy('e')]), reparsed: ['c'] },
    { name: 'one document removed', after: join([policy('a'), policy('c'), policy('d'), policy('e')]), reparsed: [] },
    { name: 'one document added at the top', after: join([policy('new'), ...FIVE]), reparsed: ['new'] },
    { name: 'documents reordered', after: join([policy('e'), policy('d'), policy('c'), policy('b'), policy('a')]), reparsed: [] },
  ];
  it.each(edits)('$name: same result as a fresh parse, unchanged documents not parsed again', ({ after, reparsed }) => {
    const { first, second, fresh } = parseAfter(join(FIVE), after);
    expect(view(second)).toEqual(view(fresh));
    for (const o of second.objects) {
      const name = o.metadata.name;
      if (reparsed.includes(name)) continue;
      expect(o.raw, `${name} is the object parsed before`).toBe(rawOf(first, name));
    }
  });

  it('an unchanged document at an unchanged line is the very same object', () => {
    const { first, second } = parseAfter(join(FIVE), join([policy('a'), policy('b'), policy('c'), policy('d'), policy('e', 300)]));
    expect(second.objects.slice(0, 4)).toEqual(first.objects.slice(0, 4));
    second.objects.slice(0, 4).forEach((o, i) => expect(o).toBe(first.objects[i]));
  });

  it('a document moved down keeps its content and reports its new lines', () => {
    const { second } = parseAfter(join(FIVE), join([policy('a', 100, '  locality:\n    mode: PreferSameZone\n'), policy('b'), policy('c'), policy('d'), policy('e')]));
    const e = second.objects[4]!;
    expect(e.origin).toMatchObject({ line: 43 });
    expect(e.origin.source === 'file' && e.origin.fieldLine('spec.circuitBreaker.maxConnections')).toBe(51);
  });

  it('an invalid edit reports the whole file’s errors; after the fix only the fixed document is parsed again', () => {
    const cache = new DocumentCache(FILE);
    const first = cache.parse(join(FIVE));
    const broken = join([policy('a'), policy('b'), policy('c').replace('maxConnections: 100', 'maxConnections: [100'), policy('d'), policy('e')]);
    const bad = cache.parse(broken);
    expect(view(bad)).toEqual(view(parseYamlFile(FILE, broken)));
    expect(bad.errors[0]).toMatchObject({ file: FILE, document: 3, line: 30 });
    const fixed = join([policy('a'), policy('b'), policy('c', 150), policy('d'), policy('e')]);
    const good = cache.parse(fixed);
    expect(view(good)).toEqual(view(parseYamlFile(FILE, fixed)));
    for (const name of ['a', 'b', 'd', 'e']) expect(rawOf(good, name)).toBe(rawOf(first, name));
  });
});
