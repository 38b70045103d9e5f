/**
 * A proxyless xDS client built on @grpc/grpc-js-xds, run as its own process
 * (`node --import tsx test/interop/js-xds-client.ts …`) because the xDS
 * client's state is global to the process and must not leak between tests.
 *
 *   --target xds:///name:port   resolve through xDS (needs GRPC_XDS_BOOTSTRAP[_CONFIG])
 *   --direct host:port          or call a backend directly, no xDS
 *   --mode once|watch           once: --count calls, then one OnceResult line
 *                               watch: a call every --interval-ms, one WatchEvent
 *                               line each, until stdin closes or --duration-ms
 *   --count N --concurrency C --deadline-ms D --metadata k=v (repeatable)
 *
 * Output shapes: ./client-output.ts. Exit 0 whenever the calls ran, whatever
 * they returned; 2 on bad arguments.
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { register as registerXdsResolver } from '@grpc/grpc-js-xds';
import { ECHO_METHOD, type EchoReply } from '../support/echo-backend.ts';
import type { OnceResult, WatchEvent } from './client-output.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    direct: { type: 'string' },
    mode: { type: 'string', default: 'once' },
    count: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1' },
    'deadline-ms': { type: 'string' },
    'interval-ms': { type: 'string', default: '20' },
    'duration-ms': { type: 'string' },
    metadata: { type: 'string', multiple: true, default: [] },
  },
});

const target = values.direct ?? values.target;
if (!target || (values.direct && values.target)) usage('give exactly one of --target xds:///… or --direct host:port');
if (values.mode !== 'once' && values.mode !== 'watch') usage(`--mode must be once or watch, got ${values.mode}`);
const metadata = new grpc.Metadata();
for (const pair of values.metadata) {
  const eq = pair.indexOf('=');
  if (eq <= 0) usage(`--metadata wants k=v, got ${pair}`);
  metadata.add(pair.slice(0, eq), pair.slice(eq + 1));
}
// A watch call that hangs would hide the moment routing changed: keep it short.
const deadlineMs = Number(values['deadline-ms'] ?? (values.mode === 'watch' ? 1000 : 5000));

if (target.startsWith('xds:')) registerXdsResolver();
const client = new grpc.Client(target, grpc.credentials.createInsecure());
const identity = (b: Buffer): Buffer => b;

type Outcome = { backend: string } | { error: string; details: string };

function callOnce(): Promise<Outcome> {
  return new Promise((resolve) => {
    const deadline = Date.now() + deadlineMs;
    client.makeUnaryRequest(ECHO_METHOD, identity, identity, Buffer.from('ping'), metadata, { deadline }, (err, reply) => {
      if (err) {
        resolve({ error: grpc.status[err.code] ?? String(err.code), details: err.details });
        return;
      }
      try {
        resolve({ backend: (JSON.parse(reply!.toString('utf8')) as EchoReply).backend });
      } catch {
        resolve({ error: 'BAD_REPLY', details: reply!.toString('utf8').slice(0, 200) });
      }
    });
  });
}

async function runOnce(count: number, concurrency: number): Promise<OnceResult> {
  const result: OnceResult = { ok: 0, errors: {}, backends: {}, details: {} };
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started += 1;
      const outcome = await callOnce();
      if ('backend' in outcome) {
        result.ok += 1;
        result.backends[outcome.backend] = (result.backends[outcome.backend] ?? 0) + 1;
      } else {
        result.errors[outcome.error] = (result.errors[outcome.error] ?? 0) + 1;
        result.details[outcome.error] ??= outcome.details;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return result;
}

async function runWatch(intervalMs: number, durationMs: number | undefined): Promise<void> {
  let stopped = false;
  // The harness holds our stdin open and closes it to stop us; that also
  // stops us if the test process dies without cleaning up.
  process.stdin.on('end', () => (stopped = true)).on('close', () => (stopped = true)).resume();
  const endAt = durationMs === undefined ? Infinity : Date.now() + durationMs;
  while (!stopped && Date.now() < endAt) {
    const startedAt = Date.now();
    const outcome = await callOnce();
    const event: WatchEvent = { t: Date.now(), ...outcome };
    process.stdout.write(`${JSON.stringify(event)}\n`);
    const wait = intervalMs - (Date.now() - startedAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

if (values.mode === 'once') {
  const result = await runOnce(Number(values.count), Number(values.concurrency));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  await runWatch(Number(values['interval-ms']), values['duration-ms'] === undefined ? undefined : Number(values['duration-ms']));
}
client.close();
// The xDS client keeps its ADS stream (and so the event loop) alive: leave explicitly.
process.exit(0);

function usage(message: string): never {
  process.stderr.write(`js-xds-client: ${message}\n`);
  process.exit(2);
}
