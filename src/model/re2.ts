/**
 * The RE2 library itself, through a small native addon (native/re2-check.cc,
 * built by scripts/build-re2-check.sh): whether a pattern compiles and its
 * program size, as Envoy's safe_regex will see them. There is deliberately no
 * JavaScript fallback: JS RegExp accepts `\u0041`, `\Z`, `\cA`, lookaround and
 * refuses `(?i)`, `(?P<n>x)`, which is how issue 16 bug 6 came about.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { errorMessage, OperatorError } from '../errors.ts';

export type Re2Verdict = { ok: true; programSize: number } | { ok: false; error: string };

/** Whether RE2 matches a whole text, as Envoy's safe_regex does; or why the pattern does not compile. */
export type Re2MatchVerdict = { ok: true; matched: boolean } | { ok: false; error: string };

interface Re2Addon {
  abiVersion: number;
  check(pattern: string): Re2Verdict;
  fullMatch(pattern: string, text: string): Re2MatchVerdict;
}

/** ABI_VERSION in native/re2-check.cc: 1 has check(); 2 adds fullMatch(). */
const ABI_VERSION = 2;
/** An ABI 1 build still validates (check); only fullMatch (`trellis explain`) needs a rebuild. */
const MIN_ABI_VERSION = 1;
const FIX = 'run scripts/setup.sh (it builds it with g++ against Debian\'s libre2-dev: apt-get install libre2-dev g++)';

/** Where scripts/build-re2-check.sh puts it; TRELLIS_RE2_CHECK overrides (installs elsewhere). */
export function re2AddonPath(): string {
  return process.env.TRELLIS_RE2_CHECK || fileURLToPath(new URL('../../.cache/re2-check/re2-check.node', import.meta.url));
}

/** Refuses to start (`serve`, `validate`) without it: thrown as an OperatorError. */
export class Re2MissingError extends OperatorError {}

let addon: Re2Addon | Re2MissingError | undefined;

function load(): Re2Addon | Re2MissingError {
  const path = re2AddonPath();
  try {
    const loaded = createRequire(import.meta.url)(path) as Re2Addon;
    if (loaded.abiVersion < MIN_ABI_VERSION || loaded.abiVersion > ABI_VERSION) {
      return new Re2MissingError(`the RE2 checker at ${path} is a stale build (ABI ${loaded.abiVersion}, need ${ABI_VERSION}); ${FIX}`);
    }
    return loaded;
  } catch (err) {
    const text = errorMessage(err).split('\n')[0];
    return new Re2MissingError(`the RE2 checker (native addon) cannot be loaded from ${path}: ${text}. Trellis checks every regex with RE2, the library Envoy uses; ${FIX}`);
  }
}

/** Loads the addon once; throws Re2MissingError (with the fix) when it is not there. */
export function requireRe2(): void {
  addon ??= load();
  if (addon instanceof Re2MissingError) throw addon;
}

// Patterns repeat across rebuilds (every edit rebuilds the whole model), so
// verdicts are kept; the cap bounds memory when patterns churn.
const CACHE_LIMIT = 4096;
const cache = new Map<string, Re2Verdict>();

/** RE2's verdict on a pattern (Envoy's options: UTF-8, default max_mem). Throws Re2MissingError. */
export function re2Check(pattern: string): Re2Verdict {
  const hit = cache.get(pattern);
  if (hit) return hit;
  requireRe2();
  const verdict = (addon as Re2Addon).check(pattern);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(pattern, verdict);
  return verdict;
}

/**
 * RE2::FullMatch with Envoy's options: what a safe_regex matcher (route,
 * header, RBAC path) decides for `text`. `trellis explain` evaluates served
 * resources with it. Throws Re2MissingError.
 */
export function re2FullMatch(pattern: string, text: string): Re2MatchVerdict {
  requireRe2();
  const a = addon as Re2Addon;
  if (a.abiVersion < ABI_VERSION) throw new Re2MissingError(`the RE2 checker at ${re2AddonPath()} is an older build without fullMatch (ABI ${a.abiVersion}, need ${ABI_VERSION}); ${FIX}`);
  return a.fullMatch(pattern, text);
}
