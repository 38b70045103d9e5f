// Startup: persistence across restarts, operator roots, and every reason to refuse.
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from './authority.ts';
import { CaError, type CaErrorCode } from './errors.ts';
import { generateRoot } from './root.ts';
import { openssl, opensslRoot, tempDir, writeFiles } from './testkit.ts';

const DAY = 24 * 3600_000;
let dir: { path: string; cleanup: () => Promise<void> };
let n = 0;
const fresh = (): string => join(dir.path, `state-${++n}`);

beforeAll(async () => {
  dir = await tempDir();
});
afterAll(() => dir.cleanup());

async function refusal(open: Promise<unknown>): Promise<CaError> {
  const err = await open.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CaError);
  return err as CaError;
}

describe('persistence', () => {
  it('a restarted CA on the same state dir keeps the same root, and old leaves still verify', async () => {
    const stateDir = fresh();
    const first = await CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir });
    const leaf = first.issue({ namespace: 'demo', serviceAccount: 'web' });
    const second = await CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir });
    expect(second.activeRoot.fingerprint).toBe(first.activeRoot.fingerprint);
    const files = await writeFiles(dir.path, { 'p-root.pem': second.trustBundlePem(), 'p-leaf.pem': leaf.certificatePem });
    expect((await openssl(['verify', '-CAfile', files['p-root.pem']!, files['p-leaf.pem']!])).stdout).toContain(': OK');
  });

  it('writes root.crt and root.key (mode 0600) under <state-dir>/ca', async () => {
    const stateDir = fresh();
    const ca = await CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir });
    expect(await readFile(join(stateDir, 'ca', 'root.crt'), 'utf8')).toBe(ca.trustBundlePem());
    const { stat } = await import('node:fs/promises');
    expect((await stat(join(stateDir, 'ca', 'root.key'))).mode & 0o777).toBe(0o600);
  });

  it('restart mid-rotation keeps both roots; after finishing, only the new one', async () => {
    const stateDir = fresh();
    const ca = await CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir });
    const oldFp = ca.activeRoot.fingerprint;
    const next = await ca.beginRootRotation();
    const restarted = await CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir });
    expect(restarted.activeRoot.fingerprint).toBe(next.fingerprint);
    expect(restarted.retiringRoot?.fingerprint).toBe(oldFp);
    expect(restarted.trustBundlePem().match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    await restarted.finishRootRotation();
    const again = await CertificateAuthority.open({ trustDomain: 'cluster.local', stateDir });
    expect(again.retiringRoot).toBeUndefined();
    expect(again.activeRoot.fingerprint).toBe(next.fingerprint);
  });
});

describe('operator-supplied root', () => {
  it('an openssl-made root (no keyUsage) is stored and chains leaves that openssl verifies', async () => {
    const root = await opensslRoot(dir.path, 'corp-root');
    const stateDir = fresh();
    const ca = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir, operatorRoot: root });
    const leaf = ca.issue({ namespace: 'pay', serviceAccount: 'api' });
    const files = await writeFiles(dir.path, { 'corp-leaf.pem': leaf.certificatePem });
    expect((await openssl(['verify', '-CAfile', root.certFile, files['corp-leaf.pem']!])).stdout).toContain(': OK');
    // Restarting with the same operator root is fine.
    await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir, operatorRoot: root });
  });

  it('an openssl-made P-384 root signs with ecdsa-with-SHA384', async () => {
    const root = await opensslRoot(dir.path, 'p384-root', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']);
    const ca = await CertificateAuthority.open({ trustDomain: 'corp.example', stateDir: fresh(), operatorRoot: root });
    const files = await writeFiles(dir.path, { 'p384-leaf.pem': ca.issue({ namespace: 'a', serviceAccount: 'b' }).certificatePem });
    expect((await openssl(['verify', '-CAfile', root.certFile, files['p384-leaf.pem']!])).stdout).toContain(': OK');
  });
});

interface BadCase {
  name: string;
  code: CaErrorCode;
  /** Returns the operator root files to start with, or prepares the state dir. */
  setup: (stateDir: string) => Promise<{ certFile: string; keyFile: string } | undefined>;
  /** A path the message must name. */
  mentions?: (stateDir: string) => string;
}

async function generatedFiles(name: string, now: number, lifetimeMs?: number): Promise<{ certFile: string; keyFile: string }> {
  const r = generateRoot({ trustDomain: 'td', now, lifetimeMs });
  const f = await writeFiles(dir.path, { [`${name}.crt`]: r.certificatePem, [`${name}.key`]: r.keyPem });
  return { certFile: f[`${name}.crt`]!, keyFile: f[`${name}.key`]! };
}

