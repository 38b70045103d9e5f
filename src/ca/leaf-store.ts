/**
 * Workload certificates kept across restarts (issue 14): without them every
 * start signed a new certificate for every identity before the xDS port
 * opened — 10,000 identities were ~10 s of one core (key generation, DER,
 * key export), on the path of every sidecar waiting to reconnect — and
 * every sidecar then received a secret it did not need.
 *
 * `<stateDir>/leaves/workloads.json` (0600, in a 0700 dir, written whole by
 * rename) holds each identity's current certificate with its key, next to
 * the CA key that could sign any of them, so it exposes nothing the state
 * dir did not. It is a cache, never a source of trust: on load a leaf is
 * taken only if it is a workload certificate of this trust domain, signed
 * by a CA in use now (active or retiring), and not expired; the renewal
 * policy then treats it like one issued in this run (rotation.ts). An
 * unreadable or foreign file is ignored with a warning: those identities
 * are simply issued again.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { parseSpiffeId } from '../identity/spiffe.ts';
import { makeDir, writeFileAtomic } from './files.ts';
import { IssuedCertificate } from './issued.ts';
import type { CertificateInventory } from './inventory.ts';

const FORMAT = 'trellis-workload-leaves/v1';

interface StoredLeaf {
  spiffeId: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  issuedAt: number;
  issuerFingerprint: string;
  certificatePem: string;
  chainPem: string;
  privateKeyPem: string;
}

/** What the store needs of the authority: where leaves go, and which issuers count. */
export interface LeafOwner {
  readonly trustDomain: string;
  readonly inventory: CertificateInventory;
  /** Fingerprints of the CAs whose leaves are still current (active, retiring). */
  issuerFingerprints(): readonly string[];
}

export class LeafStore {
  readonly file: string;
  /** The inventory and generation last written (or loaded): nothing to write while they hold. */
  private saved?: { inventory: CertificateInventory; generation: number };
  private writing?: Promise<void>;
  /** When this run last wrote the file (0: never). */
  private writtenAt = 0;

  constructor(
    stateDir: string,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.file = path.join(stateDir, 'leaves', 'workloads.json');
  }

  /** When this run last wrote the file (ms; 0 if it has not). */
  get lastWriteAt(): number {
    return this.writtenAt;
  }

  /** Records the stored leaves that are still good into `owner`'s inventory; returns how many. */
  async restore(owner: LeafOwner): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ file: this.file, err: errorMessage(err) }, 'cannot read the stored workload certificates; issuing new ones');
      return 0;
    }
    let leaves: unknown[];
    try {
      const doc = JSON.parse(text) as { format?: unknown; leaves?: unknown };
      if (doc.format !== FORMAT || !Array.isArray(doc.leaves)) throw new Error(`not a ${FORMAT} file`);
      leaves = doc.leaves;
    } catch (err) {
      this.log.warn({ file: this.file, err: errorMessage(err) }, 'the stored workload certificates are unreadable; issuing new ones');
      return 0;
    }
    const issuers = new Set(owner.issuerFingerprints());
    const now = this.clock();
    let restored = 0;
    for (const raw of leaves) {
      const leaf = asLeaf(raw);
      if (!leaf || leaf.notAfter <= now || !issuers.has(leaf.issuerFingerprint)) continue;
      if (parseSpiffeId(leaf.spiffeId)?.trustDomain !== owner.trustDomain) continue;
      // A newer certificate of the identity (issued in this run) wins.
      const held = owner.inventory.latest(leaf.spiffeId);
      if (held && held.issuedAt >= leaf.issuedAt) continue;
      owner.inventory.record(new IssuedCertificate({ kind: 'workload', dnsNames: [], ipAddresses: [], ...leaf }));
      restored++;
    }
    this.saved = { inventory: owner.inventory, generation: owner.inventory.generation };
    return restored;
  }

  /**
   * Writes the inventory's workload certificates if they changed since the
   * last write: the unexpired ones of identities `inUse` accepts (default
   * all). Without that filter a restored identity that left the mesh would be
   * written back, and renewed, at every restart forever.
   */
  save(inventory: CertificateInventory, inUse: (spiffeId: string) => boolean = () => true, now = this.clock()): Promise<void> {
    const generation = inventory.generation;
    if (this.saved?.inventory === inventory && this.saved.generation === generation) return this.writing ?? Promise.resolve();
    this.saved = { inventory, generation };
    const leaves: StoredLeaf[] = [];
    this.writtenAt = now;
    for (const c of inventory.all()) {
      if (c.kind !== 'workload' || c.spiffeId === undefined || c.notAfter <= now || !inUse(c.spiffeId)) continue;
      leaves.push({
        spiffeId: c.spiffeId,
        serial: c.serial,
        notBefore: c.notBefore,
        notAfter: c.notAfter,
        issuedAt: c.issuedAt,
        issuerFingerprint: c.issuerFingerprint,
        certificatePem: c.certificatePem,
        chainPem: c.chainPem,
        privateKeyPem: c.privateKeyPem,
      });
    }
    const text = JSON.stringify({ format: FORMAT, leaves });
    // One write at a time, in order: a later inventory never lands under an earlier one.
    const write = (this.writing ?? Promise.resolve()).then(async () => {
      await makeDir(path.dirname(this.file));
      await writeFileAtomic(this.file, text, 0o600);
    });
    this.writing = write.catch((err: unknown) => {
      this.saved = undefined; // try again at the next save
      this.log.warn({ file: this.file, err: errorMessage(err) }, 'cannot store the workload certificates; a restart will issue them again');
    });
    return this.writing;
  }
}

/**
 * Renewals trickle in all day (each identity at ~2/3 of its lifetime, spread
 * by jitter), and the file holds every identity (~1.3 KB each, 13 MB at
 * 10,000): written at each change it would be rewritten every few seconds
 * for hours. So the periodic save writes at most this often after the first
 * write of a run (the bulk of a first start's issuance); close() writes
 * whatever is left. A crash loses at most this much renewal, which the next
 * start simply issues again.
 */
export const LEAF_REWRITE_GAP_MS = 5 * 60_000;

/** The periodic save: the first change at once, then at most every LEAF_REWRITE_GAP_MS. */
export function saveIfDue(store: LeafStore, inventory: CertificateInventory, inUse: (spiffeId: string) => boolean, now: number): Promise<void> | undefined {
  if (store.lastWriteAt > 0 && now - store.lastWriteAt < LEAF_REWRITE_GAP_MS) return undefined;
  return store.save(inventory, inUse, now);
}

function asLeaf(raw: unknown): StoredLeaf | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  const strings = ['spiffeId', 'serial', 'issuerFingerprint', 'certificatePem', 'chainPem', 'privateKeyPem'] as const;
  const numbers = ['notBefore', 'notAfter', 'issuedAt'] as const;
  if (!strings.every((k) => typeof r[k] === 'string') || !numbers.every((k) => Number.isFinite(r[k]))) return undefined;
  return r as unknown as StoredLeaf;
}
