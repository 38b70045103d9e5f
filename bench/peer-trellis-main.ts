/**
 * Trellis's side of the peer benchmark (bench/peer.ts): a real Trellis xDS
 * server (startControlPlane, as `trellis serve` runs it) on 127.0.0.1 serving
 * bench/mesh.ts's mesh to every node under the shared key, and the edits the
 * benchmark applies (bench/peer-edits.ts). It speaks the same line protocol as
 * the go-control-plane peer (bench/go-control-plane/main.go), so bench/peer.ts
 * drives both alike: stdout "ready <port> <resources> <bytes> <bytes>" (the
 * resources' encoded size, twice: Trellis serves the bytes it encoded); stdin "apply <i>" →
 * stdout "applied <i> <microseconds>". Exits when stdin closes.
 *
 *   --dump <file>: write the encoded resources and edits for the peer, then exit.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Snapshot, TypeSet } from '../src/cache/snapshot.ts';
import { logToStderr, rootLogger } from '../src/log.ts';
import { SHARED_KEY, startControlPlane } from '../src/runtime/control-plane.ts';
import type { ResourceTypeUrl } from '../src/xds/type-urls.ts';
import { peerEdits, peerResources, writePeerDump } from './peer-edits.ts';
import { positiveInt } from './options.ts';

logToStderr();
rootLogger.level = 'error';

const { values } = parseArgs({ options: { services: { type: 'string', default: '1000' }, edits: { type: 'string', default: '3' }, dump: { type: 'string' } } });
const services = positiveInt(values, 'services');
if (values.dump) {
  writePeerDump(values.dump, services, positiveInt(values, 'edits'));
  process.exit(0);
}
const resources = peerResources(services);
const edits = peerEdits(positiveInt(values, 'edits'));

const server = await startControlPlane({ xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0' });
const sets = Object.fromEntries([...resources].map(([t, list]) => [t, TypeSet.of(t, list)])) as Record<ResourceTypeUrl, TypeSet>;
const loaded = server.cache.set(SHARED_KEY, new Snapshot(sets));
if (!loaded.ok) {
  process.stderr.write(`peer mesh is inconsistent: ${JSON.stringify(loaded.problems.slice(0, 5))}\n`);
  process.exit(1);
}
const all = [...resources.values()].flat();
const bytes = all.reduce((n, r) => n + r.value.length, 0);
process.stdout.write(`ready ${server.xdsPort} ${all.length} ${bytes} ${bytes}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const m = /^apply (\d+)$/.exec(line);
  const edit = m ? edits[Number(m[1])] : undefined;
  if (!edit) {
    process.stderr.write(`peer-trellis: control: "${line}" names no edit\n`);
    process.exit(1);
  }
  const start = performance.now();
  // As xds-server-main.ts: the edited resources upserted into their type's set, the others untouched.
  const current = server.cache.get(SHARED_KEY)!.get(edit.typeUrl);
  const result = server.cache.setType(SHARED_KEY, current.with({ upsert: edit.resources }));
  if (!result.ok) {
    process.stderr.write(`peer-trellis: edit ${edit.name} rejected: ${JSON.stringify(result.problems)}\n`);
    process.exit(1);
  }
  process.stdout.write(`applied ${m![1]} ${Math.round((performance.now() - start) * 1000)}\n`);
});
lines.on('close', () => void server.stop().finally(() => process.exit(0)));
