/**
 * Issue 11 (brief conn), incremental adoption on a TCP port in transparent
 * mode, with real Envoys in network namespaces (needs root; skipped
 * otherwise). Two pods with the redirect and a transparent sidecar each:
 * open-1 is Permissive (its sidecar's `inbound` listener tells a TLS
 * ClientHello from plaintext on the same port, 5432), locked-1 Strict (6379).
 * A client without a sidecar (the node) reaches open-1's port and is refused
 * by locked-1's; each pod's application, a meshed client, reaches the other
 * over mTLS, and locked-1's application reaches its own Service through its
 * sidecar. See test/support/transparent-permissive-main.ts for the
 * topology. Bounded: a handful of connections, every process stopped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { netnsUnavailable, runInPodHarness } from '../support/netns.ts';
import { repoRoot } from '../support/venv.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'trellis-transparent-permissive-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const why = netnsUnavailable({ bins: ['setpriv'] });
if (why) console.warn(`test/e2e/transparent-permissive-tcp.test.ts skipped: ${why}`);

describe.skipIf(why !== null)('issue 11: transparent mode, Permissive and Strict mTLS on TCP ports, real Envoys', () => {
  it('a plaintext client without a sidecar reaches the Permissive workload\'s TCP port, the Strict one refuses it; meshed clients reach both over mTLS', () => {
    const r = runInPodHarness(path.join(repoRoot, 'test/support/transparent-permissive-main.ts'), tmp, 100_000, 2);
    const inbound = 'listener.0.0.0.0_15006';
    // Without a sidecar: open-1's sidecar took the plaintext on its plaintext twin chain...
    expect(r.plainToOpen).toBe('open: no sidecar\n');
    expect(r.open['tcp.inbound_5432_plaintext.downstream_cx_total']).toBe(1);
    // ...locked-1's has none: the plaintext met the TLS handshake (a TLS alert at most, never the application).
    expect(r.plainToLocked).not.toContain('locked:');
    expect(r.locked['tcp.inbound_6379_plaintext.downstream_cx_total']).toBeUndefined();
    expect(r.locked[`${inbound}.ssl.connection_error`]).toBeGreaterThanOrEqual(1);
    // Meshed: each reached the other on its mTLS chain (open-1's Permissive port still takes mTLS).
    expect(r.toOpen).toBe('open: meshed\n');
    expect(r.toLocked).toBe('locked: meshed\n');
    // A pod calling its own Service goes through its sidecar and back in on its own mTLS chain
    // (before the redirect sent the proxy's own-address connections inbound, the application got raw TLS bytes).
    expect(r.selfToLocked).toBe('locked: self\n');
    expect(r.open['tcp.inbound_5432.downstream_cx_total']).toBeGreaterThanOrEqual(1);
    expect(r.open[`${inbound}.ssl.handshake`]).toBeGreaterThanOrEqual(1);
    expect(r.locked[`${inbound}.ssl.handshake`]).toBeGreaterThanOrEqual(1);
  }, 110_000);
});
