export interface ReadThroughCacheOptions<V> {
  /** A value is served at most this long after its read began; 0 turns the cache off. */
  ttlMs: number;
  /** Bounds memory: past it, the oldest entry goes. */
  entriesMax: number;
  /** Whether a value read may be kept (e.g. not an absent row, so a new one is seen at once). */
  cacheable?: (value: V) => boolean;
  /** Milliseconds of a monotonic clock (tests move it by hand). */
  nowMs?: () => number;
}

interface Entry<V> {
  readAtMs: number;
  value: Promise<V>;
  resolved?: { value: V };
}

/**
 * Values read from elsewhere (a database row, another service's answer), each served for at most
 * `ttlMs` after its read began. Concurrent lookups of one key share one read; a failed read or a
 * value `cacheable` refuses is never kept.
 */
export class ReadThroughCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  private readonly nowMs: () => number;

  constructor(private readonly options: ReadThroughCacheOptions<V>) {
    if (!(options.ttlMs >= 0)) throw new RangeError(`ttlMs must be 0 or more, got ${options.ttlMs}`);
    if (!Number.isInteger(options.entriesMax) || options.entriesMax < 1)
      throw new RangeError(`entriesMax must be a positive integer, got ${options.entriesMax}`);
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  get(key: K, read: () => Promise<V>): Promise<V> {
    if (this.options.ttlMs === 0) return read();
    const nowMs = this.nowMs();
    const entry = this.entries.get(key);
    if (entry !== undefined && nowMs - entry.readAtMs < this.options.ttlMs) return entry.value;
    this.entries.delete(key);
    // Map order is insertion order: the first key is the oldest read.
    if (this.entries.size >= this.options.entriesMax) this.entries.delete(this.entries.keys().next().value as K);
    const fresh: Entry<V> = { readAtMs: nowMs, value: read() };
    this.entries.set(key, fresh);
    const forget = () => {
      if (this.entries.get(key) === fresh) this.entries.delete(key);
    };
    fresh.value.then((value) => {
      if (this.options.cacheable !== undefined && !this.options.cacheable(value)) forget();
      else fresh.resolved = { value };
    }, forget);
    return fresh.value;
  }

  /** The value already read and still fresh, without reading. */
  peek(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || this.nowMs() - entry.readAtMs >= this.options.ttlMs) return undefined;
    return entry.resolved?.value;
  }

  forget(key: K): void {
    this.entries.delete(key);
  }
}
