import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CLIENT_TEXT_LIMIT, clientText, LOG_HOOKS, LogLimiter } from '../src/log.ts';

/** A logger whose lines land in an array. */
function capture(hooks = true) {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info', ...(hooks ? { hooks: LOG_HOOKS } : {}) }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log, lines };
}

describe('issue 16 bug 9: client text in log lines is cut', () => {
  it('clientText keeps short text and cuts long text, marking the full length', () => {
    expect(clientText('shop/web-1')).toBe('shop/web-1');
    const cut = clientText('x'.repeat(1024 * 1024));
    expect(cut.length).toBeLessThan(CLIENT_TEXT_LIMIT + 50);
    expect(cut).toContain(`[truncated: ${1024 * 1024} characters]`);
  });

  it('the logger hook cuts every long string field and the message, errors keep their stack', () => {
    const { log, lines } = capture();
    const err = new Error('boom');
    log.warn({ node: 'n'.repeat(100_000), nested: { message: 'm'.repeat(5000) }, err }, 'x'.repeat(100_000));
    const [l] = lines;
    expect(String(l!.node).length).toBeLessThan(CLIENT_TEXT_LIMIT + 50);
    expect(String((l!.nested as Record<string, unknown>).message).length).toBeLessThan(CLIENT_TEXT_LIMIT + 50);
    expect(String(l!.msg).length).toBeLessThan(4 * CLIENT_TEXT_LIMIT + 50);
    expect((l!.err as Record<string, unknown>).stack).toContain('boom');
  });
});

describe('issue 16 bug 9: LogLimiter', () => {
  it('logs the first `burst` lines of a key per window, then one summary of the rest', () => {
    const { log, lines } = capture(false);
    let now = 0;
    const limiter = new LogLimiter(log, { burst: 3, windowMs: 1000 }, undefined, () => now);
    for (let i = 0; i < 100; i++) limiter.line('warn', 'nack', { i }, 'NACK');
    limiter.line('warn', 'other', {}, 'another key has its own budget');
    expect(lines.map((l) => l.msg)).toEqual(['NACK', 'NACK', 'NACK', 'another key has its own budget']);
    now = 1500;
    limiter.line('warn', 'nack', { i: 100 }, 'NACK');
    expect(lines.slice(4).map((l) => l.msg)).toEqual(['suppressed 97 similar lines (nack)', 'NACK']);
    expect(lines[4]).toMatchObject({ suppressed: 97, key: 'nack' });
    for (let i = 0; i < 5; i++) limiter.line('warn', 'nack', {}, 'NACK');
    limiter.close();
    expect(lines.at(-1)).toMatchObject({ msg: 'suppressed 3 similar lines (nack)' });
  });

  it('flushExpired tells the count of a flood that stopped, once its window has passed', () => {
    const { log, lines } = capture(false);
    let now = 0;
    const limiter = new LogLimiter(log, { burst: 1, windowMs: 1000 }, undefined, () => now);
    for (let i = 0; i < 10; i++) limiter.line('warn', 'nack', {}, 'NACK');
    limiter.flushExpired();
    expect(lines).toHaveLength(1);
    now = 1000;
    limiter.flushExpired();
    expect(lines.at(-1)).toMatchObject({ msg: 'suppressed 9 similar lines (nack)' });
    limiter.flushExpired();
    expect(lines).toHaveLength(2);
  });

  it('a parent bounds many children together, their summaries included', () => {
    const { log, lines } = capture(false);
    const server = new LogLimiter(log, { burst: 10, windowMs: 60_000 }, undefined, () => 0);
    for (let s = 0; s < 50; s++) {
      const stream = new LogLimiter(log, { burst: 5, windowMs: 60_000 }, server, () => 0);
      for (let i = 0; i < 20; i++) stream.line('warn', 'unknown_type', {}, 'unknown type');
      stream.close();
    }
    expect(lines.filter((l) => l.msg === 'unknown type')).toHaveLength(10);
    expect(lines.filter((l) => String(l.msg).startsWith('suppressed'))).toHaveLength(10);
  });
});
