/**
 * Envoy matches paths and headers with RE2 (`safe_regex`), which has no
 * lookaround and no backreferences. A pattern JavaScript accepts but RE2 does
 * not would be NACKed by every Envoy, so both are checked here.
 */
import { errorMessage } from '../errors.ts';

const RE2_UNSUPPORTED: readonly [RegExp, string][] = [
  [/\(\?<?[=!]/, 'lookahead and lookbehind ((?=, (?!, (?<=, (?<!)'],
  [/\\[1-9]/, 'backreferences (\\1 …)'],
  [/\\k</, 'named backreferences (\\k<name>)'],
];

/** undefined when valid, else what is wrong (to be followed by what is expected). */
export function checkRe2(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
  } catch (err) {
    return `invalid regular expression: ${errorMessage(err).replace(/^Invalid regular expression: /, '')}`;
  }
  for (const [re, what] of RE2_UNSUPPORTED) {
    if (re.test(stripEscapedBackslashes(pattern))) return `RE2 does not support ${what}`;
  }
  return undefined;
}

export const REGEX_EXPECTED = 'an RE2 regular expression (the syntax Envoy uses), e.g. "/api/.*"';

/** `\\1` is an escaped backslash followed by 1, not a backreference. */
function stripEscapedBackslashes(pattern: string): string {
  return pattern.replace(/\\\\/g, '');
}
