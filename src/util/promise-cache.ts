/**
 * Memoised asynchronous loads: callers asking for the same key share one load, a load that fails is
 * forgotten (the next call loads again), and beyond `limit` entries the oldest one is dropped.
 * `PromiseCache.weak()` keys by object and keeps an entry only as long as its key lives.
 */
export class PromiseCache<K, V> {
  private constructor(
    private readonly entries: Map<K, Promise<V>> | (K extends object ? WeakMap<K, Promise<V>> : never),
    private readonly limit: number,
  ) {}

  /** At most `limit` entries (oldest out first). */
  static bounded<K, V>(limit: number): PromiseCache<K, V> {
    return new PromiseCache<K, V>(new Map<K, Promise<V>>(), limit);
  }

  /** One entry per live key object, for as long as it lives. */
  static weak<K extends object, V>(): PromiseCache<K, V> {
    return new PromiseCache<K, V>(new WeakMap<K, Promise<V>>() as K extends object ? WeakMap<K, Promise<V>> : never, Number.POSITIVE_INFINITY);
  }

  get(key: K, load: () => Promise<V>): Promise<V> {
    const entries = this.entries as Map<K, Promise<V>>;
    let entry = entries.get(key);
    if (!entry) {
      entry = load();
      entries.set(key, entry);
      const loaded = entry;
      // A failed load must not stick; only this load's entry goes (a newer one may have replaced it).
      loaded.catch(() => {
        if (entries.get(key) === loaded) entries.delete(key);
      });
      if (this.entries instanceof Map) {
        while (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as K);
      }
    }
    return entry;
  }
}
