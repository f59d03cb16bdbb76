import { CryptoError } from './crypto-error';

/**
 * A Map with a size bound (least recently used evicted first) and a time to live per entry.
 * Unwrapped data keys live here, so both bounds are deliberate: a key stays in memory for at
 * most `ttlSeconds` after it was loaded, and there are never more than `entriesMax` of them.
 */
export class BoundedTtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAtMs: number }>();

  constructor(
    private readonly entriesMax: number,
    private readonly ttlSeconds: number,
    private readonly nowMs: () => number = Date.now,
  ) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1)
      throw CryptoError.invalidInput('entriesMax must be a positive integer');
    if (!(ttlSeconds > 0)) throw CryptoError.invalidInput('ttlSeconds must be positive');
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= this.nowMs()) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-insert: Map iteration order is insertion order, so the first key is the least recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAtMs: this.nowMs() + this.ttlSeconds * 1000 });
    while (this.entries.size > this.entriesMax) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
