/**
 * One pino logger for the process. Components take a child with their name.
 * Redaction is a second line of defence: builders never put key material in
 * log fields, and these paths drop it if someone does by mistake.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export const rootLogger: Logger = pino({
  level: process.env.TRELLIS_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
  base: { app: 'trellis' },
  redact: {
    paths: ['*.private_key', '*.privateKey', '*.key', '*.token', 'private_key', 'privateKey', 'token'],
    censor: '[redacted]',
  },
});

export function componentLogger(component: string): Logger {
  return rootLogger.child({ component });
}
