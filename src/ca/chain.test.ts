// Issue 15, enterprise PKI: Trellis signing with an intermediate under an operator's root,
// judged by `openssl verify -CAfile root -untrusted intermediate`, and every reason to refuse one.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, type RootFiles } from './authority.ts';
import { CaError, type CaErrorCode } from './errors.ts';
import { handshake, openssl, opensslIntermediate, opensslRoot, tempDir, writeFiles, type CaFiles } from './testkit.ts';

let dir: { path: string; cleanup: () => Promise<void> };
let n = 0;
const fresh = (): string => join(dir.path, `state-${++n}`);
const WEB = { namespace: 'demo', serviceAccount: 'web' };
let root: CaFiles;
let otherRoot: CaFiles;

beforeAll(async () => {
  dir = await tempDir('trellis-chain-');
  root = await opensslRoot(dir.path, 'corp-root', ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  otherRoot = await opensslRoot(dir.path, 'other-root');
});
afterAll(() => dir.cleanup());

/** `openssl verify -CAfile root -untrusted <the leaf's chain>` on a leaf. */
async function verifyLeaf(rootFile: string, leafPem: string, untrustedPem: string): Promise<string> {
  const f = await writeFiles(dir.path, { [`leaf-${++n}.pem`]: leafPem, [`untrusted-${n}.pem`]: untrustedPem });
  const args = ['verify', '-CAfile', rootFile, ...(untrustedPem ? ['-untrusted', f[`untrusted-${n}.pem`]!] : []), f[`leaf-${n}.pem`]!];
  const r = await openssl(args);
  return (r.stdout + r.stderr).trim();
}

async function refusal(open: Promise<unknown>): Promise<CaError> {
  const err = await open.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CaError);
  return err as CaError;
}

describe('an intermediate under the operator\'s root', () => {
  it('signs leaves that openssl verifies against the root with the intermediate untrusted; SDS material is leaf + intermediate, the bundle the root alone', async () => {
    const mid = await opensslIntermediate(dir.path, 'mid-a', root, { pathLen: 0 });
    const stateDir = fresh();
    const ca = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir, operatorRoot: { ...mid, chainFile: root.certFile } });
    const leaf = ca.issue(WEB);
    const midPem = await readFile(mid.certFile, 'utf8');
    expect(await verifyLeaf(root.certFile, leaf.certificatePem, midPem)).toMatch(/: OK$/);
    // Without the intermediate, the root alone cannot verify it: the chain is needed.
    expect(await verifyLeaf(root.certFile, leaf.certificatePem, '')).toContain('unable to get local issuer certificate');
    expect(leaf.certificateChainPem).toBe(leaf.certificatePem + midPem);
    expect(ca.trustBundlePem()).toBe(await readFile(root.certFile, 'utf8'));
    expect(ca.activeRoot.anchor.subject).toBe('O=Example Corp, CN=corp-root');
    expect(ca.activeRoot.pathLen).toBe(0);
    // The serving certificate carries the chain too, and restarts keep it all.
    expect(ca.issueServerCertificate().certificateChainPem).toContain(midPem);
    const again = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir });
    expect(again.activeRoot.fingerprint).toBe(ca.activeRoot.fingerprint);
    expect(again.trustBundlePem()).toBe(ca.trustBundlePem());
  });

  it('two levels (root → policy CA pathLen 1 → issuing CA pathLen 0), the root given apart with --root', async () => {
    const policy = await opensslIntermediate(dir.path, 'policy', root, { pathLen: 1 });
    const issuing = await opensslIntermediate(dir.path, 'issuing', policy, { pathLen: 0 });
    const ca = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir: fresh(), operatorRoot: { ...issuing, chainFile: policy.certFile, rootFile: root.certFile } });
    const leaf = ca.issue(WEB);
    expect(ca.activeRoot.intermediates.map((c) => c.subject)).toEqual(['O=Example Corp, CN=policy']);
    expect(await verifyLeaf(root.certFile, leaf.certificatePem, leaf.chainPem)).toMatch(/: OK$/);
    expect(leaf.chainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('a leaf expires no later than the intermediate above it', async () => {
    const short = await opensslIntermediate(dir.path, 'short', root, { days: 1 });
    const ca = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir: fresh(), operatorRoot: { ...short, chainFile: root.certFile } });
    const leaf = ca.issue(WEB, 7 * 24 * 3600_000);
    expect(leaf.notAfter).toBeLessThanOrEqual(ca.activeRoot.notAfter);
  });
});

