// Issue 15: the trellis-ca Secret may hold an operator's intermediate with its chain (as the state dir's root.crt does).
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opensslIntermediate, opensslRoot, tempDir } from '../ca/testkit.ts';
import { rootOfSecret } from './ca-secret.ts';

let dir: { path: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  dir = await tempDir('trellis-ca-secret-');
});
afterAll(() => dir.cleanup());

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('rootOfSecret', () => {
  it('an intermediate, its chain and the root in root.crt: the root (what caBundles hold), expiring with the first certificate of the path', async () => {
    const root = await opensslRoot(dir.path, 'root');
    const mid = await opensslIntermediate(dir.path, 'mid', root, { days: 3 });
    const [rootPem, midPem] = await Promise.all([readFile(root.certFile, 'utf8'), readFile(mid.certFile, 'utf8')]);
    const secret = { data: { 'root.crt': b64(midPem + rootPem), 'root.key': b64(await readFile(mid.keyFile, 'utf8')), 'token-signing.key': b64('k') } };
    const got = rootOfSecret(secret);
    if (typeof got === 'string') throw new Error(got);
    expect(got.fingerprint).toBe(new X509Certificate(rootPem).fingerprint256);
    expect(got.notAfter).toBe(Date.parse(new X509Certificate(midPem).validTo));
    // Without the root the chain does not reach one: unusable, and said why.
    expect(rootOfSecret({ data: { ...secret.data, 'root.crt': b64(midPem) } })).toMatch(/does not reach a root/);
  });
});
