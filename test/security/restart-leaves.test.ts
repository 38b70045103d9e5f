import { afterEach, describe, expect, it } from 'vitest';
import client from 'prom-client';
import pino from 'pino';
import { openMeshSecurity } from '../../src/runtime/security.ts';
import { tempDir } from '../../src/ca/testkit.ts';

const TD = 'trellis.local';
const id = `spiffe://${TD}/ns/shop/sa/web`;
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

const open = (stateDir: string) => openMeshSecurity({ stateDir, trustDomain: TD, log: pino({ level: 'silent' }), registry: new client.Registry() });

describe('issue 14: a restarted control plane serves the workload certificates it held', () => {
  it('closing stores them; the next start restores them instead of signing new ones', async () => {
    const dir = await tempDir('trellis-restart-leaves-');
    cleanup = dir.cleanup;
    const first = await open(dir.path);
    const held = first.secrets.secretsFor([id]).find((r) => r.owner === id)!;
    await first.close();

    const second = await open(dir.path);
    const again = second.secrets.secretsFor([id]).find((r) => r.owner === id)!;
    // Same certificate, so the same SDS version: a reconnecting Envoy that names it is sent nothing.
    expect(again.version).toBe(held.version);
    await second.close();
  });
});
