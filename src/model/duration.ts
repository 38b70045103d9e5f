/**
 * Durations as Kubernetes and Go write them (`time.ParseDuration`): a sequence
 * of decimal numbers with units, e.g. `250ms`, `1.5s`, `2m`, `1h30m`. Stored
 * in the model as milliseconds (fractions allowed down to 1 µs).
 */

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

export const DURATION_EXPECTED = 'a duration such as "250ms", "1.5s", "2m" or "1h30m" (units ns, us, ms, s, m, h)';

/** Milliseconds, or undefined when `text` is not a valid non-negative duration. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}

/** `1500` -> `1.5s`: for messages that repeat a limit back to the operator. */
export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