describe('installations sharing one root, each with its own intermediate', () => {
  it('a leaf of one verifies against the other\'s trust bundle, and they complete mTLS both ways', async () => {
    const east = await opensslIntermediate(dir.path, 'east', root, { pathLen: 0 });
    const west = await opensslIntermediate(dir.path, 'west', root, { pathLen: 0 });
    const a = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir: fresh(), operatorRoot: { ...east, chainFile: root.certFile } });
    const b = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir: fresh(), operatorRoot: { ...west, chainFile: root.certFile } });
    expect(a.trustBundlePem()).toBe(b.trustBundlePem());
    const fromA = a.issue({ namespace: 'pay', serviceAccount: 'api' });
    const fromB = b.issue(WEB);
    const bundleB = (await writeFiles(dir.path, { 'bundle-b.pem': b.trustBundlePem() }))['bundle-b.pem']!;
    expect(await verifyLeaf(bundleB, fromA.certificatePem, fromA.chainPem)).toMatch(/: OK$/);
    const endpoint = (c: typeof fromA, bundle: string) => ({ certificateChainPem: c.certificateChainPem, privateKeyPem: c.privateKeyPem, ca: bundle });
    expect(await handshake(endpoint(fromA, a.trustBundlePem()), endpoint(fromB, b.trustBundlePem()), fromA.spiffeId)).toMatchObject({ ok: true, serverSawClient: fromB.spiffeId });
    expect(await handshake(endpoint(fromB, b.trustBundlePem()), endpoint(fromA, a.trustBundlePem()), fromB.spiffeId)).toMatchObject({ ok: true, serverSawClient: fromA.spiffeId });
    // Control: leaves presented without their intermediate are refused.
    const bare = { ...endpoint(fromB, b.trustBundlePem()), certificateChainPem: fromB.certificatePem };
    expect((await handshake(endpoint(fromA, a.trustBundlePem()), bare)).ok).toBe(false);
  });
});

describe('rotation under an operator root', () => {
  it('a new intermediate of the same root (no --root): the bundle keeps one root, old and new leaves verify through it', async () => {
    const first = await opensslIntermediate(dir.path, 'rot-1', root);
    const second = await opensslIntermediate(dir.path, 'rot-2', root);
    const stateDir = fresh();
    const ca = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir, operatorRoot: { ...first, chainFile: root.certFile } });
    const oldLeaf = ca.issue(WEB);
    // The chain may leave out the root: Trellis already holds it.
    await ca.beginRootRotation({ ...second });
    expect(ca.trustBundlePem()).toBe(await readFile(root.certFile, 'utf8'));
    const restarted = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir, renewalPolicy: { rotationGraceMs: 0 } });
    const newLeaf = restarted.issue(WEB);
    expect(newLeaf.chainPem).toBe(await readFile(second.certFile, 'utf8'));
    expect(await verifyLeaf(root.certFile, oldLeaf.certificatePem, oldLeaf.chainPem)).toMatch(/: OK$/);
    expect(await verifyLeaf(root.certFile, newLeaf.certificatePem, newLeaf.chainPem)).toMatch(/: OK$/);
  });

  it('a new root with a new intermediate (--root): both roots in the bundle until finished', async () => {
    const first = await opensslIntermediate(dir.path, 'rr-1', root);
    const next = await opensslIntermediate(dir.path, 'rr-2', otherRoot);
    const ca = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir: fresh(), operatorRoot: { ...first, chainFile: root.certFile } });
    await ca.beginRootRotation({ ...next, rootFile: otherRoot.certFile });
    const bundle = ca.trustBundlePem();
    expect(bundle).toContain(await readFile(root.certFile, 'utf8'));
    expect(bundle).toContain(await readFile(otherRoot.certFile, 'utf8'));
    await ca.finishRootRotation({ force: true });
    expect(ca.trustBundlePem()).toBe(await readFile(otherRoot.certFile, 'utf8'));
  });
});

interface BadCase {
  name: string;
  code: CaErrorCode;
  files: () => Promise<RootFiles>;
  /** What the one-line message must name. */
  mentions: RegExp;
  /** What OpenSSL says of a leaf under this CA, where it matters that we refuse what it refuses. */
  opensslRefuses?: RegExp;
}

