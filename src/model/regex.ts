/**
 * Which regexes Trellis accepts: exactly those Envoy's `safe_regex` accepts.
 * Envoy compiles each with RE2 and, after compiling, refuses any whose RE2
 * program is larger than the runtime key `re2.max_program_size.error_level`
 * (source/common/common/regex.cc); a refused regex NACKs the whole listener or
 * route configuration and the sidecar keeps its stale config (issue 16 bug 6).
 * So the check is RE2 itself (./re2.ts) plus that limit, never JS RegExp.
 *
 * Proxyless gRPC clients: C-core (grpcio) compiles with RE2 too; grpc-js
 * compiles with re2-wasm, an older RE2 that accepts a superset of Envoy's
 * syntax except Unicode 15's scripts (\p{Kawi}, \p{Nag_Mundari}), refused here
 * for that reason, and anchors as `^regex$` (translate/match.ts wholeValueRegex
 * keeps a top-level `|` whole). See docs/intents.md "Regular expressions".
 */
import type { Field } from './field.ts';
import { re2Check, Re2MissingError } from './re2.ts';

/**
 * Envoy's default for `re2.max_program_size.error_level`, and what the
 * bootstrap `trellis bootstrap` writes pins it to (translate/bootstrap.ts), so
 * a newer Envoy with another default still agrees with this check.
 */
export const RE2_MAX_PROGRAM_SIZE = 100;

export const REGEX_EXPECTED = 'an RE2 regular expression (the syntax Envoy uses), e.g. "/api/.*"';

/** undefined when Envoy (and gRPC) accept the pattern, else the whole message for the operator. */
export function regexProblem(pattern: string): string | undefined {
  let verdict;
  try {
    verdict = re2Check(forLinkedRe2(pattern));
  } catch (err) {
    if (err instanceof Re2MissingError) return `cannot check this regex: ${err.message}`;
    throw err;
  }
  if (!verdict.ok) return `RE2 rejects it: ${verdict.error}${hint(verdict.error)}; expected ${REGEX_EXPECTED}`;
  if (verdict.programSize > RE2_MAX_PROGRAM_SIZE) {
    return `RE2 program size ${verdict.programSize} exceeds Envoy's limit of ${RE2_MAX_PROGRAM_SIZE}; simplify the pattern (fewer repetitions, alternatives and Unicode classes)`;
  }
  const script = UNICODE_15_SCRIPT.exec(pattern);
  if (script) return `gRPC's RE2 (grpc-js) does not know the Unicode script ${script[1]}; list its characters instead`;
  return undefined;
}

/** Reports an invalid regex on `field` (reason InvalidRegex); true when the pattern is good. */
export function checkRegexField(field: Field, pattern: string): boolean {
  const problem = regexProblem(pattern);
  if (problem) field.report('InvalidRegex', problem);
  return problem === undefined;
}

// Scripts added in Unicode 15, after the RE2 in grpc-js's re2-wasm.
const UNICODE_15_SCRIPT = /(?<!\\)(?:\\\\)*\\[pP]\{\^?(Kawi|Nag_Mundari)\}/;

/** What RE2 says, followed by how to write it in RE2 where the cause is a common JS/PCRE habit. */
function hint(error: string): string {
  for (const [re, text] of HINTS) if (re.test(error)) return ` (${text})`;
  return '';
}

const HINTS: readonly [RegExp, string][] = [
  [/escape sequence: \\u/, 'RE2 writes a code point as \\x{0041}'],
  [/escape sequence: \\Z/, 'RE2 has no \\Z: use \\z or $'],
  [/escape sequence: \\c/, 'RE2 has no \\cX control escapes: write \\x01'],
  [/escape sequence: \\[1-9k]/, 'RE2 has no backreferences'],
  [/perl operator: \(\?<?[=!]|perl operator: \(\?<$/, 'RE2 has no lookahead or lookbehind'],
  [/repetition size/, 'RE2 repeats at most 1000 times'],
];

/**
 * Envoy's RE2 (2024-07-02) accepts `(?<name>x)`; Debian bookworm's libre2
 * (2022-06-01), which the checker links, knows only `(?P<name>x)`, the same
 * group with the same program. So `(?<` + name is spelt `(?P<` before
 * checking; lookbehind `(?<=`/`(?<!` is left for RE2 to refuse. Escapes,
 * `\Q…\E` and classes are skipped: `(?<` there is not a group.
 */
export function forLinkedRe2(pattern: string): string {
  if (!pattern.includes('(?<')) return pattern;
  let out = '';
  let i = 0;
  let inClass = false;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      if (pattern[i + 1] === 'Q' && !inClass) {
        const end = pattern.indexOf('\\E', i + 2);
        const stop = end < 0 ? pattern.length : end + 2;
        out += pattern.slice(i, stop);
        i = stop;
        continue;
      }
      out += pattern.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2);
        if (end >= 0) {
          out += pattern.slice(i, end + 2);
          i = end + 2;
          continue;
        }
      }
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      // A `]` right after `[` or `[^` is a literal member, not the end.
      inClass = true;
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      out += pattern.slice(i, j);
      i = j;
      continue;
    }
    if (pattern.startsWith('(?<', i) && pattern[i + 3] !== '=' && pattern[i + 3] !== '!') {
      out += '(?P<';
      i += 3;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
