/** The message of anything thrown, for logs and operator-facing text. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A problem the person running Trellis can fix, not a bug in Trellis: a CA
 * state dir it refuses, a port already taken, Envoy not installed. The
 * message says what is wrong and how to fix it, so `trellis` prints it alone
 * (no stack trace) and exits 1. Subclasses say where it comes from.
 */
export class OperatorError extends Error {}

/**
 * What was asked is wrong: a flag, an argument, or a file or manifest given
 * as input. The message names it and says what is expected; `trellis` prints
 * it, then `usage` when there is one, and exits 2.
 */
export class UsageError extends OperatorError {
  constructor(
    message: string,
    /** The command's usage line(s), printed after the message. */
    readonly usage?: string,
  ) {
    super(message);
  }
}
