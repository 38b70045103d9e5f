/**
 * A small flag parser: `--name value`, `--name=value`, `--flag`, positionals.
 * Unknown flags are an error naming the flag, so a typo never silently falls
 * back to a default.
 */
import { UsageError } from '../errors.ts';

export interface ArgSpec {
  /** flags that take a value, with their defaults (undefined = no default) */
  values?: Record<string, string | undefined>;
  /** boolean flags */
  booleans?: string[];
  /** flags that may repeat */
  repeatable?: string[];
  /** The command's usage line(s), printed after a usage error. */
  usage?: string;
}

export interface ParsedArgs {
  values: Record<string, string | undefined>;
  lists: Record<string, string[]>;
  booleans: Record<string, boolean>;
  positionals: string[];
}

export function parseArgs(argv: string[], spec: ArgSpec): ParsedArgs {
  const values: Record<string, string | undefined> = { ...(spec.values ?? {}) };
  const booleans: Record<string, boolean> = {};
  const lists: Record<string, string[]> = {};
  for (const b of spec.booleans ?? []) booleans[b] = false;
  for (const r of spec.repeatable ?? []) lists[r] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq >= 0 ? eq : undefined);
    if (spec.booleans?.includes(name)) {
      booleans[name] = eq >= 0 ? arg.slice(eq + 1) !== 'false' : true;
      continue;
    }
    const isValue = spec.values && name in spec.values;
    const isList = spec.repeatable?.includes(name);
    if (!isValue && !isList) throw new UsageError(`unknown option --${name}`, spec.usage);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new UsageError(`option --${name} needs a value`, spec.usage);
    if (isList) lists[name]!.push(value);
    else values[name] = value;
  }
  return { values, lists, booleans, positionals };
}