const badCases: BadCase[] = [
  {
    name: 'malformed PEM in the certificate file',
    code: 'malformed-pem',
    setup: async () => {
      const good = await generatedFiles('m1', Date.now());
      await writeFile(good.certFile, '-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n');
      return good;
    },
    mentions: () => join(dir.path, 'm1.crt'),
  },
  {
    name: 'truncated certificate',
    code: 'malformed-pem',
    setup: async () => {
      const good = await generatedFiles('m2', Date.now());
      const pem = await readFile(good.certFile, 'utf8');
      await writeFile(good.certFile, pem.split('\n').slice(0, 4).join('\n') + '\n-----END CERTIFICATE-----\n');
      return good;
    },
  },
  {
    name: 'key file holds a certificate',
    code: 'malformed-pem',
    setup: async () => {
      const good = await generatedFiles('m3', Date.now());
      await writeFile(good.keyFile, await readFile(good.certFile, 'utf8'));
      return good;
    },
    mentions: () => join(dir.path, 'm3.key'),
  },
  {
    name: 'encrypted key',
    code: 'malformed-pem',
    setup: async () => {
      const root = await opensslRoot(dir.path, 'enc');
      const keyFile = `${root.keyFile}.enc`;
      const r = await openssl(['pkey', '-in', root.keyFile, '-aes256', '-passout', 'pass:secret', '-out', keyFile]);
      expect(r.code, r.stderr).toBe(0);
      return { certFile: root.certFile, keyFile };
    },
  },
  { name: 'expired root', code: 'expired', setup: () => generatedFiles('expired', Date.now() - 20 * DAY, 10 * DAY) },
  { name: 'root not yet valid (clock skew)', code: 'clock-skew', setup: () => generatedFiles('future', Date.now() + 2 * DAY) },
  {
    name: 'root without the CA flag',
    code: 'not-a-ca',
    setup: () => opensslRoot(dir.path, 'noca', ['-addext', 'basicConstraints=critical,CA:FALSE']),
  },
  {
    name: 'root whose keyUsage lacks keyCertSign',
    code: 'not-a-ca',
    setup: () => opensslRoot(dir.path, 'nocertsign', ['-addext', 'keyUsage=critical,digitalSignature']),
  },
  {
    name: 'key that does not match the certificate',
    code: 'key-mismatch',
    setup: async () => {
      const a = await generatedFiles('mis-a', Date.now());
      const b = await generatedFiles('mis-b', Date.now());
      return { certFile: a.certFile, keyFile: b.keyFile };
    },
  },
  {
    name: 'intermediate CA without its chain',
    code: 'chain-incomplete',
    setup: async () => {
      const top = await opensslRoot(dir.path, 'top');
      const mid = await opensslRoot(dir.path, 'mid', ['-CA', top.certFile, '-CAkey', top.keyFile]);
      return mid;
    },
  },
  { name: 'Ed25519 root key', code: 'unsupported-key', setup: () => opensslRoot(dir.path, 'ed', ['-newkey', 'ed25519']) },
  {
    name: 'missing root file',
    code: 'invalid-config',
    setup: async () => ({ certFile: join(dir.path, 'nope.crt'), keyFile: join(dir.path, 'nope.key') }),
  },
  {
    name: 'state dir: root.crt corrupt',
    code: 'corrupt-state',
    setup: async (stateDir) => {
      await CertificateAuthority.open({ trustDomain: 'td', stateDir });
      await writeFile(join(stateDir, 'ca', 'root.crt'), 'garbage');
      return undefined;
    },
    mentions: (stateDir) => join(stateDir, 'ca', 'root.crt'),
  },
  {
    name: 'state dir: root.key missing',
    code: 'corrupt-state',
    setup: async (stateDir) => {
      await CertificateAuthority.open({ trustDomain: 'td', stateDir });
      await rm(join(stateDir, 'ca', 'root.key'));
      return undefined;
    },
    mentions: (stateDir) => join(stateDir, 'ca', 'root.key'),
  },
  {
    name: 'state dir: root.key replaced by another key',
    code: 'corrupt-state',
    setup: async (stateDir) => {
      await CertificateAuthority.open({ trustDomain: 'td', stateDir });
      await writeFile(join(stateDir, 'ca', 'root.key'), generateRoot({ trustDomain: 'td', now: Date.now() }).keyPem, { mode: 0o600 });
      return undefined;
    },
  },
  {
    name: 'state dir: ca is a file',
    code: 'corrupt-state',
    setup: async (stateDir) => {
      await mkdir(stateDir, { recursive: true });
      await writeFile(join(stateDir, 'ca'), 'x');
      return undefined;
    },
  },
  {
    name: 'state dir: root.key readable by others',
    code: 'insecure-key-file',
    setup: async (stateDir) => {
      await CertificateAuthority.open({ trustDomain: 'td', stateDir });
      await chmod(join(stateDir, 'ca', 'root.key'), 0o644);
      return undefined;
    },
    mentions: (stateDir) => join(stateDir, 'ca', 'root.key'),
  },
  {
    name: 'operator root differs from the stored root',
    code: 'root-conflict',
    setup: async (stateDir) => {
      await CertificateAuthority.open({ trustDomain: 'td', stateDir });
      return generatedFiles('other', Date.now());
    },
  },
];

describe('refuses to start, saying what and how to fix', () => {
  for (const c of badCases) {
    it(c.name, async () => {
      const stateDir = fresh();
      const operatorRoot = await c.setup(stateDir);
      const err = await refusal(CertificateAuthority.open({ trustDomain: 'td', stateDir, operatorRoot }));
      expect(err.code).toBe(c.code);
      expect(err.message).toContain('To fix:');
      expect(err.fix.length).toBeGreaterThan(10);
      if (c.mentions) expect(err.message).toContain(c.mentions(stateDir));
    });
  }

  it('an invalid trust domain', async () => {
    expect((await refusal(CertificateAuthority.open({ trustDomain: 'Bad Domain', stateDir: fresh() }))).code).toBe('invalid-config');
  });
});
