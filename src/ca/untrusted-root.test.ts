// Issue 16 bug 10, the wire half: clients refusing our root are counted and
// logged without flooding, and the condition fades once they stop.
import pino from 'pino';
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { UntrustedRootWatch } from './untrusted-root.ts';

const alert = (code: string) => Object.assign(new Error(code), { code });

function watch() {
  const lines: Array<{ level: number; rejections?: number; sinceLastLog?: number }> = [];
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as (typeof lines)[number]) });
  let now = 1_000_000;
  const registry = new client.Registry();
  const w = new UntrustedRootWatch({ log, registry, clock: () => now });
  return { w, lines, registry, advance: (ms: number) => (now += ms) };
}

describe('issue 16 bug 10: UntrustedRootWatch', () => {
  it('counts unknown_ca refusals only; logs the first at error, then at most once a minute with the number since', async () => {
    const { w, lines, registry, advance } = watch();
    expect(w.observe(alert('ECONNRESET'))).toBe(false);
    expect(w.observe(alert('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'))).toBe(false);
    expect(w.report()).toBeUndefined();
    for (let i = 0; i < 30; i++) {
      expect(w.observe(alert('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'))).toBe(true);
      advance(5_000); // Envoy's reconnect loop
    }
    expect(lines.map((l) => [l.level, l.sinceLastLog])).toEqual([[50, 1], [50, 12], [50, 12]]);
    expect(await registry.getSingleMetricAsString('trellis_tls_untrusted_root_total')).toMatch(/ 30$/m);
    expect(w.report()).toMatchObject({ rejections: 30 });
  });

  it('the condition fades 10 minutes after the last refusal', () => {
    const { w, advance } = watch();
    w.observe(alert('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'));
    advance(9 * 60_000);
    expect(w.report()).toBeDefined();
    advance(2 * 60_000);
    expect(w.report()).toBeUndefined();
  });
});
