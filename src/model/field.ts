/**
 * Reads operator input (`unknown`, as parsed from YAML or JSON) one field at a
 * time, with the field's path, recording a problem for anything that is not
 * what the schema says and returning `undefined` for it. Decoders are written
 * as straight-line code against this and never throw on input.
 *
 * Messages say what is wrong and what is expected; `reason` and the path are
 * what tests and tools match on.
 */
import { childPath } from './field-path.ts';
import { DURATION_EXPECTED, formatDuration, parseDuration } from './duration.ts';
import type { FieldProblem, ProblemReason, Severity } from './problem.ts';
import { didYouMean } from './suggest.ts';

interface Common {
  required?: boolean;
  /** What a valid value looks like, for messages. */
  expected?: string;
}

export class Field {
  private constructor(
    readonly value: unknown,
    readonly path: string,
    private readonly sink: FieldProblem[],
  ) {}

  static root(value: unknown, sink: FieldProblem[]): Field {
    return new Field(value, '', sink);
  }

  /** YAML `key:` with nothing after it is null; like Kubernetes we treat it as absent. */
  get absent(): boolean {
    return this.value === undefined || this.value === null;
  }

  child(key: string | number): Field {
    const v = this.value;
    let value: unknown;
    if (typeof key === 'number') value = Array.isArray(v) ? v[key] : undefined;
    else if (isRecord(v)) value = Object.hasOwn(v, key) ? v[key] : undefined;
    return new Field(value, childPath(this.path, key), this.sink);
  }

  report(reason: ProblemReason, message: string, severity: Severity = 'error'): void {
    this.sink.push({ severity, reason, field: this.path, message });
  }

  warn(reason: ProblemReason, message: string): void {
    this.report(reason, message, 'warning');
  }

  /**
   * True when this is a mapping. With `known`, every other key is reported as
   * an unknown field (with the closest known name), which catches typos that a
   * cluster's schema validation would reject too.
   */
  object(opts: Common & { known?: readonly string[] } = {}): boolean {
    if (this.absent) return this.missing(opts, 'a mapping');
    if (!isRecord(this.value)) {
      this.report('InvalidType', `expected ${opts.expected ?? 'a mapping'}, got ${describe(this.value)}`);
      return false;
    }
    if (opts.known) {
      for (const key of Object.keys(this.value)) {
        if (opts.known.includes(key)) continue;
        this.child(key).report('UnknownField', `unknown field "${key}".${didYouMean(key, opts.known)} Expected one of: ${opts.known.join(', ')}`);
      }
    }
    return true;
  }

  /** The items of a list (none when absent or not a list). */
  list(opts: Common & { minItems?: number } = {}): Field[] {
    if (this.absent) {
      this.missing(opts, 'a list');
      return [];
    }
    if (!Array.isArray(this.value)) {
      this.report('InvalidType', `expected ${opts.expected ?? 'a list'}, got ${describe(this.value)}`);
      return [];
    }
    const min = opts.minItems ?? 0;
    if (this.value.length < min) this.report('Required', `needs at least ${min} item${min === 1 ? '' : 's'}; ${opts.expected ?? ''}`.trim());
    return this.value.map((_, i) => this.child(i));
  }

  /** Key/field pairs of a mapping (none when absent or not a mapping). */
  entries(opts: Common = {}): [string, Field][] {
    if (!this.object(opts) || !isRecord(this.value)) return [];
    return Object.keys(this.value).map((k) => [k, this.child(k)]);
  }

  string(opts: Common & { oneOf?: readonly string[]; pattern?: RegExp; maxLength?: number; allowEmpty?: boolean } = {}): string | undefined {
    if (this.absent) return this.missing(opts, 'a string'), undefined;
    const v = this.value;
    if (typeof v !== 'string') {
      const quote = typeof v === 'number' || typeof v === 'boolean' ? `; quote it: "${String(v)}"` : '';
      return this.report('InvalidType', `expected ${opts.expected ?? 'a string'}, got ${describe(v)}${quote}`), undefined;
    }
    if (opts.oneOf && !opts.oneOf.includes(v)) {
      return this.report('InvalidValue', `"${v}" is not supported.${didYouMean(v, opts.oneOf)} Expected one of: ${opts.oneOf.join(', ')}`), undefined;
    }
    if (v === '' && opts.allowEmpty) return v;
    if ((opts.pattern && !opts.pattern.test(v)) || (opts.maxLength !== undefined && v.length > opts.maxLength) || v === '') {
      return this.report('InvalidValue', `"${v}" is not valid; expected ${opts.expected ?? 'a non-empty string'}`), undefined;
    }
    return v;
  }

