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
    // Second line of defence for issue 16 bug 9: call sites bound client text
    // with clientText(); this bounds whatever one forgets.
    hooks: { logMethod: boundedLogCall },
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

// --- what a client can make us log (issue 16 bug 9) -------------------------

/**
 * The most characters of one client-supplied string (node id, type URL, NACK
 * message, resource name) that a log line carries; the rest is cut and the
 * cut marked with the full length. docs/security.md "Limits".
 */
export const CLIENT_TEXT_LIMIT = 1024;

/** `text` cut to `limit` characters, marked when cut: a 1 MiB node id logs as 1 KiB. */
export function clientText(text: string, limit = CLIENT_TEXT_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}…[truncated: ${text.length} characters]`;
}

/** A whole log line's message may say more than one field (diagnostics list their path and reason). */
const MESSAGE_LIMIT = 4 * CLIENT_TEXT_LIMIT;

/** pino logMethod hook: cuts long string fields (two levels into plain objects) and the message. */
function boundedLogCall(this: pino.Logger, args: Parameters<pino.LogFn>, method: pino.LogFn): void {
  const bounded = args.map((a, i) => {
    if (typeof a === 'string') return clientText(a, MESSAGE_LIMIT);
    if (i === 0 && a && typeof a === 'object' && Object.getPrototypeOf(a) === Object.prototype) return boundFields(a as Record<string, unknown>, 2);
    return a;
  });
  method.apply(this, bounded as Parameters<pino.LogFn>);
}

function boundFields(o: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string') out[k] = clientText(v);
    else if (depth > 1 && v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) out[k] = boundFields(v as Record<string, unknown>, depth - 1);
    else out[k] = v; // errors keep their stack; arrays are ours (problem lists)
  }
  return out;
}

/** The hooks of every Trellis logger; exported for loggers made elsewhere (tests pass their own). */
export const LOG_HOOKS: pino.LoggerOptions['hooks'] = { logMethod: boundedLogCall };

export type LogLevel = 'warn' | 'error' | 'info';

export interface LogRate {
  /** lines per key logged in a window before the rest are only counted */
  burst: number;
  windowMs: number;
}

/** Per stream: a client NACKing every response, or asking for an unknown type in every request. */
export const STREAM_LOG_RATE: LogRate = { burst: 5, windowMs: 60_000 };
/** Per process, across streams: the same, from many streams or connections. */
export const SERVER_LOG_RATE: LogRate = { burst: 100, windowMs: 60_000 };

interface KeyState {
  windowStart: number;
  logged: number;
  suppressed: number;
}

/**
 * Lines a client can repeat at will (issue 16 bug 9: 8,800 NACKs in 10 s
 * added 10.7 MB of log): per key, the first `burst` lines of a window are
 * logged, the rest counted, and the count logged as one "suppressed K
 * similar lines" line when the key comes up in a later window or at close().
 * A parent (the server's limiter under each stream's) bounds many streams
 * together. Keys are a fixed set chosen by the caller, never client text, so
 * the table stays small. Metrics count every occurrence; only the log is cut.
 */
export class LogLimiter {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly log: Logger,
    private readonly rate: LogRate,
    private readonly parent?: LogLimiter,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs the line unless this key is over its rate here or in the parent. */
  line(level: LogLevel, key: string, fields: Record<string, unknown>, msg: string): void {
    if (this.admit(key, level)) this.log[level](fields, msg);
  }

  /** Counts one occurrence of `key`; true if it may be logged. */
  admit(key: string, level: LogLevel = 'warn'): boolean {
    const now = this.now();
    let st = this.keys.get(key);
    if (!st) this.keys.set(key, (st = { windowStart: now, logged: 0, suppressed: 0 }));
    if (now - st.windowStart >= this.rate.windowMs) {
      this.summarise(key, st, level);
      st.windowStart = now;
      st.logged = 0;
    }
    if (st.logged >= this.rate.burst) {
      st.suppressed++;
      return false;
    }
    st.logged++;
    return this.parent ? this.parent.admit(key, level) : true;
  }

  /** Logs the suppressed count of every key whose window has passed (a timer calls it, so a flood's count is told even if it stops). */
  flushExpired(): void {
    const now = this.now();
    for (const [key, st] of this.keys) if (now - st.windowStart >= this.rate.windowMs) this.summarise(key, st, 'warn');
  }

  /** Logs what is still suppressed (a stream ending). */
  close(): void {
    for (const [key, st] of this.keys) this.summarise(key, st, 'warn');
    this.keys.clear();
  }

  private summarise(key: string, st: KeyState, level: LogLevel): void {
    if (st.suppressed === 0) return;
    const suppressed = st.suppressed;
    st.suppressed = 0;
    // The summaries of many streams are themselves a repeated line.
    if (this.parent && !this.parent.admit(`${key} (suppressed)`, level)) return;
    this.log[level]({ suppressed, key, sinceMs: this.now() - st.windowStart }, `suppressed ${suppressed} similar lines (${key})`);
  }
}
