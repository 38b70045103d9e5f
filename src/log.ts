/**
 * One pino logger for the process. Components take a child with their name.
 * Redaction is a second line of defence: builders never put key material in
 * log fields, and these paths drop it if someone does by mistake.
 *
 * Two formats on stdout: JSON lines for machines (the default), and one
 * readable line per entry for a person at a terminal (the demo; serve when a
 * terminal is attached). logFormatFor is the one place that decides.
 */
import pino from 'pino';

export type Logger = pino.Logger;
export type LogFormat = 'json' | 'human';

let format: LogFormat = 'json';
let json: { write(line: string): void } | undefined;
/** stdout for the server and the demo; stderr for commands whose stdout is data (logToStderr). */
let out: NodeJS.WriteStream & { fd: number } = process.stdout;

/** Every entry passes here: JSON as pino wrote it, or its human line. */
const destination = {
  write(line: string): void {
    if (format === 'human') out.write(humanLine(line));
    else (json ??= jsonStream()).write(line);
  },
};

/** What pino() writes to by default: its own stream on the fd, unless its write was replaced (test runners capture it). */
function jsonStream(): { write(line: string): void } {
  const stream = out as typeof out & { constructor: { prototype: { write: unknown } } };
  return stream.write !== stream.constructor.prototype.write ? stream : pino.destination({ dest: stream.fd || (stream === process.stderr ? 2 : 1) });
}

/**
 * For a command whose stdout is data (a bootstrap, manifests, JSON): its
 * logs go to stderr, so `trellis bootstrap … > envoy.yaml` holds the
 * bootstrap alone (issue 16 bug 12). Call before anything logs.
 */
export function logToStderr(): void {
  out = process.stderr;
  json = undefined;
}

export const rootLogger: Logger = pino(
  {
    level: process.env.TRELLIS_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    base: { app: 'trellis' },
    redact: {
      paths: ['*.private_key', '*.privateKey', '*.key', '*.token', 'private_key', 'privateKey', 'token'],
      censor: '[redacted]',
    },
  },
  destination,
);

export function componentLogger(component: string): Logger {
  return rootLogger.child({ component });
}

/**
 * The format for a command: TRELLIS_LOG_FORMAT (json | human) wins; else the
 * demo is read by a person, and serve by a machine unless stdout is a terminal.
 */
export function logFormatFor(command: 'serve' | 'demo', env: NodeJS.ProcessEnv = process.env, stdoutIsTTY = process.stdout.isTTY === true): LogFormat {
  const wanted = env.TRELLIS_LOG_FORMAT;
  if (wanted === 'json' || wanted === 'human') return wanted;
  return command === 'demo' || stdoutIsTTY ? 'human' : 'json';
}

/** Set the format for the whole process (every logger shares the one destination). */
export function useLogFormat(command: 'serve' | 'demo'): void {
  format = logFormatFor(command);
  const wanted = process.env.TRELLIS_LOG_FORMAT;
  if (wanted !== undefined && wanted !== format) rootLogger.warn(`TRELLIS_LOG_FORMAT=${wanted}: expected json or human; logging ${format}`);
}

/**
 * A problem with operator input, already formatted `file:line: Kind ns/name:
 * field: message` (model/problem.ts): the human format prints it as it is, the
 * way `trellis validate` does; JSON carries `diagnostic` for machines.
 */
export function logDiagnostic(log: Logger, text: string, where: { file?: string; line?: number; reason?: string }): void {
  log.error({ diagnostic: where }, text);
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every entry has, or that the line shows in its own place. */
const SHOWN_APART = new Set(['level', 'time', 'pid', 'hostname', 'app', 'component', 'msg']);

/** One pino JSON line -> `LEVEL component: message (k=v, ...)`, or a diagnostic's own text. */
export function humanLine(jsonLine: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`;
  }
  const msg = oneLine(String(entry.msg ?? ''));
  if (entry.diagnostic !== undefined) return `${msg}\n`;
  const fields = Object.entries(entry)
    .filter(([k]) => !SHOWN_APART.has(k))
    .flatMap(([k, v]) => flatten(k, v));
  const level = LEVELS[Number(entry.level)] ?? String(entry.level);
  return `${level} ${String(entry.component ?? entry.app ?? 'trellis')}: ${msg}${fields.length > 0 ? ` (${fields.join(', ')})` : ''}\n`;
}

/** `err: {message, stack}` -> `err=message`; nested objects -> `a.b=v`; no braces on a person's terminal. */
function flatten(key: string, value: unknown): string[] {
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) return [`${key}=${value.map(String).join(',')}`];
    return value.flatMap((v, i) => flatten(`${key}[${i}]`, v));
  }
  if (typeof value !== 'object' || value === null) return [`${key}=${oneLine(String(value))}`];
  const o = value as Record<string, unknown>;
  if (typeof o.message === 'string' && ('stack' in o || 'type' in o)) return [`${key}=${oneLine(o.message)}`];
  return Object.entries(o).flatMap(([k, v]) => flatten(`${key}.${k}`, v));
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}
