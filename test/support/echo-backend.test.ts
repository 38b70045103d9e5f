/**
 * The test backend and both client runners, checked without Trellis: calls go
 * straight to the backend (`--direct`), so a later interop failure points at
 * xDS, not at the harness.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { BACKEND_TRAILER, ECHO_METHOD, startEchoBackend, type EchoBackend, type EchoReply } from './echo-backend.ts';
import { runXdsClient, watchXdsClient, type XdsClientKind } from './xds-client.ts';

const identity = (b: Buffer): Buffer => b;

function call(
  address: string,
  metadata: Record<string, string> = {},
): Promise<{ reply?: EchoReply; error?: grpc.ServiceError }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest(ECHO_METHOD, identity, identity, Buffer.from('x'), md, { deadline: Date.now() + 5000 }, (error, reply) => {
      client.close();
      resolve(error ? { error } : { reply: JSON.parse(reply!.toString('utf8')) as EchoReply });
    });
  });
}

describe('echo backend, called in process', () => {
  let backend: EchoBackend;
  beforeAll(async () => {
    backend = await startEchoBackend({ name: 'a' });
  });
  afterAll(() => backend.close());

  it('names itself and echoes request metadata', async () => {
    const { reply } = await call(backend.address, { 'x-canary': 'yes' });
    expect(reply?.backend).toBe('a');
    expect(reply?.metadata['x-canary']).toBe('yes');
  });

  it('fails exactly the requested fraction, naming itself in a trailer', async () => {
    backend.setBehaviour({ failWith: grpc.status.UNAVAILABLE, failRatio: 0.5 });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await call(backend.address));
    backend.setBehaviour({});
    const errors = results.flatMap((r) => (r.error ? [r.error] : []));
    expect(errors.map((e) => e.code)).toEqual([grpc.status.UNAVAILABLE, grpc.status.UNAVAILABLE]);
    expect(errors[0]!.metadata.get(BACKEND_TRAILER)).toEqual(['a']);
  });

  it('honours delayMs against the caller deadline', async () => {
    backend.setBehaviour({ delayMs: 300 });
    const client = new grpc.Client(backend.address, grpc.credentials.createInsecure());
    const code = await new Promise<grpc.status | undefined>((resolve) => {
      client.makeUnaryRequest(ECHO_METHOD, identity, identity, Buffer.alloc(0), new grpc.Metadata(), { deadline: Date.now() + 50 }, (err) =>
        resolve(err?.code),
      );
    });
    client.close();
    backend.setBehaviour({});
    expect(code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });
});

describe.each<XdsClientKind>(['js', 'py'])('%s client runner, --direct', (kind) => {
  let backend: EchoBackend;
  beforeAll(async () => {
    backend = await startEchoBackend({ name: `direct-${kind}` });
  });
  afterAll(() => backend.close());

  const cases = [
    { name: 'all calls succeed', behaviour: {}, ok: 6, errors: {} },
    {
      name: 'backend failures are tallied by status name',
      behaviour: { failWith: grpc.status.UNAVAILABLE },
      ok: 0,
      errors: { UNAVAILABLE: 6 },
    },
  ];
  it.each(cases)('once: $name', async ({ behaviour, ok, errors }) => {
    backend.setBehaviour(behaviour);
    const result = await runXdsClient(kind, {
      direct: backend.address,
      count: 6,
      concurrency: 2,
      metadata: { 'x-run': kind },
    });
    expect(result.ok).toBe(ok);
    expect(result.errors).toEqual(errors);
    expect(result.backends).toEqual(ok ? { [backend.name]: ok } : {});
    expect(backend.lastMetadata?.['x-run']).toBe(kind);
  });

  it('watch: streams one event per call and sees a behaviour change', async () => {
    backend.setBehaviour({});
    const watch = watchXdsClient(kind, { direct: backend.address, maxDurationMs: 20_000 });
    try {
      await watch.waitFor((e) => 'backend' in e && e.backend === backend.name);
      const changedAt = Date.now();
      backend.setBehaviour({ failWith: grpc.status.RESOURCE_EXHAUSTED });
      const failed = await watch.waitFor((e) => e.t >= changedAt && 'error' in e);
      expect(failed).toMatchObject({ error: 'RESOURCE_EXHAUSTED' });
    } finally {
      await watch.stop();
    }
    backend.setBehaviour({});
  });
});
