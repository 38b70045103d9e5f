/**
 * The demo application (examples/demo-app/server.ts) passes on the headers
 * the demo's docs rely on to the call it makes for a request: the canary
 * header (the HTTPRoute's x-canary rule), the fault header
 * (examples/demo/README.md "Faults and rate limits": a fault matching
 * x-chaos: on is injected by the caller's sidecar, on that call) and the
 * trace context. Its "sidecar" here is a plain server recording what arrives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kill, tcpOpen } from '../../src/runtime/child-processes.ts';
import { freePort } from '../cli/admin-support.ts';
import { repoRoot } from '../support/venv.ts';

let upstream: http.Server;
let app: ChildProcess;
let appPort: number;
const seen: http.IncomingHttpHeaders[] = [];

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    seen.push(req.headers);
    res.end(JSON.stringify({ service: 'recommendation', version: 'v2' }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const via = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  appPort = await freePort();
  app = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'examples/demo-app/server.ts'), '--name', 'frontend', '--listen', `127.0.0.1:${appPort}`, '--upstream-host', 'recommendation.demo:8080', '--via', via], { cwd: repoRoot, stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while (!(await tcpOpen('127.0.0.1', appPort))) {
    if (Date.now() > deadline || app.exitCode !== null) throw new Error('the demo app did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}, 30_000);
afterAll(async () => {
  if (app) await kill(app);
  upstream?.close();
});

describe('the demo application', () => {
  it('passes x-chaos, x-canary and the trace context on to its upstream call, and nothing else of the request', async () => {
    const headers = { 'x-chaos': 'on', 'x-canary': 'true', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-other': 'kept here' };
    const res = await fetch(`http://127.0.0.1:${appPort}/`, { headers });
    expect(await res.json()).toMatchObject({ service: 'frontend', upstream: { status: 200, service: 'recommendation', version: 'v2' } });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ host: 'recommendation.demo:8080', 'x-chaos': 'on', 'x-canary': 'true', traceparent: headers.traceparent });
    expect(seen[0]!['x-other']).toBeUndefined();
  });
});
