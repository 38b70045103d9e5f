/**
 * Issue 4 at the command line: `trellis serve` on a corrupt state dir
 * refuses to start (non-zero, a message that says what is wrong and how to
 * fix it, no stack trace, never listening); `trellis certs` against a
 * running server lists serials and SPIFFE IDs and never a key.
 */
import { createServer } from 'node:net';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../src/ca/authority.ts';
import {
  CONTROL_PLANE_ID,
  identitySecrets,
  quietLog,
  sidecar,
  spiffe,
  startSecure,
  subscribeSds,
  tempDir,
  tokenMetadata,
  trellis,
  TRUST_BUNDLE_SECRET,
  uriSans,
  WORKLOAD_CERTIFICATE_SECRET,
  type SecureHarness,
} from './support.ts';

/** A port nothing listens on right now (the child must not take it). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

async function listening(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('trellis serve refuses a corrupt state dir', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A state dir with a real root, then broken by `breakIt`. */
  async function brokenStateDir(breakIt: (caDir: string) => void): Promise<string> {
    const dir = tempDir('corrupt');
    dirs.push(dir);
    await CertificateAuthority.open({ trustDomain: 'trellis.local', stateDir: dir, logger: quietLog() });
    breakIt(path.join(dir, 'ca'));
    return dir;
  }

  it.each([
    ['garbage in ca/root.crt', (ca: string) => writeFileSync(path.join(ca, 'root.crt'), 'garbage\n'), /root\.crt.*(PEM|CERTIFICATE)/, /To fix: restore .*root\.crt/],
    ['ca/root.key missing', (ca: string) => unlinkSync(path.join(ca, 'root.key')), /root\.key/, /To fix: restore/],
  ])('%s: exits 1 within seconds, says what and how, never listens', async (_label, breakIt, what, how) => {
    const stateDir = await brokenStateDir(breakIt);
    const [xds, admin] = [await freePort(), await freePort()];
    const run = await trellis(['serve', '--source', 'file:examples/demo', '--state-dir', stateDir, '--xds-address', `127.0.0.1:${xds}`, '--admin-address', `127.0.0.1:${admin}`], 15_000);
    expect(run.code).toBe(1);
    expect(run.ms).toBeLessThan(10_000);
    expect(run.stderr).toMatch(/^trellis serve: /m);
    expect(run.stderr).toMatch(what);
    expect(run.stderr).toMatch(how);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(run.stdout + run.stderr).not.toContain('trellis serving');
    expect(await listening(xds)).toBe(false);
    expect(await listening(admin)).toBe(false);
  });
});

describe('trellis certs against a running server', () => {
  let h: SecureHarness;
  let serial: string;
  beforeAll(async () => {
    h = await startSecure({ plaintextXdsAddress: undefined });
    // A sidecar connects, so frontend's certificate exists.
    const s = h.tlsClient().sotw(tokenMetadata(h.token('frontend', 'demo/frontend')));
    const r = await subscribeSds(s, sidecar('frontend'), [WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET]);
    const [mine] = identitySecrets(r);
    expect(uriSans(mine!.cert)).toEqual([spiffe('frontend')]);
    serial = mine!.cert.serialNumber;
    s.close();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('prints serials, SPIFFE IDs and roots; never a private key', async () => {
    const run = await trellis(['certs', '--admin-address', h.adminAddress]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(spiffe('frontend'));
    expect(run.stdout).toContain(serial);
    expect(run.stdout).toContain(h.server.security!.serverCertificate.serial);
    expect(run.stdout).toContain(h.server.security!.ca.activeRoot.fingerprint);
    expect(run.stdout).toMatch(/^root \(active\)/m);
    expect(run.stdout + run.stderr).not.toMatch(/PRIVATE KEY|BEGIN /);
  });

  it('--json: the same, machine-readable, and no key material', async () => {
    const run = await trellis(['certs', '--json', '--admin-address', h.adminAddress]);
    expect(run.code).toBe(0);
    const listing = JSON.parse(run.stdout) as { certificates: Array<{ kind: string; spiffeId: string | null; serial: string }> };
    expect(listing.certificates).toContainEqual(expect.objectContaining({ kind: 'workload', spiffeId: spiffe('frontend'), serial }));
    expect(listing.certificates).toContainEqual(expect.objectContaining({ kind: 'server', spiffeId: CONTROL_PLANE_ID }));
    expect(run.stdout).not.toMatch(/PRIVATE KEY|BEGIN |privateKey|private_key/);
  });

  it('without a server: a clear error, exit 1, no stack trace', async () => {
    const run = await trellis(['certs', '--admin-address', `127.0.0.1:${await freePort()}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^trellis certs: .*is trellis serve running/m);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

// A state dir whose ca/ is a file, not a directory: also refused with a fix.
describe('trellis serve: ca/ is not a directory', () => {
  it('exits 1 with the path and a fix', async () => {
    const dir = tempDir('cafile');
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'ca'), 'not a dir');
      const run = await trellis(['serve', '--source', 'file:examples/demo', '--state-dir', dir, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'], 15_000);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^trellis serve: .*ca is not a directory.*To fix:/m);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
