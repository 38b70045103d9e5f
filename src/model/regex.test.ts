/**
 * Issue 16 bug 6: regexes are checked with RE2 (the library Envoy uses) and
 * Envoy's program-size limit, not with JavaScript's RegExp. Each case is an
 * HTTPRouteGroup as an operator writes it; a refused pattern is reported on
 * its file, line, object and field with RE2's own words.
 */
import { describe, expect, it } from 'vitest';
import { formatProblem } from './problem.ts';
import { forLinkedRe2, RE2_MAX_PROGRAM_SIZE, regexProblem } from './regex.ts';
import { re2Check } from './re2.ts';
import { AT_LIMIT, brief, buildWith, OVER_LIMIT, problemsOf } from './testing.ts';

/** The route group with `pattern` as pathRegex (line 7) and as a header value (line 8). */
const group = (pattern: string) => `apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: routes, namespace: demo}
spec:
  matches:
  - name: m
    pathRegex: '${pattern.replaceAll("'", "''")}'
    headers: [{x-id: '${pattern.replaceAll("'", "''")}'}]
`;


const refused: { pattern: string; says: string }[] = [
  { pattern: 'a{1001}', says: 'RE2 rejects it: invalid repetition size: {1001}' },
  { pattern: String.raw`\u0041`, says: String.raw`invalid escape sequence: \u (RE2 writes a code point as \x{0041})` },
  { pattern: String.raw`/api\Z`, says: String.raw`invalid escape sequence: \Z` },
  { pattern: String.raw`\cA`, says: String.raw`invalid escape sequence: \c` },
  { pattern: String.raw`\p{L}`, says: `RE2 program size 1197 exceeds Envoy's limit of ${RE2_MAX_PROGRAM_SIZE}` },
  { pattern: OVER_LIMIT, says: `RE2 program size 105 exceeds Envoy's limit of ${RE2_MAX_PROGRAM_SIZE}; simplify the pattern` },
  { pattern: '/(?!admin).*', says: 'no lookahead or lookbehind' },
  { pattern: '(?<=a)b', says: 'no lookahead or lookbehind' },
  { pattern: String.raw`(a)\1`, says: 'no backreferences' },
  { pattern: '/api/(', says: 'RE2 rejects it: missing )' },
  { pattern: String.raw`\p{Kawi}`, says: 'grpc-js' },
];

const accepted = ['(?i)abc', '(?P<name>x)', '(?<name>x)', '/api/.*', String.raw`\x{41}`, String.raw`\Q.*\E`, '[[:alpha:]]+', 'a{96}', AT_LIMIT];

describe('issue 16 bug 6: regexes Envoy would NACK are refused with RE2\'s reason', () => {
  it.each(refused)('refuses $pattern where it is written: file, line, object, field', ({ pattern, says }) => {
    const problems = problemsOf(buildWith(group(pattern)));
    expect(problems.map(brief)).toEqual([
      { severity: 'error', reason: 'InvalidRegex', kind: 'HTTPRouteGroup', namespace: 'demo', name: 'routes', field: 'spec.matches[0].pathRegex', file: 'intents.yaml', line: 7 },
      { severity: 'error', reason: 'InvalidRegex', kind: 'HTTPRouteGroup', namespace: 'demo', name: 'routes', field: 'spec.matches[0].headers[0].x-id', file: 'intents.yaml', line: 8 },
    ]);
    const text = formatProblem(problems[0]!);
    expect(text).toMatch(/^intents\.yaml:7: HTTPRouteGroup demo\/routes: spec\.matches\[0\]\.pathRegex: /);
    expect(text).toContain(says);
  });

  it.each(accepted)('accepts %s, which RE2 and Envoy accept', (pattern) => {
    expect(problemsOf(buildWith(group(pattern)))).toEqual([]);
  });

  it('the size limit is inclusive, as in Envoy (size > limit is refused)', () => {
    expect(re2Check(AT_LIMIT)).toEqual({ ok: true, programSize: RE2_MAX_PROGRAM_SIZE });
    expect(regexProblem(AT_LIMIT)).toBeUndefined();
  });

  it('the method regexes Trellis writes itself fit the limit (all nine methods)', () => {
    const all = '^(GET|HEAD|PUT|POST|DELETE|CONNECT|OPTIONS|TRACE|PATCH)$';
    expect(regexProblem(all)).toBeUndefined();
  });
});

describe('(?<name>…) is spelt (?P<name>…) for the linked libre2, and only there', () => {
  it.each([
    ['(?<id>[0-9]+)', '(?P<id>[0-9]+)'],
    ['(?<=a)(?<!b)', '(?<=a)(?<!b)'],
    [String.raw`\(?<a>`, String.raw`\(?<a>`],
    ['[(?<a>]', '[(?<a>]'],
    ['[](?<a>]', '[](?<a>]'],
    ['[[:alpha:]](?<a>x)', '[[:alpha:]](?P<a>x)'],
    [String.raw`\Q(?<a>\E(?<b>x)`, String.raw`\Q(?<a>\E(?P<b>x)`],
  ])('%s -> %s', (pattern, want) => {
    expect(forLinkedRe2(pattern)).toBe(want);
  });
});
