/** A data-encryption key as stored: only ever wrapped by the KEK (never the raw key). */
export interface StoredDataKey {
  id: string;
  /** `tenant:<id>` or `tenant:<id>/customer:<id>` (seed 003: separate keys per customer). */
  scope: string;
  /** 1, 2, ... per scope; the highest non-retired version encrypts new data. */
  version: number;
  /** The DEK encrypted by the KEK in the secrets provider's transit (`vault:v3:...`). */
  wrappedKey: string;
  kekVersion: number;
  createdAt: Date;
  /** Set when a newer version took over new writes; a retired key still decrypts. */
  retiredAt: Date | null;
}

export interface DataKeyRepository {
  findById(id: string): Promise<StoredDataKey | null>;
  /** The highest-version non-retired key of the scope. */
  findActive(scope: string): Promise<StoredDataKey | null>;
  /**
   * Inserts `key` and retires the scope's older keys, atomically. False (and no change) when the
   * scope already has a key with that version: another writer rotated first.
   */
  insertActive(key: StoredDataKey): Promise<boolean>;
  /** Compare-and-set on the wrapping: false when another rewrap changed it first. */
  updateWrapping(id: string, expectedWrappedKey: string, wrappedKey: string, kekVersion: number): Promise<boolean>;
  /** Keys ordered by id after `afterId`, at most `limit` (for batch rewrapping). */
  listPage(afterId: string | null, limit: number): Promise<StoredDataKey[]>;
}

/** For unit tests and single-process tools. */
export class InMemoryDataKeyRepository implements DataKeyRepository {
  private readonly keys = new Map<string, StoredDataKey>();

  async findById(id: string): Promise<StoredDataKey | null> {
    const key = this.keys.get(id);
    return key === undefined ? null : { ...key };
  }

  async findActive(scope: string): Promise<StoredDataKey | null> {
    const active = [...this.keys.values()]
      .filter((k) => k.scope === scope && k.retiredAt === null)
      .sort((a, b) => b.version - a.version)[0];
    return active === undefined ? null : { ...active };
  }

  async insertActive(key: StoredDataKey): Promise<boolean> {
    const scoped = [...this.keys.values()].filter((k) => k.scope === key.scope);
    if (scoped.some((k) => k.version === key.version)) return false;
    for (const older of scoped)
      if (older.version < key.version && older.retiredAt === null) older.retiredAt = key.createdAt;
    this.keys.set(key.id, { ...key });
    return true;
  }

  async updateWrapping(
    id: string,
    expectedWrappedKey: string,
    wrappedKey: string,
    kekVersion: number,
  ): Promise<boolean> {
    const key = this.keys.get(id);
    if (key === undefined || key.wrappedKey !== expectedWrappedKey) return false;
    key.wrappedKey = wrappedKey;
    key.kekVersion = kekVersion;
    return true;
  }

  async listPage(afterId: string | null, limit: number): Promise<StoredDataKey[]> {
    return [...this.keys.values()]
      .filter((k) => afterId === null || k.id > afterId)
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .slice(0, limit)
      .map((k) => ({ ...k }));
  }
}
