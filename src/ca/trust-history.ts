/**
 * What a state dir remembers, outside `ca/`, of the roots it held: so that a
 * lost `ca/` is refused loudly instead of silently replaced by a new root.
 *
 * Why it matters: every bootstrap written from this state dir trusts only the
 * root that was in `ca/` then. A Trellis that makes a new root in its place
 * serves the xDS port with a certificate no existing proxy accepts; they keep
 * their last config and certificates, and the mesh dies when those expire
 * (24 h by default), with /readyz 200 all along (issue 16 bug 10).
 *
 * Evidence that `ca/` held a root before (either suffices):
 *  - `<state-dir>/trust-anchor.json`, written each time a root is stored
 *    (first start, rotation): {"fingerprint", "storedAt"} of the active root;
 *  - `<state-dir>/tokens/signing.key`: bootstrap tokens were issued from this
 *    state dir (so proxies were bootstrapped), which also covers state dirs
 *    written before the marker existed.
 * A first start writes neither before its root is committed, so a crash in
 * the middle of it is not mistaken for a lost root. A state dir lost as a
 * whole leaves no evidence here; docs/security.md says how to notice that.
 */
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { CaError } from './errors.ts';
import { pemBlocks } from './encoding.ts';
import { exists, readOptional, writeFileAtomic } from './files.ts';
import type { CaStore } from './store.ts';
import { tokenKeyPath } from './token-key.ts';

export function trustAnchorPath(stateDir: string): string {
  return join(stateDir, 'trust-anchor.json');
}

/**
 * Records the root of `pathPem` (the stored form, chain.ts: the signing CA
 * first, its root last) as the root the state dir's proxies trust.
 */
export async function recordTrustAnchor(stateDir: string, pathPem: string, now = Date.now()): Promise<void> {
  const root = pemBlocks(pathPem).filter((b) => b.label === 'CERTIFICATE').at(-1);
  if (!root) throw new Error('recordTrustAnchor: no certificate to record');
  const record = { fingerprint: new X509Certificate(root.der).fingerprint256, storedAt: new Date(now).toISOString() };
  await writeFileAtomic(trustAnchorPath(stateDir), `${JSON.stringify(record)}\n`, 0o644);
}

/**
 * Why the state dir must have held a root, as a clause for the operator
 * ("<file> records root AB:CD… stored on …"), or undefined if nothing says so.
 */
export async function previousRootEvidence(stateDir: string): Promise<string | undefined> {
  const marker = trustAnchorPath(stateDir);
  const text = await readOptional(marker);
  if (text !== undefined) {
    let record: { fingerprint?: unknown; storedAt?: unknown } = {};
    try {
      record = JSON.parse(text) as typeof record;
    } catch {
      // A damaged marker is still a marker: the root it names is what is lost.
    }
    const which = typeof record.fingerprint === 'string' ? `root ${record.fingerprint}` : 'a root';
    const when = typeof record.storedAt === 'string' ? ` stored on ${record.storedAt}` : '';
    return `${marker} records ${which}${when}`;
  }
  const tokenKey = tokenKeyPath(stateDir);
  if (await exists(tokenKey)) return `${tokenKey} exists, so bootstrap tokens were issued from this state dir`;
  return undefined;
}

/**
 * Called with no root stored, before storing one: throws CaError 'root-lost'
 * if the state dir held a root before, unless `allowed` (--new-ca). Returns
 * the evidence when a lost root is being replaced on purpose.
 */
export async function refuseLostRoot(store: Pick<CaStore, 'previousRootEvidence'> & { dir?: string }, allowed: boolean): Promise<string | undefined> {
  const evidence = await store.previousRootEvidence?.();
  if (evidence === undefined || allowed) return evidence;
  const caDir = store.dir ?? 'the CA state';
  throw new CaError('root-lost',
    `${caDir} holds no root CA, but this state dir had one (${evidence}). Every proxy bootstrapped from it trusts only that root: a new root would cut them all off, silently, when their certificates expire`,
    `restore ${caDir} from a backup (docs/security.md, "Lost CA state"); if the root is gone for good, start \`trellis serve --new-ca\` to create a new root on purpose, then re-bootstrap every proxy`);
}
