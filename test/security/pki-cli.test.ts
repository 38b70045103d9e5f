/**
 * Issue 15, enterprise PKI at the command line: `trellis ca import` stores an
 * operator's intermediate with its chain, `trellis serve` signs with it (SDS:
 * certificate_chain = leaf + intermediate, the bundle the root alone), `ca
 * show` prints the chain; and every bad intermediate or chain given to `ca
 * rotate` (and `ca import`, `ca show`) against the running server's state dir
 * is refused with one line naming the file, the certificate's subject and
 * what is wrong, exit 1, no stack trace; the state dir is byte-for-byte
 * unchanged and the running server keeps its CA and trust bundle.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openssl, opensslIntermediate, opensslRoot, writeFiles, type CaFiles } from '../../src/ca/testkit.ts';
import { identitySecrets, bundleRoots, sidecar, startSecure, subscribeSds, tempDir, tokenMetadata, trellis, TRUST_BUNDLE_SECRET, WORKLOAD_CERTIFICATE_SECRET, type SecureHarness } from './support.ts';

const tmp = tempDir('pki-cli');
const pki = path.join(tmp, 'pki');
const stateDir = path.join(tmp, 'state');
let root: CaFiles;
let otherRoot: CaFiles;
let mid: CaFiles;
let h: SecureHarness;

beforeAll(async () => {
  mkdirSync(pki);
  root = await opensslRoot(pki, 'corp-root', ['-addext', 'basicConstraints=critical,CA:TRUE,pathlen:1', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  otherRoot = await opensslRoot(pki, 'other-root');
  mid = await opensslIntermediate(pki, 'mesh-ca', root, { pathLen: 0 });
  const run = await trellis(['ca', 'import', '--state-dir', stateDir, '--cert', mid.certFile, '--key', mid.keyFile, '--chain', root.certFile]);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/^imported the intermediate O=Example Corp, CN=mesh-ca \([0-9A-F:]+\) under root O=Example Corp, CN=corp-root/);
  h = await startSecure({ stateDir, renewalCheckMs: 100, plaintextXdsAddress: undefined });
}, 60_000);

afterAll(async () => {
  await h?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Every file of the state dir's CA, with a hash of its bytes. */
function stateSnapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(path.join(stateDir, 'ca')).sort()) out[name] = createHash('sha256').update(readFileSync(path.join(stateDir, 'ca', name))).digest('hex');
  out['trust-anchor.json'] = createHash('sha256').update(readFileSync(path.join(stateDir, 'trust-anchor.json'))).digest('hex');
  return out;
}

