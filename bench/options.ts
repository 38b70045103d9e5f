/** Command-line options shared by the benchmarks. */

/** `--name`'s value as a positive whole number, or a clear error naming the option. */
export function positiveInt(values: Readonly<Record<string, unknown>>, name: string): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: "${String(values[name])}" is not a positive whole number`);
  return n;
}
