/**
 * Prints the per-type versions of the small test mesh as JSON, from a fresh
 * process: XDS_RULES 4 says versions name content across restarts and
 * replicas, so they must not depend on anything in one process's memory.
 */
import { PUSH_ORDER } from '../../src/xds/type-urls.ts';
import { smallMesh, snapshotOf } from './fixtures.ts';

const snap = snapshotOf(smallMesh(), 0);
process.stdout.write(`${JSON.stringify(Object.fromEntries(PUSH_ORDER.map((t) => [t, snap.get(t).version])))}\n`);
