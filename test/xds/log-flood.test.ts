/**
 * Issue 16 bug 9: any client could flood the log (8,800 NACKs in 10 s added
 * 10.7 MB; one 1 MiB node id added 4.2 MB). A real server logging to a
 * counter, with a plain pino logger (no Trellis hooks), so what is measured
 * is what the server's own call sites bound: client text cut to 1 KiB, and
 * repeated lines rate-limited per stream and across streams.
 */
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { node } from '../support/ads-client.ts';
import { smallMesh } from '../support/fixtures.ts';
import { CDS, EDS, eventually, grpc, closedAfter, startHarness, type Harness } from '../support/conformance.ts';

const KiB = 1024;
let bytes = 0;
const lines: string[] = [];
let h: Harness;
beforeAll(async () => {
  const sink = {
    write(line: string) {
      bytes += Buffer.byteLength(line);
      if (lines.length < 10_000) lines.push(line.length > 4 * KiB ? line.slice(0, 4 * KiB) : line);
    },
  };
  h = await startHarness({ log: pino({ level: 'info' }, sink) });
  h.set(smallMesh());
});
afterAll(async () => {
  await h?.close();
});
const opened: Array<{ close(): void }> = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});
const client = () => closedAfter(h.address, opened);
/** Log bytes written while `f` runs. */
async function logged(f: () => Promise<void>): Promise<{ bytes: number; lines: string[] }> {
  const b0 = bytes;
  const l0 = lines.length;
  await f();
  return { bytes: bytes - b0, lines: lines.slice(l0) };
}

describe('issue 16 bug 9: any client can flood the log', () => {
  it('issue 16 bug 9: 3,000 NACKs of 2 KiB on one stream log a few lines and one "suppressed" summary', { timeout: 60_000 }, async () => {
    const out = await logged(async () => {
      const s = client().sotw();
      s.send({ node: node('bug9-nacks'), type_url: CDS });
      const r = await s.next(5000);
      for (let i = 0; i < 3000; i++) s.send({ type_url: CDS, response_nonce: r.nonce, version_info: '', error_detail: { code: 3, message: `rejected ${i} `.padEnd(2 * KiB, 'x') } });
      // Handled in order: once this is answered, every NACK was read.
      s.send({ type_url: EDS, resource_names: ['a'] });
      await s.next(20_000);
      s.close();
      expect(await eventually(() => h.server.xds.streamCount() === 0, 5000)).toBe(true);
    });
    // Before the fix: 3,000 lines of over 2 KiB, ~6.5 MB.
    expect(out.bytes).toBeLessThan(64 * KiB);
    expect(out.lines.some((l) => /suppressed 29\d\d similar lines \(nack\)/.test(l))).toBe(true);
  });

  it('issue 16 bug 9: a 1 MiB node id, type URL and NACK message are cut to 1 KiB in every line', { timeout: 30_000 }, async () => {
    const huge = (c: string) => c.repeat(1024 * KiB);
    const out = await logged(async () => {
      // The longest node id accepted (limits.ts), then a 1 MiB type URL and NACK message.
      const s = client().sotw();
      s.send({ node: node('n'.repeat(1024)), type_url: CDS });
      const r = await s.next(5000);
      s.send({ type_url: `type.googleapis.com/${huge('t')}` });
      s.send({ type_url: CDS, response_nonce: r.nonce, error_detail: { code: 3, message: huge('m') } });
      s.send({ node: node('o'.repeat(1024)), type_url: CDS });
      expect((await s.ended(10_000)).code).toBe(grpc.status.INVALID_ARGUMENT);
      // A 1 MiB node id is refused (the node is over its byte budget), and the refusal does not quote it.
      const t = client().sotw();
      t.send({ node: node(huge('n')), type_url: CDS });
      const status = await t.ended(10_000);
      expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(status.details.length).toBeLessThan(KiB);
    });
    // Before the fix: 1 MiB per line, several lines.
    expect(out.bytes).toBeLessThan(32 * KiB);
    expect(out.lines.some((l) => l.includes(`[truncated: ${1024 * KiB + 'type.googleapis.com/'.length} characters]`))).toBe(true);
    expect(out.lines.some((l) => l.includes(`[truncated: ${1024 * KiB} characters]`))).toBe(true);
  });

  it('issue 16 bug 9: 300 streams each asking 10 times for an unknown type log at most the server-wide burst', { timeout: 60_000 }, async () => {
    const out = await logged(async () => {
      for (let conn = 0; conn < 3; conn++) {
        const c = client();
        await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const s = c.sotw();
            s.send({ node: node(`bug9-many-${conn}-${i}`), type_url: CDS });
            await s.next(10_000);
            for (let k = 0; k < 10; k++) s.send({ type_url: 'type.googleapis.com/some.Unknown' });
            s.send({ type_url: EDS, resource_names: ['a'] });
            await s.next(10_000);
            s.close();
          }),
        );
        c.close();
      }
      expect(await eventually(() => h.server.xds.streamCount() === 0, 10_000)).toBe(true);
    });
    // 3,000 requests: before the fix 3,000 lines (~750 KB); now 100 lines and 100 summaries at most.
    expect(out.lines.filter((l) => l.includes('does not serve')).length).toBeLessThanOrEqual(100);
    expect(out.bytes).toBeLessThan(128 * KiB);
  });
});
