/**
 * `scripts/bench.sh abuse`: what an unauthenticated client can make the xDS
 * port keep (issue 16 bug 5 and its memory budget, src/server/limits.ts).
 * --streams SotW streams on their own connections each send --requests
 * requests of ~1.9 MiB of distinct names, each under another unknown type
 * URL (the attack that kept ~100 MiB per stream before the fix), then one
 * known request whose answer shows every request was read. Memory (heap used
 * + external after a forced GC) is taken before and after, while the streams
 * are still open: what is retained is what the budget lets them hold.
 * Figures, never assertions.
 *
 *   node --import tsx bench/abuse.ts [--streams 5] [--requests 40]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { node } from '../test/support/ads-client.ts';
import { smallMesh } from '../test/support/fixtures.ts';
import { CDS, EDS, closedAfter, startHarness } from '../test/support/conformance.ts';
import { measure, mib, runWithGc, watchdog } from './churn-mesh.ts';
import { positiveInt } from './options.ts';

const { values } = parseArgs({ options: { streams: { type: 'string', default: '5' }, requests: { type: 'string', default: '40' } } });
const int = (name: keyof typeof values) => positiveInt(values, name);

/** ~1.9 MiB of distinct names: 48,000 of 40 characters (under the per-request cap). */
const namesBatch = (tag: string) => Array.from({ length: 48_000 }, (_, i) => `${tag}-${i}`.padEnd(40, '.'));

async function main(): Promise<void> {
  const streams = int('streams');
  const requests = int('requests');
  watchdog(10 * 60_000, 'bench/abuse.ts');
  const h = await startHarness();
  const opened: Array<{ close(): void }> = [];
  try {
    h.set(smallMesh());
    const attackers = Array.from({ length: streams }, (_, i) => ({ i, s: closedAfter(h.address, opened).sotw() }));
    for (const { i, s } of attackers) {
      s.send({ node: node(`abuse-${i}`), type_url: CDS });
      await s.next(10_000);
    }
    const before = await measure();
    const t0 = performance.now();
    await Promise.all(
      attackers.map(async ({ i, s }) => {
        for (let r = 0; r < requests; r++) s.send({ type_url: `type.googleapis.com/attack.Unknown${r}`, resource_names: namesBatch(`s${i}r${r}`) });
        // Requests are handled in order: this answer means all of them were read.
        s.send({ type_url: EDS, resource_names: ['a'] });
        await s.next(60_000);
      }),
    );
    const ms = performance.now() - t0;
    const after = await measure();
    const open = attackers.filter(({ s }) => s.status === undefined).length;
    const sentMiB = (streams * requests * 48_000 * 40) / (1024 * 1024);
    process.stdout.write(
      [
        `xDS port abuse: ${streams} streams × ${requests} requests of ~1.9 MiB of names under unknown type URLs (${sentMiB.toFixed(0)} MiB sent in ${(ms / 1000).toFixed(1)} s)`,
        `  retained after GC: heap+external ${mib(after.heap - before.heap)} MiB (${mib(before.heap)} -> ${mib(after.heap)}), RSS ${mib(after.rss)} MiB; streams still open: ${open} of ${streams}`,
      ].join('\n') + '\n',
    );
  } finally {
    for (const s of opened) s.close();
    await h.close();
  }
}

runWithGc(fileURLToPath(import.meta.url), main);
