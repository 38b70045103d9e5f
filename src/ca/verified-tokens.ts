/**
 * Workload tokens whose signature this Trellis has already checked
 * (issue 14): a token is presented again at every reconnect of its sidecar
 * (until it expires, token.ts), and after a restart every sidecar presents
 * it again at once. The ES256 check was ~0.1–0.15 ms of the ~0.8 ms a
 * reconnecting sidecar cost the server at 10,000; a lookup here is one HMAC.
 *
 * Only the signature check is skipped. Everything else about the token is
 * checked at every use as before: its key id is one this Trellis accepts now
 * (a retired key voids its tokens), its expiry, audience, trust domain and
 * node binding (token.ts #checkClaims).
 *
 * An entry is HMAC-SHA-256(token) under a key derived from the token signing
 * key, so it says "a process holding the signing key checked this exact
 * token". The file `<stateDir>/tokens/verified.json` (0600, written whole by
 * rename, next to the signing key) is therefore a cache, never a source of
 * trust: an entry written by anyone without the signing key matches no
 * token, an entry made under a replaced signing key matches nothing, and the
 * entries reveal nothing about the tokens. An unreadable or foreign file is
 * ignored with a warning: those tokens are simply checked again.
 */
import { createHash, createHmac, type KeyObject } from 'node:crypto';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { makeDir, readOptional, writeFileAtomic } from './files.ts';

const FORMAT = 'trellis-verified-tokens/v1';
/** Bounds memory and the file (~60 bytes an entry): ten times the 10,000 sidecars the restart is measured at. */
export const MAX_VERIFIED_TOKENS = 100_000;

const RETRY_AFTER_FAILURE_MS = 60_000;

export class VerifiedTokens {
  readonly #macKey: Buffer;
  readonly #clock: () => number;
  readonly #max: number;
  /** MAC of the token → its exp (ms); insertion order is age, the oldest go first past the bound. */
  readonly #entries = new Map<string, number>();
  #generation = 0;
  #savedGeneration = 0;
  #writing?: Promise<void>;
  /** After a failed write (a full disk), none before this moment: one warning a minute, not one per 2 s save. */
  #retryAt = 0;

  constructor(signingKey: KeyObject, opts: { clock?: () => number; maxEntries?: number } = {}) {
    // Derived, not the key itself: the MAC key is only ever used for this.
    this.#macKey = createHash('sha256').update(`${FORMAT}\n`).update(signingKey.export({ type: 'pkcs8', format: 'der' })).digest();
    this.#clock = opts.clock ?? Date.now;
    this.#max = opts.maxEntries ?? MAX_VERIFIED_TOKENS;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The token's MAC: what has() and add() take (one HMAC per stream, shared by both). */
  mac(token: string): string {
    return createHmac('sha256', this.#macKey).update(token).digest('base64url');
  }

  /** Whether the token with this MAC had a valid signature. */
  has(mac: string): boolean {
    return this.#entries.has(mac);
  }

  /** Records a token whose signature was just checked; `expMs` lets save() drop it once it expires. */
  add(mac: string, expMs: number): void {
    if (this.#entries.has(mac)) return;
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(mac, expMs);
    this.#generation++;
  }

  /** Adds the unexpired entries of `file`; returns how many. */
  async restore(file: string, log: Logger): Promise<number> {
    let text: string | undefined;
    try {
      text = await readOptional(file);
    } catch (err) {
      log.warn({ file, err: errorMessage(err) }, 'cannot read the verified tokens; their signatures are checked again');
      return 0;
    }
    if (text === undefined) return 0;
    let entries: unknown;
    try {
      const doc = JSON.parse(text) as { format?: unknown; entries?: unknown };
      if (doc.format !== FORMAT || !Array.isArray(doc.entries)) throw new Error(`not a ${FORMAT} file`);
      entries = doc.entries;
    } catch (err) {
      log.warn({ file, err: errorMessage(err) }, 'the verified tokens file is unreadable; their signatures are checked again');
      return 0;
    }
    const now = this.#clock();
    const before = this.#entries.size;
    for (const e of entries as unknown[]) {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number' || e[1] <= now) continue;
      if (this.#entries.size >= this.#max) break;
      this.#entries.set(e[0], e[1]);
    }
    this.#savedGeneration = this.#generation;
    return this.#entries.size - before;
  }

  /** Writes the unexpired entries if any were added since the last write. */
  save(file: string, log: Logger): Promise<void> {
    const now = this.#clock();
    if (this.#generation === this.#savedGeneration || now < this.#retryAt) return this.#writing ?? Promise.resolve();
    this.#savedGeneration = this.#generation;
    const entries: Array<[string, number]> = [];
    for (const [mac, exp] of this.#entries) {
      if (exp > now) entries.push([mac, exp]);
      else this.#entries.delete(mac);
    }
    const text = JSON.stringify({ format: FORMAT, entries });
    // One write at a time, in order: a later set never lands under an earlier one.
    this.#writing = (this.#writing ?? Promise.resolve())
      .then(async () => {
        await makeDir(path.dirname(file));
        await writeFileAtomic(file, text, 0o600);
      })
      .catch((err: unknown) => {
        this.#savedGeneration = -1; // try again, a minute from now
        this.#retryAt = this.#clock() + RETRY_AFTER_FAILURE_MS;
        log.warn({ file, err: errorMessage(err) }, 'cannot store the verified tokens; a restart checks their signatures again');
      });
    return this.#writing;
  }
}

export function verifiedTokensPath(stateDir: string): string {
  return path.join(stateDir, 'tokens', 'verified.json');
}
