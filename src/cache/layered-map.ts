/**
 * A read-only map made of a shared base and a small top, with disjoint keys:
 * a thousand proxies whose cluster sets are the same 1,200 shared clusters
 * plus two of their own each hold one base and a top of two, instead of a
 * thousand copies of 1,202 entries (issue 14). Lookups try the top, then the
 * base; iteration yields the base, then the top.
 */
export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  constructor(
    readonly base: ReadonlyMap<K, V>,
    readonly top: ReadonlyMap<K, V>,
  ) {
    for (const k of top.keys()) if (base.has(k)) throw new Error(`LayeredMap: key ${String(k)} is in both layers`);
  }

  get size(): number {
    return this.base.size + this.top.size;
  }

  get(key: K): V | undefined {
    return this.top.get(key) ?? this.base.get(key);
  }

  has(key: K): boolean {
    return this.top.has(key) || this.base.has(key);
  }

  *entries(): MapIterator<[K, V]> {
    yield* this.base.entries();
    yield* this.top.entries();
  }

  *keys(): MapIterator<K> {
    yield* this.base.keys();
    yield* this.top.keys();
  }

  *values(): MapIterator<V> {
    yield* this.base.values();
    yield* this.top.values();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(f: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) f.call(thisArg, v, k, this);
  }
}
