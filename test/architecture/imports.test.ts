/**
 * Imports follow the flow of DESIGN.md: the allowed directions are written
 * once, in the README's `layers` block, and every relative import in src/
 * is checked against them. A new folder must be added there first.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');
/** The rule key of what unit tests and testing.ts helpers may import besides their folder's own rule. */
const TESTS = '(tests)';
const isTestCode = (file: string) => file.endsWith('.test.ts') || path.basename(file) === 'testing.ts';

/** `unit -> allowed units`, parsed from the README. A unit is a folder (`model/`) or a file at the top of src/ (`log.ts`). */
function readLayers(): Map<string, Set<string>> {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /```layers\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no ```layers block');
  const rules = new Map<string, Set<string>>();
  for (const raw of block[1]!.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    if (line.startsWith('tests')) {
      rules.set(TESTS, new Set(line.split('+>')[1]!.trim().split(/\s+/)));
      continue;
    }
    const [left, right = ''] = line.split('->');
    const allowed = right.trim().split(/\s+/).filter(Boolean);
    for (const unit of left!.trim().split(/\s+/)) rules.set(unit, new Set(allowed));
  }
  return rules;
}

function unitOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? rel[0]! : `${rel[0]}/`;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

export function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) out.push(path.resolve(path.dirname(file), (m[1] ?? m[2])!));
  return out;
}

/** Every import from one unit into another that the layers do not allow, as `from -> to (file)`. */
export function violations(rules: Map<string, Set<string>>, files: string[]): string[] {
  const bad: string[] = [];
  for (const file of files) {
    const from = unitOf(file);
    for (const target of importsOf(file)) {
      if (!target.startsWith(SRC + path.sep)) continue;
      const to = unitOf(target);
      if (to === from) continue;
      const allowed = rules.get(from);
      if (!allowed) bad.push(`${path.relative(ROOT, file)}: ${from} is not in the README's layers block`);
      else if (!allowed.has(to) && !(isTestCode(file) && rules.get(TESTS)?.has(to))) bad.push(`${path.relative(ROOT, file)}: ${from} -> ${to} (${path.relative(ROOT, target)}) runs against the flow`);
    }
  }
  return bad;
}

describe('imports follow the flow (README layers)', () => {
  const rules = readLayers();
  const files = sourceFiles(SRC);

  it('every folder and top-level file of src/ has a rule', () => {
    const units = new Set(files.map(unitOf));
    expect([...units].filter((u) => !rules.has(u))).toEqual([]);
    expect(rules.has(TESTS)).toBe(true);
  });

  it('no import of src/ runs against the flow', () => {
    expect(violations(rules, files)).toEqual([]);
  });

  it('the layers have no cycle', () => {
    const cycles: string[] = [];
    const visit = (unit: string, trail: string[]) => {
      if (trail.includes(unit)) return cycles.push([...trail.slice(trail.indexOf(unit)), unit].join(' -> '));
      for (const next of rules.get(unit) ?? []) visit(next, [...trail, unit]);
    };
    for (const unit of rules.keys()) if (unit !== TESTS) visit(unit, []);
    expect(cycles).toEqual([]);
  });

  it('catches an import against the flow (the check itself can fail)', () => {
    // model/ importing sources/ was the cycle this check was written for;
    // book.ts imports identity/, which a model without that rule may not.
    const probe = path.join(SRC, 'model', 'resolve', 'book.ts');
    const fake = new Map(rules);
    fake.set('model/', new Set<string>());
    expect(violations(fake, [probe])).toEqual([expect.stringContaining('model/ -> identity/')]);
  });
});
