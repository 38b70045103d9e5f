/**
 * Issue 4, "rotation": new secrets reach a live SDS stream without closing
 * it (re-issue + republish, and the serve renewal loop on its own), and a
 * root rotation through the CLI (`trellis ca rotate`, then `--finish`) on the
 * running server's state dir: the stream first gets a bundle with both roots
 * (its leaf still from the old root), then, after the grace, a leaf from the
 * new root; old and new leaves complete a mutual-TLS handshake through that
 * bundle, and after --finish the bundle holds only the new root. The xDS
 * port's own certificate follows: old root (every earlier bootstrap trusts
 * it) until --finish, then the new root, swapped on the live server without
 * closing the open stream.
 */
import { X509Certificate } from 'node:crypto';
import { rmSync } from 'node:fs';
import tls from 'node:tls';
import pino from 'pino';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../src/ca/authority.ts';
import { workloadBootstrapYaml } from '../../src/runtime/bootstrap.ts';
import { buildMesh } from '../../src/model/index.ts';
import { loadPaths } from '../../src/sources/file/load.ts';
import { eventually } from '../support/conformance.ts';
import type { SotwResponseView, SotwStream } from '../support/ads-client.ts';
import {
  bundleRoots,
  DEMO,
  identitySecrets,
  pemCertificates,
  sidecar,
  spiffe,
  startSecure,
  subscribeSds,
  tokenMetadata,
  trellis,
  TRUST_BUNDLE_SECRET,
  uriSans,
  WORKLOAD_CERTIFICATE_SECRET,
  type IdentitySecret,
  type SecureHarness,
} from './support.ts';

const FRONTEND = spiffe('frontend');
/** What a sidecar asks for: its certificate under the one fixed name, and the bundle. */
const NAMES = [WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET];
/** After `ca rotate`, leaves stay on the old root this long (the bundle's propagation), then move within SPREAD_MS. */
const GRACE_MS = 1500;
const SPREAD_MS = 500;

/** What a SotW SDS client holds: responses carry only what changed, so fold them. */
class SdsHolder {
  cert?: IdentitySecret;
  roots: X509Certificate[] = [];
  responses = 0;
  constructor(readonly s: SotwStream) {}
  fold(r: SotwResponseView): void {
    this.responses++;
    const [c] = identitySecrets(r);
    if (c) this.cert = c;
    const roots = bundleRoots(r);
    if (roots) this.roots = roots;
  }
  /** Reads (and ACKs) responses until `pred` holds for what is held. */
  async until(pred: (h: SdsHolder) => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!pred(this)) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`SDS state not reached within ${ms} ms (held ${this.cert?.cert.serialNumber}, ${this.roots.length} roots)`);
      const r = await this.s.next(left);
      this.s.ack(r, NAMES);
      this.fold(r);
    }
  }
}

let h: SecureHarness;
let holder: SdsHolder;
let streamIds: number[];
const serials: string[] = [];

beforeAll(async () => {
  h = await startSecure({ renewalCheckMs: 200, plaintextXdsAddress: undefined, rotationGraceMs: GRACE_MS, rotationSpreadMs: SPREAD_MS });
  const s = h.tlsClient().sotw(tokenMetadata(h.token('frontend', 'demo/frontend')));
  holder = new SdsHolder(s);
  holder.fold(await subscribeSds(s, sidecar('frontend'), NAMES));
  if (!holder.cert) throw new Error(`no ${WORKLOAD_CERTIFICATE_SECRET} secret for a stream proving ${FRONTEND}`);
  expect(holder.cert.name).toBe(WORKLOAD_CERTIFICATE_SECRET);
  expect(uriSans(holder.cert.cert)).toEqual([FRONTEND]);
  serials.push(holder.cert.cert.serialNumber);
  streamIds = frontendStreamIds();
});
afterAll(async () => {
  holder?.s.close();
  await h?.close();
});

function frontendStreamIds(): number[] {
  return (h.server.xds.syncStatus().find((n) => n.node.id === 'demo/frontend')?.streams ?? []).map((s) => s.id);
}

/** The stream never ended and is still the server's one stream for the node. */
function sameStream(): void {
  expect(holder.s.status).toBeUndefined();
  expect(streamIds).toHaveLength(1);
  expect(frontendStreamIds()).toEqual(streamIds);
}

