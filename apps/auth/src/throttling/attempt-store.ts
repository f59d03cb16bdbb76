/**
 * Timestamped events per key (an account, an IP range), queried by time window. The service
 * backs it with rate-limiter-flexible on Postgres (RateLimiterPostgres) so the limits hold
 * across every replica of the auth service; this in-process store is for tests and one-off tools.
 */
export interface AttemptStore {
  record(key: string, at: Date): Promise<void>;
  /** Events of `key` at or after `since`. */
  countSince(key: string, since: Date): Promise<number>;
  /** The earliest event of `key` at or after `since`, or null: tells when a window frees a slot. */
  oldestSince(key: string, since: Date): Promise<Date | null>;
  /** The latest event of `key`, or null. */
  latest(key: string): Promise<Date | null>;
  clear(key: string): Promise<void>;
}

export interface InMemoryAttemptStoreOptions {
  /** Events older than this are dropped: no window of the policy looks further back. */
  retentionSeconds: number;
  /** Per key; an attacker hammering one key cannot grow memory without bound. */
  eventsPerKeyMax: number;
  keysMax: number;
}

export class InMemoryAttemptStore implements AttemptStore {
  private readonly events = new Map<string, number[]>();

  constructor(private readonly options: InMemoryAttemptStoreOptions) {}

  async record(key: string, at: Date): Promise<void> {
    const kept = this.live(key, at.getTime());
    kept.push(at.getTime());
    kept.sort((a, b) => a - b);
    // Keep the newest: counts saturate at the cap, which is far above every threshold.
    if (kept.length > this.options.eventsPerKeyMax) kept.splice(0, kept.length - this.options.eventsPerKeyMax);
    this.events.delete(key);
    this.events.set(key, kept);
    // Map keeps insertion order, so the first key is the least recently written one.
    while (this.events.size > this.options.keysMax) {
      const oldest = this.events.keys().next().value;
      if (oldest === undefined) break;
      this.events.delete(oldest);
    }
  }

  async countSince(key: string, since: Date): Promise<number> {
    return (this.events.get(key) ?? []).filter((at) => at >= since.getTime()).length;
  }

  async oldestSince(key: string, since: Date): Promise<Date | null> {
    const at = (this.events.get(key) ?? []).find((time) => time >= since.getTime());
    return at === undefined ? null : new Date(at);
  }

  async latest(key: string): Promise<Date | null> {
    const times = this.events.get(key) ?? [];
    const at = times[times.length - 1];
    return at === undefined ? null : new Date(at);
  }

  async clear(key: string): Promise<void> {
    this.events.delete(key);
  }

  private live(key: string, nowMs: number): number[] {
    const horizon = nowMs - this.options.retentionSeconds * 1000;
    return (this.events.get(key) ?? []).filter((at) => at >= horizon);
  }
}
