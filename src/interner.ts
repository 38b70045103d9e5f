/**
 * Equal values as one shared object, looked up by a key that names their
 * content. Used where many holders would otherwise each keep an equal copy:
 * encoded resources (one per content, however many snapshots hold it),
 * TypeSets (proxies with equal config share one), and stream subscriptions (a
 * thousand Envoys asking for the same thousand names share one Set).
 *
 * Entries are weak: the interner never keeps a value alive, and the entry of
 * a value the garbage collector took is removed after it, so the table is
 * bounded by what is in use, with no sweeping by hand. The caller's key must
 * determine the value completely: two values under one key are one value.
 */
export class Interner<V extends object> {
  private readonly byKey = new Map<string, WeakRef<V>>();
  /** Drops a collected value's entry, unless the key was taken since by a newer value. */
  private readonly gone = new FinalizationRegistry<string>((key) => {
    if (this.byKey.get(key)?.deref() === undefined) this.byKey.delete(key);
  });

  /** The value interned under `key`, if one is alive. */
  get(key: string): V | undefined {
    return this.byKey.get(key)?.deref();
  }

  /** The value interned under `key`; if none is alive, `make()`'s result, which becomes it. */
  intern(key: string, make: () => V): V {
    const hit = this.byKey.get(key)?.deref();
    if (hit) return hit;
    const value = make();
    this.byKey.set(key, new WeakRef(value));
    this.gone.register(value, key);
    return value;
  }

  /** Entries held, collected values whose entries are not yet removed included. */
  get size(): number {
    return this.byKey.size;
  }
}