const badCases: BadCase[] = [
  {
    name: 'a key that does not match the intermediate',
    code: 'key-mismatch',
    files: async () => ({ ...(await opensslIntermediate(dir.path, 'km', root)), keyFile: (await opensslIntermediate(dir.path, 'km-other', root)).keyFile, chainFile: root.certFile }),
    mentions: /km-other\.key is not the private key of .*km\.crt \(O=Example Corp, CN=km\)/,
  },
  {
    name: 'an intermediate with CA:FALSE',
    code: 'not-a-ca',
    files: async () => ({ ...(await opensslIntermediate(dir.path, 'leafy', root, { ext: 'basicConstraints=critical,CA:FALSE\n' })), chainFile: root.certFile }),
    mentions: /leafy\.crt \(O=Example Corp, CN=leafy, the signing CA\) is not a CA certificate/,
  },
  {
    name: 'an intermediate whose keyUsage lacks keyCertSign',
    code: 'not-a-ca',
    files: async () => ({ ...(await opensslIntermediate(dir.path, 'nosign', root, { ext: 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n' })), chainFile: root.certFile }),
    mentions: /nosign\.crt \(O=Example Corp, CN=nosign, the signing CA\) has keyUsage without keyCertSign/,
  },
  {
    name: 'an expired intermediate',
    code: 'expired',
    files: async () => ({ ...(await opensslIntermediate(dir.path, 'old', root, { days: -1 })), chainFile: root.certFile }),
    mentions: /old\.crt \(O=Example Corp, CN=old, the signing CA\) expired at/,
  },
  {
    name: 'a chain that does not reach the configured root (--root)',
    code: 'chain-incomplete',
    files: async () => ({ ...(await opensslIntermediate(dir.path, 'elsewhere', root)), chainFile: root.certFile, rootFile: otherRoot.certFile }),
    mentions: /the chain of .*elsewhere\.crt \(O=Example Corp, CN=elsewhere\) ends at root O=Example Corp, CN=corp-root .* not at the configured root O=Example Corp, CN=other-root/,
  },
  {
    name: 'a chain without the intermediate\'s issuer',
    code: 'chain-incomplete',
    files: async () => ({ ...(await opensslIntermediate(dir.path, 'orphan', root)), chainFile: otherRoot.certFile }),
    mentions: /orphan\.crt \(O=Example Corp, CN=orphan\) is issued by O=Example Corp, CN=corp-root, which is not in .*other-root\.crt/,
  },
  {
    name: 'a chain holding another root of the same name',
    code: 'chain-incomplete',
    files: async () => ({ ...(await opensslIntermediate(dir.path, 'twin', root)), chainFile: (await opensslRoot(dir.path, 'twin-root', ['-subj', '/O=Example Corp/CN=corp-root'])).certFile }),
    mentions: /twin\.crt \(O=Example Corp, CN=twin\) is issued by O=Example Corp, CN=corp-root, which is not in .*twin-root\.crt \(.*twin-root\.crt holds a certificate of that name, but its key did not sign this one/,
  },
  {
    name: 'pathLen 0 above the signing intermediate',
    code: 'path-length',
    files: async () => {
      const policy = await opensslIntermediate(dir.path, 'pl0-policy', root, { pathLen: 0 });
      return { ...(await opensslIntermediate(dir.path, 'pl0-issuing', policy)), chainFile: policy.certFile, rootFile: root.certFile };
    },
    mentions: /pl0-policy\.crt \(O=Example Corp, CN=pl0-policy\) has pathLen 0, .* puts 1 below it/,
    opensslRefuses: /path length constraint exceeded/,
  },
  {
    name: 'a root with pathLen 0 above the intermediate',
    code: 'path-length',
    files: async () => {
      const tight = await opensslRoot(dir.path, 'tight-root', ['-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0']);
      return { ...(await opensslIntermediate(dir.path, 'under-tight', tight)), rootFile: tight.certFile };
    },
    mentions: /tight-root\.crt \(O=Example Corp, CN=tight-root\) has pathLen 0/,
    opensslRefuses: /path length constraint exceeded/,
  },
];

describe('refuses a bad intermediate or chain: one clear line naming the certificate, nothing stored', () => {
  for (const c of badCases) {
    it(c.name, async () => {
      const files = await c.files();
      const stateDir = fresh();
      const err = await refusal(CertificateAuthority.open({ trustDomain: 'corp.example', stateDir, operatorRoot: files }));
      expect(err.code).toBe(c.code);
      expect(err.message).toMatch(c.mentions);
      expect(err.message).not.toContain('\n');
      const { exists } = await import('./files.ts');
      expect(await exists(join(stateDir, 'ca'))).toBe(false);
      if (c.opensslRefuses) {
        // The same CA made by hand signs a leaf OpenSSL refuses: the check matches the verifier.
        const leaf = await opensslIntermediate(dir.path, `leaf-under-${n}`, files, { ext: 'basicConstraints=critical,CA:FALSE\n' });
        const chain = [files.certFile, files.chainFile].filter((f): f is string => f !== undefined && f !== files.rootFile);
        const untrusted = (await Promise.all(chain.map((f) => readFile(f, 'utf8')))).join('');
        const rootFile = files.rootFile ?? root.certFile;
        expect(await verifyLeaf(rootFile, await readFile(leaf.certFile, 'utf8'), untrusted)).toMatch(c.opensslRefuses);
      }
    });
  }

  it('an intermediate of another root given to `ca rotate` without --root', async () => {
    const ca = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir: fresh(), operatorRoot: { ...(await opensslIntermediate(dir.path, 'cur', root)), chainFile: root.certFile } });
    const before = ca.trustBundlePem();
    const stray = await opensslIntermediate(dir.path, 'stray', otherRoot);
    const err = await refusal(ca.beginRootRotation({ ...stray, chainFile: otherRoot.certFile }));
    expect(err.code).toBe('chain-incomplete');
    expect(err.message).toMatch(/not at the configured root O=Example Corp, CN=corp-root/);
    expect(ca.retiringRoot).toBeUndefined();
    expect(ca.trustBundlePem()).toBe(before);
  });
});
