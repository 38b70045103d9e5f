/**
 * The earlier reads of each sidecar that a golden-metrics read subtracts
 * from (sidecar-source.ts). A query asks for the newest read at least its
 * window old (windows of seconds up to 10 minutes), so what is kept is what
 * such bases need, not every read: about one per eighth of its age (and
 * per MIN_GAP_MS), within KEEP_MS (`thin`). A base is then at most about a
 * quarter older than the window asked (the reply states the window it used),
 * and a sidecar holds a few dozen reads whatever the read rate: at a
 * `--watch` every 2 s it held up to 330 (each every series of the sidecar),
 * so memory grew with sidecars × window.
 */

/** How far back a base may be asked for: `--window 10m` and a little slack. */
export const KEEP_MS = 11 * 60_000;
/** Reads closer than this are one read (a `--watch` every second, several readers at once). */
export const MIN_GAP_MS = 1000;
/** Bucket width of kept reads, at most this fraction of their age. */
const SPACING = 1 / 8;
/** A backstop: the buckets above keep about 60 within KEEP_MS. */
export const KEEP_MAX = 80;

export class ScrapeHistory<T extends { at: number }> {
  private readonly byTarget = new Map<string, T[]>();

  /** The newest read of `target` at least `windowMs` old, else the oldest kept; none before `now` (a read of this instant is not its own base). */
  base(target: string, now: number, windowMs: number): T | undefined {
    const kept = (this.byTarget.get(target) ?? []).filter((s) => s.at >= now - KEEP_MS && s.at < now);
    return kept.filter((s) => s.at <= now - windowMs).at(-1) ?? kept[0];
  }

  /** Keep `read` of `target`, thin what is kept, and forget sidecars not read within KEEP_MS. */
  add(target: string, read: T, now: number): void {
    this.byTarget.set(target, thin([...(this.byTarget.get(target) ?? []).filter((s) => s.at < read.at), read], now));
    for (const [t, reads] of this.byTarget) if (reads.at(-1)!.at < now - KEEP_MS) this.byTarget.delete(t);
  }

  /** How many reads are held, over all sidecars (tests: what memory grows with). */
  held(): number {
    let n = 0;
    for (const reads of this.byTarget.values()) n += reads.length;
    return n;
  }
}

/**
 * Oldest first in and out. A read of age `a` falls in a bucket of width
 * `widthAt(a)` (MIN_GAP_MS doubled while it stays within an eighth of `a`),
 * aligned on absolute time; the oldest read of each bucket is kept. A
 * bucket of twice the width is two aligned buckets of the width before, so a
 * read kept as its bucket widens was kept before: nothing ages out that a
 * base later needs, kept reads stay at most two widths (a quarter of their
 * age) apart, and the count is logarithmic in KEEP_MS (8 buckets per width).
 */
function thin<T extends { at: number }>(reads: readonly T[], now: number): T[] {
  const kept: T[] = [];
  let bucket = '';
  for (const r of reads) {
    if (r.at < now - KEEP_MS) continue;
    const w = widthAt(now - r.at);
    const b = `${w}:${Math.floor(r.at / w)}`;
    if (b === bucket) continue;
    kept.push(r);
    bucket = b;
  }
  return kept.slice(-KEEP_MAX);
}

function widthAt(ageMs: number): number {
  let w = MIN_GAP_MS;
  while (w * 2 <= ageMs * SPACING) w *= 2;
  return w;
}