  integer(opts: Common & { min?: number; max?: number } = {}): number | undefined {
    if (this.absent) return this.missing(opts, 'an integer'), undefined;
    const v = this.value;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      return this.report('InvalidType', `expected ${opts.expected ?? 'an integer'}, got ${describe(v)}`), undefined;
    }
    const { min, max } = opts;
    if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
      return this.report('OutOfRange', `${v} is out of range; expected ${range(min, max, String)}`), undefined;
    }
    return v;
  }

  boolean(opts: Common = {}): boolean | undefined {
    if (this.absent) return this.missing(opts, 'true or false'), undefined;
    if (typeof this.value !== 'boolean') {
      return this.report('InvalidType', `expected true or false, got ${describe(this.value)}`), undefined;
    }
    return this.value;
  }

  /** A port number or an IANA port name (the Kubernetes IntOrString of targetPort). */
  portOrName(opts: Common = {}): number | string | undefined {
    if (typeof this.value === 'number') return this.integer({ ...opts, min: 1, max: 65535 });
    if (this.absent || typeof this.value === 'string') {
      return this.string({ ...opts, pattern: PORT_NAME, expected: opts.expected ?? 'a port number (1-65535) or a port name' });
    }
    return this.report('InvalidType', `expected a port number (1-65535) or a port name, got ${describe(this.value)}`), undefined;
  }

  /** Milliseconds, from a Go/Kubernetes duration string. */
  duration(opts: Common & { minMs?: number; maxMs?: number } = {}): number | undefined {
    if (this.absent) return this.missing(opts, DURATION_EXPECTED), undefined;
    const v = this.value;
    if (typeof v === 'number') {
      return this.report('InvalidDuration', `${v} has no unit; expected ${DURATION_EXPECTED}`), undefined;
    }
    if (typeof v !== 'string') return this.report('InvalidType', `expected ${DURATION_EXPECTED}, got ${describe(v)}`), undefined;
    const ms = parseDuration(v);
    if (ms === undefined) return this.report('InvalidDuration', `"${v}" is not a duration; expected ${DURATION_EXPECTED}`), undefined;
    const { minMs, maxMs } = opts;
    if ((minMs !== undefined && ms < minMs) || (maxMs !== undefined && ms > maxMs)) {
      return this.report('OutOfRange', `${v} is out of range; expected ${range(minMs, maxMs, formatDuration)}`), undefined;
    }
    return ms;
  }

  /** A mapping of strings to strings (labels, selectors, header matches). */
  stringMap(opts: Common & { keyPattern?: { test(key: string): boolean }; keyExpected?: string } = {}): Record<string, string> | undefined {
    if (this.absent) return this.missing(opts, 'a mapping of strings'), undefined;
    if (!this.object(opts)) return undefined;
    const out: Record<string, string> = {};
    for (const [key, f] of this.entries()) {
      if (opts.keyPattern && !opts.keyPattern.test(key)) {
        f.report('InvalidValue', `key "${key}" is not valid; expected ${opts.keyExpected ?? 'a valid key'}`);
        continue;
      }
      const v = f.string({ expected: 'a string', allowEmpty: true });
      if (v !== undefined) out[key] = v;
    }
    return out;
  }

  private missing(opts: Common, what: string): false {
    if (opts.required) this.report('Required', `${lastSegment(this.path)} is required: ${opts.expected ?? what}`);
    return false;
  }
}

/** RFC 6335 service name, as Kubernetes checks port names (IANA_SVC_NAME). */
export const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string "${v.length > 40 ? v.slice(0, 40) + '…' : v}"`;
  return `${typeof v} ${String(v)}`;
}

function range<T>(min: T | undefined, max: T | undefined, fmt: (v: T) => string): string {
  if (min !== undefined && max !== undefined) return `${fmt(min)} to ${fmt(max)}`;
  if (min !== undefined) return `at least ${fmt(min)}`;
  return `at most ${fmt(max!)}`;
}

function lastSegment(path: string): string {
  const m = /(?:^|\.)([^.[\]]+)$|\[(\d+)\]$/.exec(path);
  return m?.[1] ?? (m?.[2] !== undefined ? `item ${m[2]}` : path || 'value');
}