describe('issue 15: trellis ca import, then serve, with an operator\'s intermediate', () => {
  it('SDS carries leaf + intermediate as certificate_chain and the root alone as the bundle; openssl verifies the leaf', async () => {
    const s = h.tlsClient(readFileSync(root.certFile, 'utf8')).sotw(tokenMetadata(h.token('frontend', 'demo/frontend')));
    const r = await subscribeSds(s, sidecar('frontend'), [WORKLOAD_CERTIFICATE_SECRET, TRUST_BUNDLE_SECRET]);
    const [secret] = identitySecrets(r);
    const blocks = secret!.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
    expect(blocks).toHaveLength(2);
    expect(blocks[1]).toBe(readFileSync(mid.certFile, 'utf8'));
    expect(bundleRoots(r)!.map((c) => c.subject)).toEqual(['O=Example Corp\nCN=corp-root']);
    const f = await writeFiles(tmp, { 'sds-leaf.pem': blocks[0]! });
    expect((await openssl(['verify', '-CAfile', root.certFile, '-untrusted', mid.certFile, f['sds-leaf.pem']!])).stdout.trim()).toBe(`${f['sds-leaf.pem']}: OK`);
    s.close();
  });

  it('`trellis ca show` prints the chain: subjects, validity, pathLen, the bundle', async () => {
    const run = await trellis(['ca', 'show', '--state-dir', stateDir]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^active CA: an intermediate, 1 certificate\(s\) up to its root\n/);
    expect(run.stdout).toMatch(/ signing CA +O=Example Corp, CN=mesh-ca\n +issued by O=Example Corp, CN=corp-root\n +valid \S+ \.\. \S+ \(\d+ days left\), pathLen 0\n/);
    expect(run.stdout).toMatch(/ root +O=Example Corp, CN=corp-root\n +valid .*, pathLen 1\n/);
    expect(run.stdout).toMatch(/^trust bundle: O=Example Corp, CN=corp-root \(/m);
    const json = JSON.parse((await trellis(['ca', 'show', '--state-dir', stateDir, '--json'])).stdout) as { cas: Array<{ chain: Array<{ role: string; pathLen: number | null }> }> };
    expect(json.cas[0]!.chain.map((c) => [c.role, c.pathLen])).toEqual([['signing CA', 0], ['root', 1]]);
  });

  it('`trellis certs` and /api/v1/certificates name the intermediate and the root it chains to', async () => {
    const run = await trellis(['certs', '--admin-address', h.adminAddress]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^intermediate \(active\) +[0-9A-F:]+ +\S+ \.\. \S+ +O=Example Corp, CN=mesh-ca +under root O=Example Corp, CN=corp-root \(/m);
    const listing = await h.json<{ roots: Array<{ subject: string; root?: { subject: string } }> }>('/api/v1/certificates');
    expect(listing.roots.map((r) => [r.subject, r.root?.subject])).toEqual([['O=Example Corp, CN=mesh-ca', 'O=Example Corp, CN=corp-root']]);
  });

  it('`trellis ca --help` and `ca rotate --help` document every step', async () => {
    for (const args of [['ca', '--help'], ['ca', 'rotate', '--help']]) {
      const run = await trellis(args);
      expect(run.code).toBe(0);
      for (const flag of ['import', '--chain', '--root', 'show', '--finish']) expect(run.stdout).toContain(flag);
    }
  });
});

interface BadInput {
  name: string;
  /** The command after `trellis ca`, minus --state-dir. */
  args: () => Promise<string[]>;
  /** The one line, after "trellis ca: ". */
  message: RegExp;
}

const FILES = (f: CaFiles & { chainFile?: string; rootFile?: string }) => ['--cert', f.certFile, '--key', f.keyFile, ...(f.chainFile ? ['--chain', f.chainFile] : []), ...(f.rootFile ? ['--root', f.rootFile] : [])];

const badInputs: BadInput[] = [
  {
    name: 'rotate: a key that does not match the intermediate',
    args: async () => ['rotate', ...FILES({ ...(await opensslIntermediate(pki, 'km', root)), keyFile: mid.keyFile })],
    message: /mesh-ca\.key is not the private key of .*km\.crt \(O=Example Corp, CN=km\)\. To fix: /,
  },
  {
    name: 'rotate: an intermediate with CA:FALSE',
    args: async () => ['rotate', ...FILES(await opensslIntermediate(pki, 'not-ca', root, { ext: 'basicConstraints=critical,CA:FALSE\n' }))],
    message: /not-ca\.crt \(O=Example Corp, CN=not-ca, the signing CA\) is not a CA certificate \(basicConstraints CA:TRUE is missing\)\. To fix: /,
  },
  {
    name: 'rotate: an intermediate without keyCertSign',
    args: async () => ['rotate', ...FILES(await opensslIntermediate(pki, 'no-sign', root, { ext: 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n' }))],
    message: /no-sign\.crt \(O=Example Corp, CN=no-sign, the signing CA\) has keyUsage without keyCertSign/,
  },
  {
    name: 'rotate: an expired intermediate',
    args: async () => ['rotate', ...FILES(await opensslIntermediate(pki, 'expired', root, { days: -1 }))],
    message: /expired\.crt \(O=Example Corp, CN=expired, the signing CA\) expired at \d{4}-/,
  },
  {
    name: 'rotate: an intermediate of another root, without --root (the configured root is the one in use)',
    args: async () => ['rotate', ...FILES({ ...(await opensslIntermediate(pki, 'stray', otherRoot)), chainFile: otherRoot.certFile })],
    message: /the chain of .*stray\.crt \(O=Example Corp, CN=stray\) ends at root O=Example Corp, CN=other-root .*not at the configured root O=Example Corp, CN=corp-root/,
  },
  {
    name: 'rotate: a chain that does not reach --root',
    args: async () => ['rotate', ...FILES({ ...(await opensslIntermediate(pki, 'lost', root)), chainFile: root.certFile, rootFile: otherRoot.certFile })],
    message: /ends at root O=Example Corp, CN=corp-root .*not at the configured root O=Example Corp, CN=other-root \(.*other-root\.crt\)/,
  },
  {
    name: 'rotate: pathLen exceeded (the root allows 1 intermediate, the chain has 2)',
    args: async () => {
      const policy = await opensslIntermediate(pki, 'policy', root);
      return ['rotate', ...FILES({ ...(await opensslIntermediate(pki, 'issuing', policy)), chainFile: policy.certFile })];
    },
    message: /ca\/root\.crt \(O=Example Corp, CN=corp-root\) has pathLen 1, which allows 1 intermediate CA below it, but this chain puts 2 below it/,
  },
  {
    name: 'import: another CA on a state dir that has one',
    args: async () => ['import', ...FILES({ ...(await opensslIntermediate(pki, 'second', root)), chainFile: root.certFile })],
    message: /the state dir already trusts another root .* than .*second\.crt\. To fix: .*trellis ca rotate --cert .*second\.crt --key .*second\.key --chain /,
  },
  {
    name: 'show: files checked before import',
    args: async () => ['show', ...FILES({ ...(await opensslIntermediate(pki, 'show-bad', root, { days: -1 })), chainFile: root.certFile })],
    message: /show-bad\.crt \(O=Example Corp, CN=show-bad, the signing CA\) expired at/,
  },
  {
    name: 'rotate: a chain file that does not exist',
    args: async () => ['rotate', ...FILES({ ...(await opensslIntermediate(pki, 'nochain', root)), chainFile: path.join(pki, 'missing.pem') })],
    message: /cannot read .*missing\.pem \(ENOENT\)/,
  },
];

describe('issue 15: a bad intermediate or chain is refused, and the running server keeps its CA', () => {
  for (const c of badInputs) {
    it(c.name, async () => {
      const before = stateSnapshot();
      const bundle = h.server.security!.ca.trustBundlePem();
      const signer = h.server.security!.ca.activeRoot.fingerprint;
      const run = await trellis(['ca', ...(await c.args()), '--state-dir', stateDir]);
      expect(run.code, run.stdout).toBe(1);
      // The refusal is one line; log lines (JSON, on stderr) may come before it.
      const lines = run.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{"level"'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^trellis ca: /);
      expect(lines[0]!.slice('trellis ca: '.length)).toMatch(c.message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(stateSnapshot()).toEqual(before);
      await new Promise((r) => setTimeout(r, 300)); // three reload checks
      expect(h.server.security!.ca.trustBundlePem()).toBe(bundle);
      expect(h.server.security!.ca.activeRoot.fingerprint).toBe(signer);
      expect(h.server.security!.ca.retiringRoot).toBeUndefined();
    });
  }
});