describe('renewal on a live stream', () => {
  it('a re-issued certificate is pushed on the same stream (issue + republish)', async () => {
    const fresh = h.server.security!.ca.issue(FRONTEND);
    h.server.mesh!.publisher.republish();
    await holder.until((x) => x.cert!.cert.serialNumber !== serials.at(-1), 3000);
    expect(holder.cert!.cert.serialNumber).toBe(fresh.serial);
    serials.push(holder.cert!.cert.serialNumber);
    expect(uriSans(holder.cert!.cert)).toEqual([FRONTEND]);
    sameStream();
  });

  it('the renewal loop replaces a due certificate by itself', async () => {
    // A certificate already past two thirds of its life: the next check renews
    // it and republishes, with no call from the test.
    const due = h.server.security!.ca.issue(FRONTEND, 2_000);
    await holder.until((x) => !serials.includes(x.cert!.cert.serialNumber) && x.cert!.cert.serialNumber !== due.serial, 3000);
    const lifetimeH = (Date.parse(holder.cert!.cert.validTo) - Date.now()) / 3600_000;
    expect(lifetimeH).toBeGreaterThan(23); // a full-lifetime replacement
    serials.push(holder.cert!.cert.serialNumber);
    sameStream();
  });
});

/** One mutual-TLS handshake: true if both sides accepted the other. */
async function handshake(server: IdentitySecret, client: IdentitySecret, serverCa: string, clientCa: string): Promise<{ ok: boolean; serverSawClient?: string; clientSawServer?: string; error?: string }> {
  const ts = tls.createServer({ cert: server.chainPem, key: server.keyPem, ca: serverCa, requestCert: true, rejectUnauthorized: true }, (sock) => {
    sock.end('hi');
  });
  let serverSawClient: string | undefined;
  ts.on('secureConnection', (sock) => {
    serverSawClient = uriSans(sock.getPeerX509Certificate()!)[0];
  });
  await new Promise<void>((r) => ts.listen(0, '127.0.0.1', r));
  const port = (ts.address() as { port: number }).port;
  try {
    return await new Promise((resolve) => {
      const sock = tls.connect({
        host: '127.0.0.1',
        port,
        cert: client.chainPem,
        key: client.keyPem,
        ca: clientCa,
        // Leaves carry only a SPIFFE URI: check the peer's identity, not a host name.
        checkServerIdentity: () => undefined,
      });
      sock.setTimeout(3000, () => sock.destroy(new Error('timeout')));
      sock.once('data', () => {
        resolve({ ok: sock.authorized, serverSawClient, clientSawServer: uriSans(sock.getPeerX509Certificate()!)[0] });
        sock.destroy();
      });
      sock.once('error', (e) => resolve({ ok: false, error: e.message }));
      sock.once('close', () => resolve({ ok: false, error: 'closed' }));
    });
  } finally {
    ts.close();
  }
}

/** Can a client that trusts `caPem` (alone) open a new TLS connection to the xDS port and get its secrets? */
async function connects(caPem: string, on: SecureHarness = h): Promise<boolean> {
  const s = on.tlsClient(caPem).sotw(tokenMetadata(on.token('frontend', 'demo/frontend')));
  try {
    const r = await subscribeSds(s, sidecar('frontend'), NAMES, 3000);
    return r.names.includes(TRUST_BUNDLE_SECRET);
  } catch {
    return false;
  } finally {
    s.close();
  }
}

/** The roots a bootstrap written now for demo/frontend trusts for the xDS port. */
async function bootstrapRoots(): Promise<string[]> {
  const { model } = buildMesh((await loadPaths([DEMO])).objects);
  const yaml = await workloadBootstrapYaml({ model, workloadKey: 'demo/frontend', stateDir: h.stateDir, mode: 'explicit', xdsAddress: '127.0.0.1:18000', adminAddress: '127.0.0.1:15000' });
  // The PEM sits indented in a YAML block string: read it as YAML.
  const pems: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string' && v.includes('BEGIN CERTIFICATE')) pems.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(parse(yaml));
  return pems.flatMap((p) => pemCertificates(p)).map((c) => c.fingerprint256);
}

