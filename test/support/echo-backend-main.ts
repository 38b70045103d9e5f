/**
 * Starts one echo backend by hand, for poking at a running Trellis or Envoy:
 *
 *   node --import tsx test/support/echo-backend-main.ts --name v1 [--port 9001]
 *        [--fail-with UNAVAILABLE|14] [--fail-ratio 0.5] [--delay-ms 100]
 *
 * Prints one JSON line `{"name":…, "address":…}` once listening; stops on
 * SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { status } from '@grpc/grpc-js';
import { startEchoBackend } from './echo-backend.ts';

const { values } = parseArgs({
  options: {
    name: { type: 'string', default: 'echo' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'fail-with': { type: 'string' },
    'fail-ratio': { type: 'string' },
    'delay-ms': { type: 'string' },
  },
});

const backend = await startEchoBackend({
  name: values.name,
  host: values.host,
  port: Number(values.port),
  failWith: values['fail-with'] === undefined ? undefined : statusCode(values['fail-with']),
  failRatio: values['fail-ratio'] === undefined ? undefined : Number(values['fail-ratio']),
  delayMs: values['delay-ms'] === undefined ? undefined : Number(values['delay-ms']),
});
process.stdout.write(`${JSON.stringify({ name: backend.name, address: backend.address })}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void backend.close().then(() => process.exit(0));
  });
}

/** Accepts a status name (UNAVAILABLE) or number (14). */
function statusCode(text: string): status {
  const byName = (status as unknown as Record<string, number>)[text.toUpperCase()];
  const code = /^\d+$/.test(text) ? Number(text) : byName;
  if (code === undefined || status[code] === undefined) {
    process.stderr.write(`unknown gRPC status code: ${text}\n`);
    process.exit(2);
  }
  return code;
}
