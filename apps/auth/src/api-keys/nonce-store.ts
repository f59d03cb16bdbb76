import { PlatformError } from '@strongroom/platform';

/**
 * Nonces of signed requests, remembered per key until the request's timestamp leaves the skew
 * window (after which the timestamp alone refuses a replay). The service backs it with a
 * Postgres table (`INSERT … ON CONFLICT DO NOTHING`, expired rows deleted in batches, DESIGN
 * "Growth stays bounded"); this in-process store is for tests and one-off tools.
 */
export interface NonceStore {
  /** True the first time (keyId, nonce) is seen before `expiresAt`; false for a replay. Atomic. */
  rememberOnce(keyId: string, nonce: string, expiresAt: Date): Promise<boolean>;
}

export interface InMemoryNonceStoreOptions {
  /** A full store refuses (503) rather than forget: forgetting a live nonce would allow a replay. */
  entriesMax: number;
  now?: () => Date;
}

export class InMemoryNonceStore implements NonceStore {
  private readonly expiresAtMsByEntry = new Map<string, number>();
  private readonly now: () => Date;

  constructor(private readonly options: InMemoryNonceStoreOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async rememberOnce(keyId: string, nonce: string, expiresAt: Date): Promise<boolean> {
    const nowMs = this.now().getTime();
    // NUL cannot occur in a keyId or a base64url nonce: the pair is unambiguous.
    const entry = `${keyId}\0${nonce}`;
    const knownUntilMs = this.expiresAtMsByEntry.get(entry);
    if (knownUntilMs !== undefined && knownUntilMs > nowMs) return false;
    if (this.expiresAtMsByEntry.size >= this.options.entriesMax) this.sweep(nowMs);
    if (this.expiresAtMsByEntry.size >= this.options.entriesMax) {
      throw PlatformError.unavailable('The nonce store is full', { entriesMax: this.options.entriesMax });
    }
    this.expiresAtMsByEntry.set(entry, expiresAt.getTime());
    return true;
  }

  get size(): number {
    return this.expiresAtMsByEntry.size;
  }

  private sweep(nowMs: number): void {
    for (const [entry, expiresAtMs] of this.expiresAtMsByEntry) {
      if (expiresAtMs <= nowMs) this.expiresAtMsByEntry.delete(entry);
    }
  }
}