describe('root rotation through the CLI', () => {
  let oldLeaf: IdentitySecret;
  let oldRoot: X509Certificate;
  let newRoot: X509Certificate;

  it('`trellis ca rotate` on the state dir: the live stream gets both roots first, a leaf from the new root only after the grace', async () => {
    oldLeaf = holder.cert!;
    oldRoot = holder.roots[0]!;
    expect(holder.roots).toHaveLength(1);
    const run = await trellis(['ca', 'rotate', '--state-dir', h.stateDir, '--trust-domain', 'trellis.local']);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('root rotation begun');
    const t0 = Date.now();
    // The bundle comes first, with the leaf still from the old root: a peer
    // whose push comes later still accepts it.
    await holder.until((x) => x.roots.length === 2, 5000);
    expect(holder.cert!.cert.checkIssued(oldRoot)).toBe(true);
    expect(holder.cert!.cert.serialNumber).toBe(oldLeaf.cert.serialNumber);
    // The start is persisted in the state dir (a restart keeps the schedule).
    const started = await h.json<{ rotation: { startedAt: string } }>('/api/v1/certificates');
    const startedAt = Date.parse(started.rotation.startedAt);
    expect(Math.abs(startedAt - Date.now())).toBeLessThan(10_000);
    await holder.until((x) => !x.cert!.cert.checkIssued(oldRoot), 5000);
    // Not before the grace after the start that `ca rotate` recorded.
    expect(Date.now()).toBeGreaterThanOrEqual(startedAt + GRACE_MS);
    expect(Date.now() - t0).toBeLessThan(5000);
    newRoot = holder.roots.find((r) => r.fingerprint256 !== oldRoot.fingerprint256)!;
    expect(holder.roots.map((r) => r.fingerprint256)).toContain(oldRoot.fingerprint256);
    expect(holder.cert!.cert.checkIssued(newRoot)).toBe(true);
    expect(holder.cert!.cert.verify(newRoot.publicKey)).toBe(true);
    expect(uriSans(holder.cert!.cert)).toEqual([FRONTEND]);
    // The admin API reports the rotation in progress.
    const listing = await h.json<{ roots: Array<{ state: string; fingerprint: string }>; rotation: { complete: boolean } | null }>('/api/v1/certificates');
    expect(listing.roots.map((r) => r.state)).toEqual(['active', 'retiring']);
    expect(listing.rotation).not.toBeNull();
    sameStream();
  });

  it('an old-root leaf and a new-root leaf handshake through the overlapping bundle (both directions)', async () => {
    const bundle = [newRoot, oldRoot].map((r) => r.toString()).join('');
    const newLeaf = holder.cert!;
    const a = await handshake(oldLeaf, newLeaf, bundle, bundle);
    expect(a).toEqual({ ok: true, serverSawClient: FRONTEND, clientSawServer: FRONTEND });
    const b = await handshake(newLeaf, oldLeaf, bundle, bundle);
    expect(b).toEqual({ ok: true, serverSawClient: FRONTEND, clientSawServer: FRONTEND });
    // Control: a peer that trusts only the old root refuses the new leaf.
    const refused = await handshake(oldLeaf, newLeaf, oldRoot.toString(), bundle);
    expect(refused.ok).toBe(false);
  });

  it('during the rotation the xDS port keeps its old-root certificate: clients trusting only the old root connect; bootstraps written now trust both roots', async () => {
    expect(h.server.security!.serverCertificate.issuerFingerprint).toBe(oldRoot.fingerprint256);
    expect(await connects(oldRoot.toString())).toBe(true);
    expect(await connects(h.server.security!.ca.trustBundlePem())).toBe(true);
    expect((await bootstrapRoots()).sort()).toEqual([oldRoot.fingerprint256, newRoot.fingerprint256].sort());
    // The serving certificate does not hold --finish back: only workloads count.
    // Every workload's certificate is issued ahead of its proxy, so the others
    // move within the spread after the grace too; wait for the last of them.
    const deadline = Date.now() + GRACE_MS + SPREAD_MS + 3000;
    let listing = await h.json<{ rotation: { complete: boolean } }>('/api/v1/certificates');
    while (!listing.rotation.complete && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      listing = await h.json<{ rotation: { complete: boolean } }>('/api/v1/certificates');
    }
    expect(listing.rotation.complete).toBe(true);
    expect(h.server.security!.serverCertificate.issuerFingerprint).toBe(oldRoot.fingerprint256);
  });

  it('`trellis ca rotate --finish` succeeds and the bundle drops the old root', async () => {
    const beforeFinish = holder.cert!.cert.serialNumber;
    const run = await trellis(['ca', 'rotate', '--finish', '--state-dir', h.stateDir, '--admin-address', h.adminAddress]);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('root rotation finished');
    await holder.until((x) => x.roots.length === 1, 5000);
    expect(holder.roots[0]!.fingerprint256).toBe(newRoot.fingerprint256);
    expect(holder.cert!.cert.checkIssued(newRoot)).toBe(true);
    // Certificates already on the new root are kept, not re-issued at --finish.
    expect(holder.cert!.cert.serialNumber).toBe(beforeFinish);
    const listing = await h.json<{ roots: Array<{ state: string }>; rotation: unknown }>('/api/v1/certificates');
    expect(listing.roots.map((r) => r.state)).toEqual(['active']);
    expect(listing.rotation).toBeNull();
    sameStream();
  });

  it('after --finish the live server serves a new-root certificate: a bootstrap written now (new root only) connects, the open stream stays', async () => {
    // Before the fix the port kept its old-root certificate until a restart:
    // "self-signed certificate in certificate chain" for these clients.
    expect(await bootstrapRoots()).toEqual([newRoot.fingerprint256]);
    const ok = await eventually(() => h.server.security!.serverCertificate.issuerFingerprint === newRoot.fingerprint256, 3000);
    expect(ok).toBe(true);
    expect(await connects(newRoot.toString())).toBe(true);
    // The old root is no longer trusted by anyone: a client holding only it is refused.
    expect(await connects(oldRoot.toString())).toBe(false);
    // The swap applies to new handshakes: the stream opened before the rotation is untouched.
    sameStream();
    const fresh = h.server.security!.ca.issue(FRONTEND);
    h.server.mesh!.publisher.republish();
    await holder.until((x) => x.cert!.cert.serialNumber === fresh.serial, 3000);
    sameStream();
  });

  it('a second --finish is refused with a clear message, no stack trace', async () => {
    const run = await trellis(['ca', 'rotate', '--finish', '--state-dir', h.stateDir, '--admin-address', h.adminAddress]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no root rotation is in progress');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('the reload check only reads the state dir', () => {
  it('rotations written while the server checks every millisecond never fail, and the server ends on the written roots', async () => {
    // Before: each check ran the CA's crash recovery on the state dir (deleting
    // *.tmp-*, committing next.*) under the feet of `trellis ca rotate`.
    const busy = await startSecure({ sourceDir: undefined, plaintextXdsAddress: undefined, renewalCheckMs: 1 });
    try {
      const quiet = pino({ level: 'silent' });
      const open = () => CertificateAuthority.open({ trustDomain: 'trellis.local', stateDir: busy.stateDir, logger: quiet });
      for (let i = 0; i < 8; i++) {
        await (await open()).beginRootRotation();
        await (await open()).finishRootRotation({ force: true });
      }
      const written = (await open()).activeRoot.fingerprint;
      const ok = await eventually(() => busy.server.security!.ca.activeRoot.fingerprint === written && !busy.server.security!.ca.retiringRoot, 3000);
      expect(ok).toBe(true);
    } finally {
      await busy.close();
    }
  });
});

describe('a restart in the middle of a rotation', () => {
  it('keeps serving the xDS port from the old root (its key is kept in the state dir) until --finish', async () => {
    const quiet = pino({ level: 'silent' });
    const first = await startSecure({ plaintextXdsAddress: undefined, renewalCheckMs: 100 });
    const stateDir = first.stateDir;
    const oldPem = first.rootPem;
    let second: SecureHarness | undefined;
    try {
      await (await CertificateAuthority.open({ trustDomain: 'trellis.local', stateDir, logger: quiet })).beginRootRotation();
      await first.server.stop(); // the state dir outlives this server
      second = await startSecure({ plaintextXdsAddress: undefined, renewalCheckMs: 100, stateDir });
      const ca = second.server.security!.ca;
      const newPem = ca.activeRoot.certificatePem;
      expect(ca.retiringRoot?.certificatePem).toBe(oldPem);
      expect(await connects(oldPem, second)).toBe(true); // bootstraps written before the rotation
      expect(await connects(ca.trustBundlePem(), second)).toBe(true); // bootstraps written during it
      await (await CertificateAuthority.open({ trustDomain: 'trellis.local', stateDir, logger: quiet })).finishRootRotation({ force: true });
      expect(await eventually(() => second!.server.security!.serverCertificate.issuerFingerprint === new X509Certificate(newPem).fingerprint256, 3000)).toBe(true);
      expect(await connects(newPem, second)).toBe(true);
    } finally {
      await second?.close();
      rmSync(stateDir, { recursive: true, force: true }); // first's, already stopped
    }
  });
});
