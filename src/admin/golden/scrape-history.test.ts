import { describe, expect, it } from 'vitest';
import { KEEP_MS, ScrapeHistory } from './scrape-history.ts';

const WINDOWS_S = [10, 30, 60, 300, 600];

/** `hours` of reads of one sidecar every `stepMs`: the most reads held at once, and per window the largest base age / window seen. */
function readFor(hours: number, stepMs: number): { maxHeld: number; worst: Map<number, number> } {
  const h = new ScrapeHistory<{ at: number }>();
  let now = 1_000_000;
  let maxHeld = 0;
  const worst = new Map<number, number>();
  for (let i = 0; i < (hours * 3_600_000) / stepMs; i++) {
    now += stepMs;
    for (const w of WINDOWS_S) {
      const base = h.base('sidecar', now, w * 1000);
      // Once the history is a window deep, a base must be at least the window old.
      if (base && i * stepMs > KEEP_MS) worst.set(w, Math.max(worst.get(w) ?? 0, (now - base.at) / (w * 1000)));
    }
    h.add('sidecar', { at: now }, now);
    maxHeld = Math.max(maxHeld, h.held());
  }
  return { maxHeld, worst };
}

describe('golden metrics from the sidecars: the reads kept to subtract from are bounded by what windows need', () => {
  it.each([1000, 2000, 5000])('a read every %i ms for three hours: a few dozen reads held, every window\'s base at least the window old and at most a quarter older', (stepMs) => {
    const { maxHeld, worst } = readFor(3, stepMs);
    // Before: every read of the last 11 minutes, up to 400 (330 at one read every 2 s).
    expect(maxHeld).toBeLessThanOrEqual(60);
    for (const w of WINDOWS_S.filter((x) => x * 1000 >= stepMs * 4)) {
      expect(worst.get(w), `window ${w} s`).toBeGreaterThanOrEqual(1);
      expect(worst.get(w), `window ${w} s`).toBeLessThanOrEqual(1.25);
    }
  });

  it('sidecars that went away are forgotten once their last read is older than any window', () => {
    const h = new ScrapeHistory<{ at: number }>();
    let now = 0;
    for (let i = 0; i < 1000; i++) h.add(`pod-${i}`, { at: (now += 100) }, now);
    expect(h.held()).toBe(1000);
    now += KEEP_MS + 1;
    h.add('pod-new', { at: now }, now);
    expect(h.held()).toBe(1);
  });

  it('a read is never its own base, and the first read has none', () => {
    const h = new ScrapeHistory<{ at: number }>();
    expect(h.base('s', 5000, 60_000)).toBeUndefined();
    h.add('s', { at: 5000 }, 5000);
    expect(h.base('s', 5000, 60_000)).toBeUndefined();
    expect(h.base('s', 7000, 60_000)).toEqual({ at: 5000 });
  });
});
